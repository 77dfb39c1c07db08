"""`python -m pixelvla_server.bench`: serving benchmarks against the real server process, printed as JSON.

- predict round trip over the WebSocket (tiny random model, this machine's device): p50/p99 of the
  round trip, of the model forward, and of the server overhead = round trip - forward (goal <= 3 ms p50);
- /healthz latency p99 while 4 clients stream predictions (goal < 20 ms);
- frames per second a robot-session watcher receives at the highest control rate (30 Hz).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def _pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(xs), q)), 3)


def _summary(xs: list[float]) -> dict[str, float]:
    return {"p50": _pct(xs, 50), "p99": _pct(xs, 99), "mean": round(float(np.mean(xs)), 3), "n": len(xs)}


def _jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def noise_frame(size: int) -> bytes:
    """Worst case for decode and transfer: incompressible noise (~100 KB at 224 px)."""
    return _jpeg(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))


def camera_frame(size: int) -> bytes:
    """What a robot client sends: the sim's front camera at reset, as a JPEG (~10 KB at 224 px)."""
    from pixelvla_sim.robot import SimRobot  # torch is already imported (render-then-Triton hazard)

    with SimRobot(image_size=size) as robot:
        obs = robot.reset(0, "pick")
        return _jpeg(np.asarray(obs["images"]["front"]))


def bench_predict(ws_url: str, n: int, image: bytes) -> dict[str, Any]:
    from pixelvla.wire import packb, unpackb
    from websockets.sync.client import connect

    rtt, fwd, over, inproc, queue, decode = [], [], [], [], [], []
    with connect(f"{ws_url}/v1/policy/stream", max_size=None) as ws:
        unpackb(ws.recv(timeout=30, decode=False))
        obs = {"image": image, "instruction": "pick up the red cube", "state": np.zeros(8, np.float32)}
        for i in range(n + 5):
            t0 = time.perf_counter()
            ws.send(packb(obs))
            reply = unpackb(ws.recv(timeout=60, decode=False))
            ms = (time.perf_counter() - t0) * 1000.0
            if reply.get("type") != "actions":
                raise RuntimeError(f"bench predict failed: {reply}")
            if i < 5:
                continue  # warm-up
            rtt.append(ms)
            fwd.append(reply["timing_ms"]["forward"])
            over.append(ms - reply["timing_ms"]["forward"])
            inproc.append(reply["timing_ms"]["server_total"] - reply["timing_ms"]["forward"])
            queue.append(reply["timing_ms"]["queue"])
            decode.append(reply["timing_ms"]["server_decode"])
    return {
        "round_trip_ms": _summary(rtt),
        "forward_ms": _summary(fwd),
        "server_overhead_ms": _summary(over),
        # Breakdown of the overhead: inside the server (receive -> reply sent) minus the forward,
        # of which queue wait (thread hand-off) and image decode + validation.
        "server_in_process_ms": _summary(inproc),
        "queue_ms": _summary(queue),
        "server_decode_ms": _summary(decode),
    }


def bench_healthz_under_load(url: str, ws_url: str, image: bytes, n: int, clients: int = 4) -> dict[str, Any]:
    import httpx
    from pixelvla.wire import packb, unpackb
    from websockets.sync.client import connect

    stop = threading.Event()
    served = [0] * clients

    def stream(i: int) -> None:
        with connect(f"{ws_url}/v1/policy/stream", max_size=None) as ws:
            unpackb(ws.recv(timeout=30, decode=False))
            while not stop.is_set():
                ws.send(packb({"image": image, "instruction": f"client {i}"}))
                unpackb(ws.recv(timeout=60, decode=False))
                served[i] += 1

    threads = [threading.Thread(target=stream, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    lat: list[float] = []
    t_start = time.perf_counter()
    with httpx.Client() as c:
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.get(f"{url}/healthz")
            lat.append((time.perf_counter() - t0) * 1000.0)
            r.raise_for_status()
            time.sleep(0.01)
    elapsed = time.perf_counter() - t_start
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return {
        "healthz_ms": _summary(lat),
        "clients": clients,
        "predictions_per_s": round(sum(served) / elapsed, 2),
    }


def bench_robot_stream(url: str, ws_url: str, seconds: float, control_hz: float = 30.0) -> dict[str, Any]:
    import httpx
    from pixelvla.wire import unpackb
    from websockets.sync.client import connect

    r = httpx.post(f"{url}/v1/robots", json={"control_hz": control_hz}, timeout=120)
    r.raise_for_status()
    sid = r.json()["id"]
    frames = 0
    nbytes = 0
    with connect(f"{ws_url}/v1/robots/{sid}/stream?role=watcher", max_size=None) as ws:
        unpackb(ws.recv(timeout=30, decode=False))
        for _ in range(5):
            ws.recv(timeout=30, decode=False)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            msg = unpackb(ws.recv(timeout=30, decode=False))
            if msg.get("type") == "frame":
                frames += 1
                nbytes += len(msg["images"]["front"])
        elapsed = time.perf_counter() - t0
    httpx.delete(f"{url}/v1/robots/{sid}", timeout=30)
    return {
        "control_hz": control_hz,
        "frames_per_s": round(frames / elapsed, 2),
        "jpeg_kb_mean": round(nbytes / max(frames, 1) / 1024, 1),
    }


@contextlib.contextmanager
def server_process(
    device: str, models: Path, data: Path, model: str = "tiny", env: dict[str, str] | None = None
) -> Iterator[tuple[str, str, str]]:
    """The real CLI in its own process: a client in the same process would share the GIL with it.
    env: the process environment (default: this one's), e.g. to fix its torch thread count."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "pixelvla_server",
        "--port",
        str(port),
        "--device",
        device,
        "--models-dir",
        str(models),
        "--data-dir",
        str(data),
        "--model",
        model,
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                meta = httpx.get(f"{url}/v1/meta", timeout=2).json()
                if meta.get("model"):
                    break
                if meta.get("model_error"):
                    raise RuntimeError(meta["model_error"])
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not become ready")
            time.sleep(0.2)
        yield url, f"ws://127.0.0.1:{port}", meta["device"]["description"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="pixelvla_server.bench", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=200, help="predictions for the round-trip measurement")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--robot-seconds", type=float, default=5.0)
    args = p.parse_args(argv)

    from pixelvla.checkpoint import make_random_tiny_bundle

    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        make_random_tiny_bundle(models / "tiny", seed=0)
        with server_process(args.device, models, Path(tmp) / "data") as (url, ws_url, device):
            image = camera_frame(args.image_size)
            noise = noise_frame(args.image_size)
            out: dict[str, Any] = {
                "device": device,
                "model": "random tiny bundle",
                "image": f"sim front camera, JPEG {args.image_size}x{args.image_size}, {len(image)} bytes",
            }
            out["predict_ws"] = bench_predict(ws_url, args.n, image)
            out["predict_ws_noise_image"] = {
                "image": f"noise JPEG {args.image_size}x{args.image_size}, {len(noise)} bytes (worst case)",
                **bench_predict(ws_url, args.n // 2, noise),
            }
            out["healthz_under_load"] = bench_healthz_under_load(url, ws_url, image, n=200)
            out["robot_stream"] = bench_robot_stream(url, ws_url, args.robot_seconds)
            out["goals"] = {
                "server_overhead_p50_le_3ms": out["predict_ws"]["server_overhead_ms"]["p50"] <= 3.0,
                "healthz_p99_under_load_lt_20ms": out["healthz_under_load"]["healthz_ms"]["p99"] < 20.0,
            }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
