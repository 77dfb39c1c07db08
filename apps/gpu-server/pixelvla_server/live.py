"""Run the real app under uvicorn on 127.0.0.1 with a free port, in a background thread.

Used by the benchmark and the tests: real sockets, real WebSockets, the same stack as production.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
