"""The server's edge over real uvicorn and real WebSockets: the body limit on chunked uploads, the Origin
check on WebSocket handshakes and state-changing requests, tokens kept out of the log, and typed answers
when handling one message raises."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from pixelvla.wire import packb, unpackb
from pixelvla_server.config import Settings
from pixelvla_server.live import LiveServer, serve
from pixelvla_server.policy.worker import DeviceWorker
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

EVIL = "http://evil.example"
STUDIO = "http://127.0.0.1:5173"  # Settings' default studio origin


def frame(size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)


def jpeg_b64(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, models_root: Path) -> Iterator[LiveServer]:
    """The default setup the reviewer attacked: loopback, no API token, no operator token, no model."""
    data = tmp_path_factory.mktemp("open")
    settings = Settings(device="cpu", data_dir=data, models_dir=models_root, load_model=False)
    with serve(settings) as server:
        yield server


# ---- body limit --------------------------------------------------------------------------------------


def test_chunked_body_over_the_limit_is_refused_without_buffering(live: LiveServer) -> None:
    """Transfer-Encoding: chunked has no Content-Length to check: the limit holds on the bytes read."""
    limit = live.settings.max_request_bytes
    url = f"{live.url}/v1/policy/predict"
    head = json.dumps({"image_b64": jpeg_b64(frame()), "instruction": "pick"})[:-1].encode()
    assert (
        httpx.post(url, content=head + b"}", headers={"content-type": "application/json"}).status_code == 200
    )
    chunk = b" " * (1024 * 1024)
    padding = 64 * max(limit, len(chunk))  # JSON whitespace: the same request, 64 limits long

    def body() -> Iterator[bytes]:  # a generator: httpx sends it chunked, without Content-Length
        yield head
        for _ in range(padding // len(chunk)):
            yield chunk
        yield b"}"

    Path("/proc/self/clear_refs").write_text("5")  # reset this process's peak RSS (server included)
    before = _status_kb("VmHWM") * 1024
    r = httpx.post(url, content=body(), headers={"content-type": "application/json"}, timeout=120)
    grown = _status_kb("VmHWM") * 1024 - before
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "payload_too_large"
    # Buffering the body would cost at least the padding (old code: two copies of it, plus the parse).
    assert grown < padding / 4, f"peak RSS grew {grown / 2**20:.0f} MiB for {padding / 2**20:.0f} MiB sent"
    ok = httpx.post(url, content=head + b"}", headers={"content-type": "application/json"}, timeout=30)
    assert ok.status_code == 200  # the connection pool and the server are fine afterwards


# ---- Origin --------------------------------------------------------------------------------------------


def _robot(server: LiveServer) -> str:
    r = httpx.post(f"{server.url}/v1/robots", json={"control_hz": 20.0}, timeout=60)  # no Origin: allowed
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _ws(server: LiveServer, path: str, origin: str | None, host: str | None = None) -> ClientConnection:
    """A WebSocket to the server; `host` makes the handshake say Host: host (the socket still goes to
    the server), as a proxy that forwards Host does, or a DNS-rebinding page's browser."""
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    uri = f"ws://{host or f'127.0.0.1:{port}'}{path}"
    return connect(uri, sock=sock, origin=origin, open_timeout=10, max_size=None)  # type: ignore[arg-type]


def _refused(server: LiveServer, path: str, origin: str, host: str | None = None) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(server, path, origin, host).close()
    assert info.value.response.status_code == 403


def test_cross_origin_websocket_handshakes_are_refused(open_server: LiveServer) -> None:
    sid = _robot(open_server)
    port = open_server.url.rsplit(":", 1)[1]
    control = f"/v1/robots/{sid}/stream?role=controller"
    try:
        _refused(open_server, control, EVIL)
        _refused(open_server, "/v1/policy/stream", EVIL)
        _refused(open_server, f"/v1/robots/{sid}/stream?role=watcher", "null")  # sandboxed iframes
        # DNS rebinding: evil.example resolves to 127.0.0.1, so the page's Host and Origin agree.
        _refused(open_server, control, f"http://evil.example:{port}", host=f"evil.example:{port}")
        info = httpx.get(f"{open_server.url}/v1/robots/{sid}").json()
        assert not info["controller_connected"]  # no page became the controller

        # Allowed: the studio's origin, a client that sends none, and the studio's Vite proxy, which
        # forwards the browser's Origin and Host unchanged (changeOrigin: false in vite.config.ts).
        for origin, host in ((STUDIO, None), (None, None), ("http://127.0.0.1:14173", "127.0.0.1:14173")):
            with _ws(open_server, control, origin, host) as ws:
                assert unpackb(ws.recv(timeout=10))["role"] == "controller"
                ws.send(packb({"type": "jog", "delta": [0.0, 0.01, 0, 0, 0, 0, 0]}))
                while (msg := unpackb(ws.recv(timeout=10)))["type"] != "ack":
                    assert msg["type"] in ("frame", "status"), msg
            deadline = time.monotonic() + 10
            while httpx.get(f"{open_server.url}/v1/robots/{sid}").json()["controller_connected"]:
                assert time.monotonic() < deadline  # the next controller needs the seat free
                time.sleep(0.02)
    finally:
        httpx.delete(f"{open_server.url}/v1/robots/{sid}", timeout=30)


def test_cross_origin_state_changing_requests_are_refused(open_server: LiveServer) -> None:
    url = open_server.url
    svc = open_server.app.state.studio.policy
    # A "simple" request: text/plain needs no CORS preflight, so the browser sends it and CORS can only
    # hide the answer. It must not run: no model gets loaded.
    simple = {"Origin": EVIL, "Content-Type": "text/plain"}
    r = httpx.post(f"{url}/v1/models/tiny-a/load", content="x", headers=simple, timeout=60)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", r.text
    assert svc.current is None and svc.loading is None
    sid = _robot(open_server)
    try:
        r = httpx.delete(f"{url}/v1/robots/{sid}", headers={"Origin": EVIL}, timeout=30)
        assert r.status_code == 403
        assert httpx.get(f"{url}/v1/robots/{sid}").status_code == 200  # still there
        # Reading is not state-changing (CORS keeps the answer from a foreign page).
        assert httpx.get(f"{url}/v1/robots", headers={"Origin": EVIL}).status_code == 200
    finally:
        assert httpx.delete(f"{url}/v1/robots/{sid}", timeout=30).status_code == 204  # no Origin: allowed
    # The studio, the server's own pages (/docs: same host:port) and non-browser clients reach the route.
    for headers in ({"Origin": STUDIO}, {"Origin": url}, {}):
        r = httpx.post(f"{url}/v1/models/nope/load", headers=headers, timeout=30)
        assert r.status_code == 404, (headers, r.text)
    preflight = httpx.options(
        f"{url}/v1/models/nope/load",
        headers={"Origin": STUDIO, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == STUDIO


# ---- tokens never logged -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tokens_never_reach_the_log(tmp_path: Path) -> None:
    """The real entry point (python -m pixelvla_server) with its real logging; tokens in query strings
    (WebSockets cannot send headers from a browser) and in headers."""
    api, op, guess = "apiSECRET-1f3a", "opSECRET-9b2c", "guessSECRET-77d0"
    port = _free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log_path.open("wb") as log_file:
        argv = [sys.executable, "-m", "pixelvla_server", "--port", str(port), "--device", "cpu"]
        argv += ["--no-model", "--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path / "m")]
        argv += ["--api-token", api, "--operator-token", op, "--log-level", "debug"]
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # torch imports slowly on a loaded machine
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        assert httpx.get(f"{base}/v1/meta?token={api}").status_code == 200
        assert httpx.get(f"{base}/v1/meta", headers={"Authorization": f"Bearer {api}"}).status_code == 200
        assert httpx.get(f"{base}/v1/meta?token={guess}").status_code == 401
        q = f"?role=controller&token={api}&operator_token={op}"
        with connect(f"ws://127.0.0.1:{port}/v1/robots/nope/stream{q}", open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 4404  # authenticated, then: no such session
        with connect(f"ws://127.0.0.1:{port}/v1/policy/stream?token={api}", open_timeout=10) as ws:
            assert unpackb(ws.recv(timeout=10))["error"]["code"] == "model_not_loaded"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log_path.read_text()
    assert '"WebSocket /v1/robots/nope/stream' in text  # the handshakes were logged ...
    assert "operator_token=[redacted]" in text and "token=[redacted]" in text  # ... with the values blanked
    for secret in (api, op, guess):
        assert secret not in text


# ---- one message's failure is contained ----------------------------------------------------------------

BOOM = "fail inside the forward"


class Exploding:
    """Fault injection for the layer under test (the transport): the real policy, except that the
    observation with instruction BOOM raises inside the forward, as a bug in the model code would."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # metadata, spec, ...: the real policy's
        return getattr(self.inner, name)

    def predict(self, observation: Any) -> Any:
        if observation.instruction == BOOM:
            raise RuntimeError("injected fault in the model forward")
        return self.inner.predict(observation)


def test_a_message_whose_handling_raises_is_answered_and_the_next_is_served(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    worker = live.app.state.studio.policy.worker
    real = worker.model
    worker.swap(dataclasses.replace(real, policy=Exploding(real.policy)))
    caplog.set_level(logging.ERROR)
    try:
        with connect(f"{live.ws_url}/v1/policy/stream", max_size=None, open_timeout=10) as ws:
            unpackb(ws.recv(timeout=10))
            ws.send(packb({"image": frame(), "instruction": BOOM, "seq": 1}))
            err = unpackb(ws.recv(timeout=30))
            assert err["type"] == "error" and err["seq"] == 1, err
            assert err["error"]["code"] == "internal" and "RuntimeError" in err["error"]["message"]
            ws.send(packb({"image": frame(), "instruction": "pick", "seq": 2}))
            ok = unpackb(ws.recv(timeout=30))
            assert ok["type"] == "actions" and ok["seq"] == 2  # same socket, still serving
        url = f"{live.url}/v1/policy/predict"
        r = httpx.post(url, json={"image_b64": jpeg_b64(frame()), "instruction": BOOM}, timeout=30)
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
        r = httpx.post(url, json={"image_b64": jpeg_b64(frame()), "instruction": "pick"}, timeout=30)
        assert r.status_code == 200
    finally:
        worker.swap(real)
    logged = [r for r in caplog.records if r.exc_info and "injected fault" in str(r.exc_info[1])]
    assert {r.getMessage() for r in logged} >= {"policy stream message failed", "unhandled error"}


def test_a_robot_command_whose_parsing_raises_is_answered_and_the_next_is_served(
    open_server: LiveServer,
) -> None:
    """A jog delta with a string in it: numpy's ValueError used to end the robot's socket unanswered."""
    sid = _robot(open_server)
    try:
        with _ws(open_server, f"/v1/robots/{sid}/stream?role=controller", None) as ws:
            assert unpackb(ws.recv(timeout=10))["type"] == "session"

            def answer(cmd: dict[str, Any]) -> dict[str, Any]:
                ws.send(packb(cmd))
                while (msg := unpackb(ws.recv(timeout=5)))["type"] not in ("ack", "error"):
                    pass
                return msg  # type: ignore[no-any-return]

            bad = answer({"type": "jog", "delta": [0.0, 0.01, "x", 0, 0, 0, 0]})
            assert bad["type"] == "error" and bad["error"]["code"] == "invalid_command", bad
            assert answer({"type": "jog", "delta": [0.0, 0.01, 0, 0, 0, 0, 0]})["type"] == "ack"
    finally:
        httpx.delete(f"{open_server.url}/v1/robots/{sid}", timeout=30)


# ---- the worker thread outlives its jobs --------------------------------------------------------------


def test_worker_fails_only_the_job_and_keeps_serving() -> None:
    """A job that raises fails its own future; a job whose caller gave up (a closed WebSocket cancels
    the future) neither breaks the next submit from that source nor shutdown; the thread serves on."""
    worker: DeviceWorker[str] = DeviceWorker("cpu", max_pending=4)
    worker.swap("model")
    release = threading.Event()

    def boom(_model: str, _queued: float) -> str:
        raise RuntimeError("a bug in a job")

    def hold(_model: str, _queued: float) -> str:  # keeps the thread busy so that later jobs stay pending
        running.set()
        release.wait(30)
        return "held"

    try:
        with pytest.raises(RuntimeError, match="a bug in a job"):
            worker.submit("a", boom).result(timeout=10)
        assert worker.submit("a", lambda m, _q: m + " ok").result(timeout=10) == "model ok"

        running = threading.Event()
        held = worker.submit("holder", hold)
        assert running.wait(10)
        gave_up = worker.submit("client", lambda m, _q: m)
        assert gave_up.cancel()  # what asyncio.wrap_future does when the awaiting task is cancelled
        newer = worker.submit("client", lambda m, _q: m + " newer")  # replaces the cancelled one
        release.set()
        assert held.result(timeout=10) == "held" and newer.result(timeout=10) == "model newer"
        with pytest.raises(CancelledError):
            gave_up.result(timeout=0)
        assert worker._thread.is_alive()

        # Shutdown with a cancelled job still pending.
        release.clear()
        running = threading.Event()
        worker.submit("holder", hold)
        assert running.wait(10)
        assert worker.submit("late", lambda m, _q: m).cancel()
        failures: list[BaseException] = []

        def close() -> None:
            try:
                worker.close()
            except BaseException as exc:
                failures.append(exc)

        closer = threading.Thread(target=close)
        closer.start()
        deadline = time.monotonic() + 10
        while worker._pending and not failures:  # close() fails the pending jobs, then joins the thread
            assert time.monotonic() < deadline
            time.sleep(0.01)
        release.set()
        closer.join(timeout=30)
        assert not failures, failures
        assert not worker._thread.is_alive()
    finally:
        release.set()
        worker.close()
