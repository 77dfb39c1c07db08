"""FSDP from files on two CPU processes (gloo): a run that starts from an OpenVLA folder or a bundle
builds the backbone on the meta device, shards it empty and reads only each rank's rows of every
tensor; the result equals a single process that loaded the whole model. Stage 2 from that bundle
runs sharded too, in bf16 with FSDP's MixedPrecisionPolicy (bf16 parameters, fp32 reduction)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from openvla_toy import base_config, write_dataset, write_openvla
from pixelvla.checkpoint import load_bundle
from pixelvla.train.metrics import read_metrics
from pixelvla.train.parallel import Parallel
from safetensors.torch import load_file
from torchrun_worker import torchrun


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sharded")
    write_openvla(root / "openvla")
    (root / "base.json").write_text(base_config().to_json())
    write_dataset(root / "data")
    return {"root": root, "openvla": root / "openvla", "base": root / "base.json", "data": root / "data"}


def _train(
    stage: str, init: Path, run: Path, data: Path, *extra: str, procs: int = 2, batch: int = 2
) -> None:
    args = ["train", stage, "--dataset", str(data), "--init", str(init), "--run-dir", str(run)]
    args += ["--steps", "2", "--batch-size", str(batch), "--seed", "7", "--quiet"]
    args += ["--set", "warmup_steps=1", "--set", "tensorboard=false", "--set", "log_every=1", *extra]
    if procs > 1:
        torchrun(*args, procs=procs)
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "pixelvla", *args], capture_output=True, text=True, timeout=600, env=env
    )
    assert r.returncode == 0, r.stderr[-3000:]


def _start(run: Path) -> dict[str, object]:
    return next(
        r for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "event" and r["event"] == "start"
    )


def _max_diff(a: Path, b: Path, file: str) -> float:
    x, y = load_file(str(a / file)), load_file(str(b / file))
    assert x.keys() == y.keys()
    return max(float((x[k].float() - y[k].float()).abs().max()) for k in x)


def test_fsdp_starts_from_openvla_and_a_bundle_reading_only_its_shards(folders: dict[str, Path]) -> None:
    root, data = folders["root"], folders["data"]
    fsdp = ("--set", 'parallel="fsdp"')
    model = ("--model", str(folders["base"]))
    # Stage 1 from the OpenVLA folder: 2 ranks x batch 2, sharded loading, vs one process x batch 4.
    _train("stage1", folders["openvla"], root / "s1", data, *model, *fsdp)
    _train("stage1", folders["openvla"], root / "s1-whole", data, *model, procs=1, batch=4)
    start = _start(root / "s1")
    assert start["parallel"] == "fsdp" and start["sharded_load"] is True and start["param_dtype"] == "float32"
    assert _start(root / "s1-whole")["sharded_load"] is False
    assert _max_diff(root / "s1" / "bundle", root / "s1-whole" / "bundle", "model.safetensors") == 0.0
    assert _max_diff(root / "s1" / "bundle", root / "s1-whole" / "bundle", "heads.safetensors") <= 1e-5

    # Stage 2 from that bundle, sharded, bf16 parameters in FSDP's all-gathers; LoRA initialised
    # the same on every rank.
    _train("stage2", root / "s1", root / "s2", data, *fsdp, "--set", 'precision="bf16"')
    start = _start(root / "s2")
    assert start["sharded_load"] is True and start["param_dtype"] == "bfloat16"
    s2 = root / "s2" / "bundle"
    adapters = load_file(str(s2 / "adapters" / "adapter_model.safetensors"))
    assert adapters and all(t.dtype == torch.float32 for t in adapters.values())  # fp32 master weights
    assert any("lora_B" in k and float(t.abs().max()) > 0 for k, t in adapters.items())  # trained
    assert _max_diff(s2, root / "s1" / "bundle", "model.safetensors") == 0.0  # base frozen, LoRA apart
    assert _max_diff(s2, root / "s1" / "bundle", "heads.safetensors") > 0
    loaded = load_bundle(s2)
    assert json.loads((s2 / "manifest.json").read_text())["stage"] == "stage2"
    assert loaded.config.use_prompt_encoder and loaded.config.head == "continuous"


def test_mixed_precision_policy_follows_the_precision() -> None:
    cpu = torch.device("cpu")
    mp = Parallel("fsdp", cpu, 2, bf16=True).mixed_precision()
    assert mp.param_dtype == torch.bfloat16 and mp.reduce_dtype == torch.float32
    plain = Parallel("fsdp", cpu, 2).mixed_precision()
    assert plain.param_dtype is None and plain.reduce_dtype is None
    with pytest.raises(ValueError, match="FSDP"):
        Parallel("ddp", cpu, 2).shard_and_load(torch.nn.Linear(2, 2), {})
