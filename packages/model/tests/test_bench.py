"""The benchmark's code paths on CPU: the training-memory sweep runs for every stage x batch x
checkpointing cell (the `--full` GPU suite runs the same function on `full`), and `--full` without
CUDA says so and exits 0 instead of estimating."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from pixelvla.bench import bench_train
from pixelvla.config import tiny_config


def test_training_sweep_reports_every_cell() -> None:
    rows = bench_train(tiny_config(), torch.device("cpu"), batches=(2,), steps=2)
    cells = [(r["stage"], r["batch"], r["activation_checkpointing"]) for r in rows]
    assert cells == [(s, 2, c) for s in ("stage1", "stage2") for c in (False, True)]
    for r in rows:
        assert "error" not in r, r
        assert r["tokens_per_s"] > 0 and r["tokens_per_example"] > 100 and r["peak_memory_gib"] is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answer")
def test_full_suite_without_cuda_says_so_and_exits_0() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run(
        [sys.executable, "-m", "pixelvla.bench", "--full"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["full"]["cuda"].startswith("needs CUDA")
