"""The training loop on a small LeRobot dataset written here: stage rules, metrics schema, exact
resume, cancellation, chaining base -> stage1 -> stage2, and the CLI's typed errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pixelvla import prompts as P
from pixelvla import rle
from pixelvla.checkpoint import load_bundle
from pixelvla.data import EpisodeRecord, LeRobotWriter
from pixelvla.prompt_encoder import encoder_hash
from pixelvla.train.checkpointing import CheckpointStateError
from pixelvla.train.config import TrainConfig, TrainConfigError
from pixelvla.train.loop import train
from pixelvla.train.metrics import TRAIN_KEYS, read_metrics
from safetensors.torch import load_file
from torchrun_worker import torchrun

ACTION_NAMES = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]


def _episode(rng: np.random.Generator, n: int, size: int) -> EpisodeRecord:
    frames = np.zeros((n, size, size, 3), np.uint8)
    x0, y0 = rng.integers(4, size // 2, size=2)
    for t in range(n):
        frames[t, ..., 2] = 40
        frames[t, y0 : y0 + 12, x0 + t // 3 : x0 + 12 + t // 3] = (220, 40, 40)
    mask = np.zeros((size, size), bool)
    mask[y0 : y0 + 12, x0 : x0 + 12] = True
    prompts = [
        P.Point((x0 + 6) / size, (y0 + 6) / size),
        P.Line((((x0 + 1) / size, (y0 + 6) / size), ((x0 + 11) / size, (y0 + 6) / size))),
        P.Box(x0 / size, y0 / size, (x0 + 12) / size, (y0 + 12) / size),
        P.Mask(dict(rle.encode(mask))),
    ]
    actions = rng.normal(0, 0.01, (n, 7)).astype(np.float32)
    actions[:, 6] = (np.arange(n) > n // 2).astype(np.float32)
    return EpisodeRecord(
        frames={"front": frames},
        actions=actions,
        states=rng.normal(size=(n, 8)).astype(np.float32),
        task="pick up the red cube",
        annotation={
            "accepted": True,
            "target_object": "obj0",
            "mask_rle": dict(rle.encode(mask)),
            "prompts": P.prompts_to_json(prompts),
            "decisions": [],
        },
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "toy"
    w = LeRobotWriter(
        root, cameras={"front": (48, 48)}, state_names=[f"s{i}" for i in range(8)], action_names=ACTION_NAMES
    )
    rng = np.random.default_rng(0)
    for i in range(2):
        w.write_episode(i, _episode(rng, 10, 48))
    w.finalize()
    return root


def _cfg(dataset: Path, out: Path, stage: str = "base", **kw) -> TrainConfig:
    base = dict(
        stage=stage,
        dataset=str(dataset),
        out_dir=str(out),
        steps=4,
        batch_size=4,
        warmup_steps=1,
        log_every=1,
        checkpoint_every=2,
        tensorboard=False,
        seed=7,
    )
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_metrics_schema_bundle_and_trainable_sets(dataset, tmp_path):
    res = train(_cfg(dataset, tmp_path / "base"), progress=False)
    assert res.step == 4 and res.bundle is not None
    rows = read_metrics(tmp_path / "base" / "metrics.jsonl")
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4]
    for r in train_rows:
        assert set(TRAIN_KEYS) <= set(r) and r["total_steps"] == 4
        assert set(r["l1_per_dim"]) == set(ACTION_NAMES)
        assert all(np.isfinite(v) for v in (r["loss"], r["grad_norm"], r["lr"]))
    events = [r["event"] for r in rows if r["kind"] == "event"]
    assert events == ["start", "checkpoint", "checkpoint", "done"]
    saved = json.loads((tmp_path / "base" / "train_config.json").read_text())
    assert TrainConfig.from_dict(saved) == _cfg(
        dataset, tmp_path / "base"
    )  # the saved config replays the run

    # Base stage of tiny: projector, LLM and (ours) the randomly initialised towers train.
    ckpt = load_file(str(tmp_path / "base" / "checkpoints" / "step-00000004" / "model.safetensors"))
    assert any(k.startswith("vision.") for k in ckpt)
    # The state token scales with the training data's state q01 / q99, carried in the bundle.
    from pixelvla.data import open_dataset

    low, high = open_dataset(str(dataset)).state_bounds()
    proj = load_bundle(tmp_path / "base" / "bundle").model.state_projector
    assert proj is not None and np.allclose(proj.low.numpy(), low) and np.allclose(proj.high.numpy(), high)
    assert not np.allclose(low, 0.0)

    # Stage 1 from the base run: only the decoder, the slots and the state projector train, so only
    # they are checkpointed.
    s1 = train(_cfg(dataset, tmp_path / "s1", "stage1", init=str(tmp_path / "base"), steps=2), progress=False)
    keys = set(load_file(str(tmp_path / "s1" / "checkpoints" / "step-00000002" / "model.safetensors")))
    assert keys and all(k.startswith(("action_decoder.", "action_slot", "state_projector.")) for k in keys)
    base_llm = load_bundle(tmp_path / "base" / "bundle").model.llm.state_dict()
    s1_llm = load_bundle(s1.bundle).model.llm.state_dict()
    assert all(torch.equal(base_llm[k], s1_llm[k]) for k in base_llm)  # the backbone stayed frozen

    # Stage 2 from stage 1: LoRA adapters are saved apart, the encoders train, the towers do not.
    s2 = train(_cfg(dataset, tmp_path / "s2", "stage2", init=str(tmp_path / "s1"), steps=2), progress=False)
    keys = set(load_file(str(tmp_path / "s2" / "checkpoints" / "step-00000002" / "model.safetensors")))
    assert any("lora_" in k for k in keys) and any(k.startswith("prompt_encoder.") for k in keys)
    assert any(k.startswith("pixel_encoder.") for k in keys)
    assert not any(k.startswith("vision.") for k in keys)
    assert (s2.bundle / "adapters").exists() or any("adapter" in p.name for p in s2.bundle.iterdir())


def test_resume_reaches_the_same_weights(dataset, tmp_path):
    full = train(_cfg(dataset, tmp_path / "full", "base", steps=5), progress=False)
    halted = train(_cfg(dataset, tmp_path / "cut", "base", steps=5, halt_after_steps=3), progress=False)
    assert halted.bundle is None and halted.step == 3  # killed after step 3; last checkpoint at 2
    resumed = train(_cfg(dataset, tmp_path / "cut", "base", steps=5), resume=True, progress=False)
    assert resumed.step == 5 and resumed.bundle is not None
    a = load_file(str(full.bundle / "model.safetensors"))
    b = load_file(str(resumed.bundle / "model.safetensors"))
    assert a.keys() == b.keys()
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert worst <= 1e-6, f"resumed weights differ from the uninterrupted run by {worst}"
    events = [r["event"] for r in read_metrics(tmp_path / "cut" / "metrics.jsonl") if r["kind"] == "event"]
    assert "resume" in events and events[-1] == "done"


def test_bf16_on_a_cpu_without_it_warns(dataset, tmp_path, monkeypatch, caplog):
    import pixelvla.train.loop as loop

    def warnings(native: bool, name: str, **kw) -> int:
        monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: native)
        caplog.clear()
        with caplog.at_level("WARNING", logger="pixelvla.train"):
            train(_cfg(dataset, tmp_path / name, steps=1, **kw), progress=False)
        return sum("without native bf16" in r.getMessage() for r in caplog.records)

    assert warnings(False, "emulated", precision="bf16") == 1
    assert warnings(False, "auto") == 0  # auto: fp32 on CPU
    assert warnings(True, "native", precision="bf16") == 0


def test_fresh_run_refuses_a_used_folder_and_bad_configs(dataset, tmp_path):
    train(_cfg(dataset, tmp_path / "r", steps=2), progress=False)
    with pytest.raises(TrainConfigError, match="already holds checkpoints"):
        train(_cfg(dataset, tmp_path / "r", steps=2), progress=False)
    with pytest.raises(TrainConfigError, match="starts from a trained model"):
        _cfg(dataset, tmp_path / "x", "stage1")
    with pytest.raises(TrainConfigError, match="unknown training config keys"):
        TrainConfig.from_dict({"stage": "base", "dataset": "d", "out_dir": "o", "lr_typo": 1})
    with pytest.raises(TrainConfigError, match="neither a bundle"):
        train(_cfg(dataset, tmp_path / "y", "stage1", init=str(tmp_path / "nothing")), progress=False)


def test_cli_reports_typed_errors(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixelvla.cli",
            "train",
            "stage1",
            "--dataset",
            str(tmp_path),
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only: a busy box took over 120 s when this imported torch first
    )
    assert r.returncode == 2
    assert "invalid_train_config" in r.stderr and "--init" in r.stderr
    # A config error is reported before the training stack (torch) is imported.
    probe = "import sys, runpy; sys.argv = ['pixelvla'] + sys.argv[1:]\ntry:\n    runpy.run_module('pixelvla.cli', run_name='__main__')\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "train",
            "stage1",
            "--dataset",
            str(tmp_path),
            "--run-dir",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert "invalid_train_config" in r.stderr and r.stdout.strip().splitlines()[-1] == "False"


def test_cli_trains_from_a_train_config_file_alone(dataset, tmp_path):
    """`pixelvla train --config FILE`: the file is a TrainConfig (what the GPU server writes as
    RUN/train_config.json, and what every run keeps); the stage comes from it. The server's former
    launch request ({dataset_dir, base_dir, overrides}) is no second format: a typed error."""
    base = train(_cfg(dataset, tmp_path / "base", steps=1), progress=False)
    run = tmp_path / "run"
    cfg = _cfg(dataset, run, "stage1", init=str(base.bundle), steps=1, batch_size=2)
    cfg.annotations = str(tmp_path / "annotations" / "toy")  # none drawn yet: no effect
    config = tmp_path / "train_config.json"
    config.write_text(cfg.to_json())
    cli = [sys.executable, "-m", "pixelvla", "train", "--quiet", "--config"]
    r = subprocess.run([*cli, str(config)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["step"] == 1
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["stage"] == "stage1" and saved["init"] == str(base.bundle) and saved["batch_size"] == 2
    assert saved["annotations"] == str(tmp_path / "annotations" / "toy")
    assert (run / "bundle" / "manifest.json").exists()

    request = tmp_path / "config.json"
    request.write_text(
        json.dumps({"stage": "stage1", "dataset_dir": str(dataset), "overrides": {"steps": 1}})
    )
    r = subprocess.run([*cli, str(request)], capture_output=True, text=True, timeout=900)  # hang guard
    assert r.returncode == 2 and "invalid_train_config" in r.stderr and "dataset_dir" in r.stderr, r.stderr


def test_studio_annotations_replace_auto_prompts_in_stage2(tmp_path):
    """The latest readable studio version of an episode wins; a rejected episode becomes usable."""
    from pixelvla.config import tiny_config
    from pixelvla.data import open_dataset
    from pixelvla.normalize import ActionNormalizer
    from pixelvla.tokenizer import build_tokenizer, format_instruction
    from pixelvla.train.batches import BatchBuilder

    root = tmp_path / "ds"
    w = LeRobotWriter(
        root, cameras={"front": (48, 48)}, state_names=[f"s{i}" for i in range(8)], action_names=ACTION_NAMES
    )
    rng = np.random.default_rng(1)
    w.write_episode(0, _episode(rng, 6, 48))
    rejected = _episode(rng, 6, 48)
    rejected.annotation = {**rejected.annotation, "accepted": False}  # type: ignore[dict-item]
    w.write_episode(1, rejected)
    w.finalize()

    ann = tmp_path / "annotations" / "ds"
    box = {"type": "box", "x0": 0.1, "y0": 0.2, "x1": 0.5, "y1": 0.6}
    mask = np.zeros((48, 48), bool)
    mask[5:20, 5:20] = True
    m_rle = dict(rle.encode(mask))

    def version(ep: int, v: int, text: str) -> None:
        (ann / f"episode-{ep:06d}").mkdir(parents=True, exist_ok=True)
        (ann / f"episode-{ep:06d}" / f"v{v:04d}.json").write_text(text)

    version(1, 1, json.dumps({"camera": "front", "prompts": [box], "masks": []}))
    record = {
        "camera": "front",
        "instruction": "pick up the cube on the left",
        "prompts": [box],
        "masks": [{"camera": "front", "frame": 0, "rle": m_rle}],
    }
    version(1, 2, json.dumps(record))
    version(1, 3, "{torn")  # a half-written newer version is skipped, not fatal
    version(0, 1, json.dumps({**record, "camera": "wrist"}))  # another camera: not for training

    cfg_ = tiny_config()
    tok = build_tokenizer(cfg_.tokenizer)
    ds = open_dataset(root)
    norm = ActionNormalizer((-1.0,) * 7, (1.0,) * 7, key="ds")

    def builder(annotations: Path | None) -> BatchBuilder:
        where = str(annotations) if annotations else None
        cfg = _cfg(root, tmp_path / "run", "stage2", init="-", annotations=where)
        return BatchBuilder(ds, cfg_, tok, norm, cfg, progress=False)

    plain = builder(None)
    assert len(plain.episodes) == 1 and plain.studio_annotated == 0  # the rejected episode is out

    merged = builder(tmp_path / "annotations" / "ds")
    assert len(merged.episodes) == 2 and merged.studio_annotated == 1
    ep1 = merged.episodes[1]
    assert ep1.prompts == [P.Box(0.1, 0.2, 0.5, 0.6), P.Mask(m_rle)]  # version 2, mask as a prompt
    assert ep1.mask_rle == m_rle
    assert ep1.text_ids == tok.encode(format_instruction(cfg_.prompt_template, record["instruction"]))
    ep0 = merged.episodes[0]  # its only studio version was drawn on the wrist camera
    assert ep0.prompts == plain.episodes[0].prompts and ep0.text_ids == plain.episodes[0].text_ids


def _torchrun(*train_args: str) -> None:
    """`pixelvla train ...` under torchrun with two CPU processes (gloo)."""
    torchrun("train", *train_args, "--quiet", timeout=300)


def _torchrun_fresh(dataset: Path, run: Path, *args: str, stage: str = "base", steps: int = 2) -> None:
    """A new run under torchrun, batch 2 per process."""
    argv = [stage, "--dataset", str(dataset), "--run-dir", str(run), "--steps", str(steps)]
    argv += ["--batch-size", "2", "--seed", "7"]
    argv += ["--set", "log_every=1", "--set", "tensorboard=false", "--set", "warmup_steps=1", *args]
    _torchrun(*argv)


@pytest.fixture(scope="module")
def ddp_run(dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ddp") / "run"
    _torchrun_fresh(dataset, run)
    return run


def _max_diff(a_bundle: Path, b_bundle: Path, file: str = "model.safetensors") -> float:
    a, b = load_file(str(a_bundle / file)), load_file(str(b_bundle / file))
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_ddp_two_processes_on_cpu(ddp_run):
    """torchrun with two CPU processes (gloo): one run folder, rank 0 writes, both ranks step."""
    rows = read_metrics(ddp_run / "metrics.jsonl")
    assert [x["step"] for x in rows if x["kind"] == "train"] == [1, 2]  # rank 0 only, once per step
    assert [x["event"] for x in rows if x["kind"] == "event"].count("start") == 1
    train_rows = [x for x in rows if x["kind"] == "train"]
    # samples/s counts both processes' examples: 2 ranks x batch 2 per step
    assert all(x["samples_per_s"] * x["step_time_s"] == pytest.approx(4, rel=1e-3) for x in train_rows)
    assert (ddp_run / "bundle" / "manifest.json").exists()


def test_fsdp_two_processes_on_cpu_matches_ddp_and_resumes(dataset, ddp_run, tmp_path):
    """FSDP (the `full` configuration's strategy) on two CPU processes: the same weights as DDP, a
    run killed after step 1 resumes to the same weights, the checkpoint says it is sharded (and a
    single process refuses to resume it), and stage 2's LoRA + frozen weights train sharded too."""
    fsdp = ("--set", 'parallel="fsdp"')
    _torchrun_fresh(dataset, tmp_path / "whole", *fsdp)
    whole = tmp_path / "whole" / "bundle"
    assert _max_diff(whole, ddp_run / "bundle") <= 1e-5  # sharding changes where, not what

    cut = tmp_path / "cut"
    _torchrun_fresh(dataset, cut, *fsdp, "--set", "checkpoint_every=1", "--set", "halt_after_steps=1")
    state = json.loads((cut / "checkpoints" / "step-00000001" / "state.json").read_text())
    assert state["extra"]["parallel"] == "fsdp" and not (cut / "bundle").exists()
    with pytest.raises(CheckpointStateError, match="under FSDP"):
        train(TrainConfig.load(cut / "train_config.json"), resume=True, progress=False)
    _torchrun("base", "--run-dir", str(cut), "--resume")
    assert _max_diff(cut / "bundle", whole) <= 1e-6

    s2 = tmp_path / "s2"
    _torchrun_fresh(dataset, s2, *fsdp, "--init", str(whole), stage="stage2", steps=1)
    manifest = json.loads((s2 / "bundle" / "manifest.json").read_text())
    loaded = load_bundle(s2 / "bundle")
    assert manifest["encoder_hash"] == encoder_hash(loaded.model.prompt_encoder)
    assert (s2 / "bundle" / "adapters" / "adapter_model.safetensors").exists()
    assert _max_diff(s2 / "bundle", whole, "heads.safetensors") > 0  # stage 2 moved the heads


def test_parallel_strategy_choice():
    from pixelvla.train.parallel import choose

    assert choose("auto", 1, "full") == "none" and choose("fsdp", 1, "tiny") == "none"
    assert choose("auto", 8, "full") == "fsdp" and choose("auto", 8, "tiny") == "ddp"
    assert choose("ddp", 8, "full") == "ddp" and choose("fsdp", 2, "tiny") == "fsdp"
    with pytest.raises(TrainConfigError, match="parallel must be one of"):
        TrainConfig.from_dict({"stage": "base", "dataset": "d", "out_dir": "o", "parallel": "zero3"})


def _stage2_builder(dataset: Path, tmp_path: Path, **kw):
    from pixelvla.config import tiny_config
    from pixelvla.data import open_dataset
    from pixelvla.normalize import ActionNormalizer
    from pixelvla.tokenizer import build_tokenizer
    from pixelvla.train.batches import BatchBuilder

    mc = tiny_config()
    cfg = _cfg(dataset, tmp_path / "run", "stage2", init="-", **kw)
    norm = ActionNormalizer((-1.0,) * 7, (1.0,) * 7, key="toy")
    return BatchBuilder(open_dataset(dataset), mc, build_tokenizer(mc.tokenizer), norm, cfg, progress=False)


def test_stage2_feeds_a_pixel_mask_with_every_prompt_type(dataset, tmp_path):
    """pixel_mask_from "every" (the default): a point, line or box example carries the pixel mask drawn
    from it; "mask": only mask prompts do (the old recipe, ~18% of stage-2 examples)."""
    for kind in ("point", "line", "box", "mask"):
        every = _stage2_builder(dataset, tmp_path, prompt_types=(kind,), pixel_mask_drop=0.0)
        only = _stage2_builder(
            dataset, tmp_path, prompt_types=(kind,), pixel_mask_drop=0.0, pixel_mask_from="mask"
        )
        ids = list(range(len(every)))
        b_every, b_only = every.batch(ids, 0), only.batch(ids, 0)
        assert bool(b_every.pixel_mask_valid[:, 0].all()), kind
        assert bool(b_only.pixel_mask_valid[:, 0].all()) == (kind == "mask"), kind
    none = _stage2_builder(dataset, tmp_path, prompt_types=("none",), pixel_mask_drop=0.0)
    assert not bool(none.batch(list(range(len(none))), 0).pixel_mask_valid.any())
    dropped = _stage2_builder(dataset, tmp_path, prompt_types=("box",), pixel_mask_drop=1.0)
    assert not bool(dropped.batch(list(range(len(dropped))), 0).pixel_mask_valid.any())


def test_typed_vision_fields_replace_extra(dataset, tmp_path):
    base = {"stage": "base", "dataset": "d", "out_dir": "o"}
    # A run folder written before the change (extra: {"train_vision": false}) still loads.
    old = TrainConfig.from_dict({**base, "extra": {"train_vision": False}})
    assert old.train_vision is False
    assert TrainConfig.from_dict({**base, "extra": {}}).train_vision is None
    with pytest.raises(TrainConfigError, match="no longer a field"):
        TrainConfig.from_dict({**base, "extra": {"lr_typo": 1}})
    with pytest.raises(TrainConfigError, match="train_vision must be boolean"):
        TrainConfig.from_dict({**base, "train_vision": "yes"})
    with pytest.raises(TrainConfigError, match="vision_init"):
        TrainConfig.from_dict({**base, "stage": "stage1", "init": "x", "vision_init": "v"})
    with pytest.raises(TrainConfigError, match="pixel_mask_from"):
        TrainConfig.from_dict({**base, "pixel_mask_from": "some"})

    # train_vision False: a fresh base run keeps its (random) towers frozen, so none is checkpointed.
    frozen = train(_cfg(dataset, tmp_path / "frozen", steps=2, train_vision=False), progress=False)
    ckpt = load_file(str(tmp_path / "frozen" / "checkpoints" / "step-00000002" / "model.safetensors"))
    start = load_bundle(frozen.bundle).model.vision.state_dict()
    assert frozen.bundle is not None and any(k.startswith("vision.") for k in ckpt)  # saved whole (fresh)
    fresh = train(_cfg(dataset, tmp_path / "fresh", steps=2), progress=False)
    moved = load_bundle(fresh.bundle).model.vision.state_dict()
    assert any(not torch.equal(start[k], moved[k]) for k in start)  # the default rule trains them


def test_vision_init_fills_the_towers_of_a_fresh_base_run(dataset, tmp_path):
    from pixelvla.config import tiny_config
    from pixelvla.model import PixelVLA
    from pixelvla.train.vision_pretrain import VISION_FILE, VisionPretrainError
    from safetensors.torch import save_file

    torch.manual_seed(123)
    tower = PixelVLA(tiny_config()).vision.state_dict()
    (tmp_path / "vision").mkdir()
    save_file({k: v.contiguous() for k, v in tower.items()}, str(tmp_path / "vision" / VISION_FILE))
    res = train(
        _cfg(dataset, tmp_path / "base", steps=2, vision_init=str(tmp_path / "vision")), progress=False
    )
    got = load_bundle(res.bundle).model.vision.state_dict()
    assert all(torch.equal(tower[k], got[k]) for k in tower)  # loaded, and frozen by the default rule
    save_file({"nope": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(VisionPretrainError, match="does not fit"):
        train(
            _cfg(dataset, tmp_path / "b2", steps=2, vision_init=str(tmp_path / "bad.safetensors")),
            progress=False,
        )


def test_grounding_loss_trains_its_head_and_resumes_exactly(dataset, tmp_path):
    """grounding_weight > 0: the base stage also learns where the instruction's object is (the target
    mask's patches, frames before the grasp); the head is checkpointed, so a resumed run ends where an
    uninterrupted one does, and grounding is refused outside the base stage."""
    full = train(_cfg(dataset, tmp_path / "g", steps=5, grounding_weight=1.0), progress=False)
    rows = [r for r in read_metrics(tmp_path / "g" / "metrics.jsonl") if r["kind"] == "train"]
    assert all(np.isfinite(r["grounding_loss"]) and r["grounding_loss"] > 0 for r in rows)
    plain = train(_cfg(dataset, tmp_path / "p", steps=5), progress=False)
    a = load_file(str(full.bundle / "model.safetensors"))
    b = load_file(str(plain.bundle / "model.safetensors"))
    assert a.keys() == b.keys()  # the head is not part of the bundle
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("llm."))  # it shaped the LLM
    ckpt = load_file(str(tmp_path / "g" / "checkpoints" / "step-00000004" / "model.safetensors"))
    assert any(k.startswith("grounding.") for k in ckpt)

    train(_cfg(dataset, tmp_path / "cut", steps=5, grounding_weight=1.0, halt_after_steps=3), progress=False)
    resumed = train(
        _cfg(dataset, tmp_path / "cut", steps=5, grounding_weight=1.0), resume=True, progress=False
    )
    c = load_file(str(resumed.bundle / "model.safetensors"))
    assert max(float((a[k].float() - c[k].float()).abs().max()) for k in a) <= 1e-6
    with pytest.raises(TrainConfigError, match="grounding_weight"):
        _cfg(dataset, tmp_path / "x", "stage1", init="-", grounding_weight=1.0)


def test_grounding_targets_are_the_target_patches_before_the_grasp(dataset, tmp_path):
    b = _stage2_builder(dataset, tmp_path)
    ep = b.episodes[0]
    assert ep.target_patches is not None and abs(float(ep.target_patches.sum()) - 1.0) < 1e-5
    assert 0 < ep.first_close < len(ep.actions)  # the toy gripper closes halfway
    target, valid = b.grounding(list(range(len(ep.actions))))
    assert valid.tolist() == [t < ep.first_close for t in range(len(ep.actions))]
    assert torch.allclose(target[0], torch.from_numpy(ep.target_patches))


def test_stray_prompts_hold_still_before_the_grasp(tmp_path):
    """stray_prompt_p: an example before the first grasp may get the other episode's prompt (it misses
    this episode's object) and the chunk that holds still; after the grasp, and with p = 0, examples
    are the ones the plain builder makes."""
    dataset = tmp_path / "apart"
    w = LeRobotWriter(
        dataset,
        cameras={"front": (48, 48)},
        state_names=[f"s{i}" for i in range(8)],
        action_names=ACTION_NAMES,
    )
    rng = np.random.default_rng(1)
    pair = [_episode(rng, 10, 48)]
    while len(pair) < 2:  # two consecutive draws whose objects (so their prompts) do not touch
        ep = _episode(rng, 10, 48)
        apart = not (rle.decode(ep.annotation["mask_rle"]) & rle.decode(pair[0].annotation["mask_rle"])).any()
        pair = [pair[0], ep] if apart else [ep]
    for i, ep in enumerate(pair):
        w.write_episode(i, ep)
    w.finalize()
    kw = dict(prompt_types=("box",), pixel_mask_drop=0.0)
    plain, stray = (
        _stage2_builder(dataset, tmp_path, **kw),
        _stage2_builder(dataset, tmp_path, stray_prompt_p=1.0, **kw),
    )
    ids = list(range(len(plain)))
    a, b = plain.batch(ids, 0), stray.batch(ids, 0)
    hold = stray.hold_chunk(stray.episodes[0].actions, 0)
    assert np.allclose(stray.normalizer.unnormalize(hold)[:, :6], 0.0)  # no motion, the gripper open
    swapped = 0
    for i, (e, t) in enumerate(plain.index):
        ep, other = plain.episodes[e], plain.episodes[1 - e]
        same_prompt = torch.equal(a.prompt_features["coords"][i], b.prompt_features["coords"][i])
        if t >= ep.first_close:
            assert same_prompt and torch.equal(a.actions[i], b.actions[i])
            continue
        swapped += 1
        theirs = P.featurize([p for p in other.prompts or [] if isinstance(p, P.Box)])["coords"]
        assert np.allclose(b.prompt_features["coords"][i].numpy(), theirs)
        assert np.allclose(b.actions[i].numpy(), hold) and not torch.equal(a.actions[i], b.actions[i])
        assert not same_prompt and bool(b.pixel_mask_valid[i, 0])
    assert swapped > 0
    with pytest.raises(TrainConfigError, match="stray_prompt_p"):
        _cfg(dataset, tmp_path / "x", "base", stray_prompt_p=0.5)
    with pytest.raises(TrainConfigError, match="stray_prompt_p"):
        _cfg(dataset, tmp_path / "x", "stage2", init="-", stray_prompt_p=1.5)
