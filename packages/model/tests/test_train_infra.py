"""Training infrastructure that does not depend on the model: schedule, sampler, RNG, metrics, checkpoints."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest
import torch
from pixelvla.train import rng
from pixelvla.train.checkpointing import CheckpointManager, CheckpointStateError, TrainingState
from pixelvla.train.metrics import ACTION_DIMS, MetricsLog, read_metrics
from pixelvla.train.sampler import ResumableSampler
from pixelvla.train.schedule import lr_factor


def test_schedule_warmup_then_cosine():
    f = [lr_factor(s, warmup_steps=10, total_steps=110) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0)
    assert f[60] == pytest.approx(0.5, abs=0.02)
    assert all(a >= b for a, b in itertools.pairwise(f[10:]))  # monotone decay after warm-up
    assert lr_factor(109, warmup_steps=10, total_steps=110, min_factor=0.1) >= 0.1


def test_sampler_resume_matches_uninterrupted():
    full = ResumableSampler(10, seed=3)
    seq = [full.next_indices(4) for _ in range(7)]  # crosses epochs (10 samples, batches of 4)
    a = ResumableSampler(10, seed=3)
    first = [a.next_indices(4) for _ in range(3)]
    b = ResumableSampler(10, seed=3)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    rest = [b.next_indices(4) for _ in range(4)]
    assert first + rest == seq
    epoch0 = [i for batch in seq for i in batch][:10]
    assert sorted(epoch0) == list(range(10))  # each epoch is a permutation


def test_sampler_shards_across_ranks():
    r0 = ResumableSampler(8, seed=0, rank=0, world_size=2).next_indices(4)
    r1 = ResumableSampler(8, seed=0, rank=1, world_size=2).next_indices(4)
    assert sorted(r0 + r1) == list(range(8))


def test_rng_capture_restore():
    rng.seed_everything(5)
    state = rng.capture()
    a = (random.random(), np.random.rand(), torch.rand(3))
    rng.restore(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_metrics_schema_and_torn_line(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=True)
    log.event("start", step=0, total_steps=2)
    fields = dict(
        step=1,
        total_steps=2,
        epoch=0,
        loss=0.5,
        l1=0.5,
        l1_per_dim={d: 0.1 for d in ACTION_DIMS},
        lr=1e-4,
        lrs={"decoder": 1e-4},
        grad_norm=1.0,
        samples_per_s=10.0,
        step_time_s=0.1,
        data_time_s=0.01,
        mem_mb=100.0,
    )
    log.train(**fields)
    with pytest.raises(ValueError, match="missing"):
        log.train(step=2)
    with pytest.raises(ValueError, match="unknown event"):
        log.event("exploded")
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "st')  # a crash mid-line
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["kind"] for r in rows] == ["event", "train"]
    assert rows[1]["l1_per_dim"]["gripper"] == 0.1 and rows[1]["time"] > 0
    assert any((tmp_path / "tensorboard").iterdir())


def _state(step: int, model: torch.nn.Module, opt: torch.optim.Optimizer) -> TrainingState:
    return TrainingState(
        step=step,
        weights=dict(model.state_dict()),
        optimizer=opt.state_dict(),
        scheduler={"last_epoch": step},
        sampler={"epoch": 0, "position": step},
        rng=rng.capture(),
        extra={"note": "x"},
    )


def test_checkpoint_round_trip_and_prune(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    mgr = CheckpointManager(tmp_path, keep=2)
    for step in (1, 2, 3):
        mgr.save(_state(step, model, opt))
    assert mgr.complete_steps() == [2, 3]
    loaded = mgr.load()
    assert loaded.step == 3 and loaded.sampler == {"epoch": 0, "position": 3}
    assert torch.equal(loaded.weights["weight"], model.weight.detach())
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    opt2.load_state_dict(loaded.optimizer)
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    mgr = CheckpointManager(tmp_path, keep=3)
    mgr.save(_state(10, model, opt))
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)

    def crash() -> None:
        raise KeyboardInterrupt("killed mid-write")

    with pytest.raises(KeyboardInterrupt):
        mgr.save(_state(20, model, opt), _hook_after_weights=crash)
    assert mgr.complete_steps() == [10]
    assert (tmp_path / "checkpoints" / "last").read_text().strip() == "step-00000010"
    loaded = mgr.load()
    assert loaded.step == 10 and torch.equal(loaded.weights["weight"], before)
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".tmp")]


def test_missing_and_corrupt_checkpoints_are_typed(tmp_path):
    mgr = CheckpointManager(tmp_path)
    with pytest.raises(CheckpointStateError, match="no checkpoint"):
        mgr.load()
    model = torch.nn.Linear(3, 2)
    path = mgr.save(_state(1, model, torch.optim.SGD(model.parameters(), lr=0.1)))
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointStateError, match="unreadable"):
        mgr.load()
