"""Run the real app under uvicorn on 127.0.0.1 with a free port, in a background thread.

Used by the benchmark and the tests: real sockets, real WebSockets, the same stack as production.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from .app import create_app
from .config import Settings


@dataclass
class LiveServer:
    url: str
    ws_url: str
    settings: Settings
    app: FastAPI


@contextmanager
def serve(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # uvicorn's own frame limit sits above ours so that the app answers oversize with its typed close.
    config = uvicorn.Config(app, log_config=None, ws_max_size=settings.max_request_bytes * 2, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def wait_model(app: FastAPI, timeout: float = 120.0) -> None:
    svc = app.state.studio.policy
    deadline = time.monotonic() + timeout
    while svc.current is None:
        if svc.load_error is not None:
            raise RuntimeError(f"model failed to load: {svc.load_error}")
        if time.monotonic() > deadline:
            raise TimeoutError("model did not load in time")
        time.sleep(0.05)


class EventProcess:
    """A child process that prints one JSON event per line (``{"event": ..., ...}``), in its own OS
    session as a robot's or a browser's process is (not a thread sharing this process's scheduling);
    its lines are read on a thread. Used by the tests that drive remote robots and controllers."""

    def __init__(self, argv: Sequence[str], what: str):
        self.what = what
        self.proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next event of this kind (the ones before it are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            assert ev is not None, (
                f"{self.what} exited ({self.proc.wait()}) before {event!r}: {self.seen[-5:]}"
            )
            self.seen.append(ev)
            if ev["event"] == event:
                return ev

    def drain(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every event it printed, once it has exited."""
        while (ev := self.events.get(timeout=timeout)) is not None:
            self.seen.append(ev)
        return self.seen

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def recv_type(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next msgpack message of type `kind` on a sync WebSocket (websockets' client), skipping the
    others (frames, acks) that arrive meanwhile; TimeoutError when none comes within `timeout` s."""
    from pixelvla.wire import unpackb

    deadline = time.monotonic() + timeout
    while True:
        msg = unpackb(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        assert isinstance(msg, dict), msg
        if msg["type"] == kind:
            return msg
