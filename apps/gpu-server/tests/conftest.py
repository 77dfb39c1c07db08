"""Shared fixtures: real uvicorn servers on free ports (pixelvla_server.live) and tiny model bundles."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pixelvla_server.config import Settings
from pixelvla_server.live import LiveServer, serve, wait_model


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two random tiny bundles for the whole session (writing one costs seconds)."""
    from pixelvla.checkpoint import make_random_tiny_bundle

    root = tmp_path_factory.mktemp("models")
    make_random_tiny_bundle(root / "tiny-a", seed=0)
    make_random_tiny_bundle(root / "tiny-b", seed=1)
    return root


ModelServer = Callable[..., AbstractContextManager[LiveServer]]


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory, models_root: Path) -> ModelServer:
    """``with model_server(name, **settings) as server``: a live server on CPU serving the session's
    tiny-a bundle (loaded before it yields), with a data folder of its own; the keywords are further
    Settings fields."""

    @contextmanager
    def make(name: str, **overrides: Any) -> Iterator[LiveServer]:
        data = tmp_path_factory.mktemp(name)
        settings = Settings(device="cpu", data_dir=data, models_dir=models_root, model="tiny-a", **overrides)
        with serve(settings) as server:
            wait_model(server.app)
            yield server

    return make


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without a model, operator token "op": robots, runs and datasets without the policy."""
    data = tmp_path_factory.mktemp("bare")
    settings = Settings(
        device="cpu", data_dir=data, models_dir=data / "m", operator_token="op", load_model=False
    )
    with serve(settings) as server:
        yield server


@pytest.fixture(scope="module")
def live(model_server: ModelServer) -> Iterator[LiveServer]:
    """A server with the tiny model loaded, an operator token and a 1 MiB message limit."""
    with model_server("data", operator_token="op", max_request_bytes=1024 * 1024) as server:
        yield server


FAKE_TRAIN = Path(__file__).parent / "fixtures" / "fake_train.py"
RunSettings = Callable[..., Settings]


@pytest.fixture(scope="session")
def run_settings() -> RunSettings:
    """Settings for the run tests: the fake trainer (fixtures/fake_train.py) as the run command, an
    operator token "op", no model. `run_settings(data_dir, **overrides)`."""
    template = f"{{python}} {FAKE_TRAIN} --run-dir {{run_dir}} --config {{config}} {{resume}}"

    def make(data_dir: Path, **kw: Any) -> Settings:
        base: dict[str, Any] = dict(
            device="cpu",
            data_dir=data_dir,
            models_dir=data_dir / "models",
            run_command=template,
            operator_token="op",
            load_model=False,
        )
        return Settings(**{**base, **kw})

    return make


@pytest.fixture(scope="session")
def registry_entries() -> Callable[[Path], None]:
    """Writes a dataset `d` and a base model `m` for runs to name (the fake trainer reads neither)."""

    def make(root: Path) -> None:
        (root / "datasets" / "d").mkdir(parents=True, exist_ok=True)
        (root / "models" / "m").mkdir(parents=True, exist_ok=True)
        (root / "models" / "m" / "config.json").write_text("{}")

    return make


@pytest.fixture
def server_process(models_root: Path, tmp_path: Path) -> Iterator[tuple[LiveServer, subprocess.Popen[bytes]]]:
    """The server in its own process (python -m pixelvla_server, tiny-a, operator token "op"), so that a
    test can freeze (SIGSTOP) or kill all of it. ``server.app`` is None: it lives in that process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [
        sys.executable,
        "-m",
        "pixelvla_server",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--model",
        "tiny-a",
    ]
    argv += ["--models-dir", str(models_root), "--data-dir", str(tmp_path), "--operator-token", "op"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELVLA_")}
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        # A live process that is still loading is waited for: on a loaded box importing torch and
        # loading the model takes minutes; the ceiling only keeps a hung start from using the test's.
        deadline = time.monotonic() + 480
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not load its model in time"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v1/meta", timeout=5).json()["model"] is not None:
                    break
            time.sleep(0.1)
        settings = Settings(device="cpu", operator_token="op")
        yield LiveServer(url, f"ws://127.0.0.1:{port}", settings, None), proc  # type: ignore[arg-type]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=30)
