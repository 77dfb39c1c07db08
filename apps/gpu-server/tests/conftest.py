"""Shared fixtures: real uvicorn servers on free ports (pixelvla_server.live) and tiny model bundles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, models_root: Path) -> Iterator[LiveServer]:
    """A server with the tiny model loaded, an operator token and a 1 MiB message limit."""
    data = tmp_path_factory.mktemp("data")
    settings = Settings(
        device="cpu",
        data_dir=data,
        models_dir=models_root,
        model="tiny-a",
        operator_token="op",
        max_request_bytes=1024 * 1024,
    )
    with serve(settings) as server:
        wait_model(server.app)
        yield server
