"""Shared fixtures: a real uvicorn server on 127.0.0.1 with a free port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from pixelvla_server.app import create_app
from pixelvla_server.config import Settings


@dataclass
class LiveServer:
    url: str
    ws_url: str
    settings: Settings
    app: object


def serve(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, ws_max_size=settings.max_request_bytes * 2, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def wait_model(app: object, timeout: float = 120.0) -> None:
    svc = app.state.studio.policy  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while svc.current is None:
        assert svc.load_error is None, svc.load_error
        assert time.monotonic() < deadline, "model did not load"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One random tiny bundle for the whole session (writing it costs seconds)."""
    from pixelvla.checkpoint import make_random_tiny_bundle

    root = tmp_path_factory.mktemp("models")
    make_random_tiny_bundle(root / "tiny-a", seed=0)
    make_random_tiny_bundle(root / "tiny-b", seed=1)
    return root


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, models_root: Path) -> Iterator[LiveServer]:
    """A server with the tiny model loaded, an operator token and a small message limit."""
    data = tmp_path_factory.mktemp("data")
    settings = Settings(
        device="cpu",
        data_dir=data,
        models_dir=models_root,
        model="tiny-a",
        operator_token="op",
        max_request_bytes=1024 * 1024,
    )
    for server in serve(settings):
        wait_model(server.app)
        yield server
