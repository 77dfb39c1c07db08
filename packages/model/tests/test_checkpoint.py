"""Checkpoint bundle: bit-exact round trip, LoRA kept apart and merged at load, typed errors."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from pixelvla.checkpoint import (
    ADAPTER_FILE,
    BASE_FILE,
    HEADS_FILE,
    CheckpointError,
    load_bundle,
    make_random_tiny_bundle,
    read_manifest,
    save_bundle,
)
from pixelvla.config import tiny_config
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.normalize import ActionNormalizer
from pixelvla.prompt_encoder import encoder_hash
from pixelvla.stages import apply_stage, has_lora

NORM = ActionNormalizer(q01=(-0.1,) * 6 + (0.0,), q99=(0.1,) * 6 + (1.0,), key="test")


def inputs() -> ModelInputs:
    g = torch.Generator().manual_seed(5)
    return ModelInputs(
        pixel_values=torch.rand(1, 3, 112, 112, generator=g),
        input_ids=torch.randint(3, 200, (1, 11), generator=g),
        text_mask=torch.ones(1, 11, dtype=torch.bool),
    )


@pytest.fixture(scope="module")
def random_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_tiny_bundle(tmp_path_factory.mktemp("b") / "tiny", seed=0)


def test_round_trip_is_bit_exact_without_lora(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PixelVLA(tiny_config())
    apply_stage(model, "stage1")
    model.eval()
    x = inputs()
    before = model.predict(x)
    out = save_bundle(model, tmp_path / "b", NORM, stage="stage1")
    loaded = load_bundle(out)
    assert loaded.config == model.config
    assert loaded.normalizer == NORM
    assert torch.equal(loaded.model.predict(x), before)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k


def test_lora_adapters_saved_apart_and_merged_at_load(random_bundle: Path) -> None:
    base = safetensors.torch.load_file(random_bundle / BASE_FILE)
    heads = safetensors.torch.load_file(random_bundle / HEADS_FILE)
    adapters = safetensors.torch.load_file(random_bundle / ADAPTER_FILE)
    assert adapters and all("lora_" in k for k in adapters)
    assert not any("lora_" in k or "base_layer" in k for k in [*base, *heads])
    assert all(k.startswith(("vision.", "projector.", "llm.")) for k in base)
    assert all(not k.startswith(("vision.", "projector.", "llm.")) for k in heads)

    merged = load_bundle(random_bundle)
    assert not has_lora(merged.model)
    unmerged = load_bundle(random_bundle, merge=False)
    assert has_lora(unmerged.model)
    x = inputs()
    a, b = merged.model.predict(x), unmerged.model.predict(x)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # The adapters are not a no-op: dropping them changes the output.
    no_adapter = PixelVLA(merged.config).eval()
    no_adapter.load_state_dict({**base, **heads})
    assert not torch.allclose(no_adapter.predict(x), a, atol=1e-5)


def test_model_id_is_a_content_hash(tmp_path: Path, random_bundle: Path) -> None:
    again = make_random_tiny_bundle(tmp_path / "again", seed=0)
    other = make_random_tiny_bundle(tmp_path / "other", seed=1)
    m0, m1, m2 = (read_manifest(p) for p in (random_bundle, again, other))
    assert m0["model_id"] == m1["model_id"] != m2["model_id"]
    assert len(m0["model_id"]) == 64
    assert m0["encoder_hash"] == encoder_hash(load_bundle(random_bundle).model.prompt_encoder)
    # Saving over an existing bundle replaces it atomically.
    make_random_tiny_bundle(tmp_path / "again", seed=1)
    assert read_manifest(tmp_path / "again")["model_id"] == m2["model_id"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bundle_is_small_enough_for_the_studio(random_bundle: Path) -> None:
    size = sum(p.stat().st_size for p in random_bundle.rglob("*") if p.is_file())
    assert size <= 25 * 2**20, size


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_missing_and_corrupt_files_raise_checkpoint_error(tmp_path: Path, random_bundle: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_bundle(tmp_path / "nope")

    b = _copy(random_bundle, tmp_path / "missing")
    (b / HEADS_FILE).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_bundle(b)

    b = _copy(random_bundle, tmp_path / "corrupt")
    data = bytearray((b / BASE_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (b / BASE_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt") as e:
        load_bundle(b)
    assert e.value.code == "invalid_checkpoint"

    b = _copy(random_bundle, tmp_path / "nomanifest")
    (b / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="manifest"):
        load_bundle(b)

    b = _copy(random_bundle, tmp_path / "badjson")
    (b / "manifest.json").write_text("{")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_bundle(b)

    # A truncated safetensors file with a matching (re-written) manifest still fails cleanly.
    b = _copy(random_bundle, tmp_path / "truncated")
    (b / HEADS_FILE).write_bytes((b / HEADS_FILE).read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_bundle(b, verify=False)

    # Weights that do not fit the config.
    b = _copy(random_bundle, tmp_path / "mismatch")
    cfg = json.loads((b / "config.json").read_text())
    cfg["llm"]["num_layers"] = 2
    (b / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_bundle(b, verify=False)


def test_random_tiny_bundle_uses_the_seed0_browser_encoder(tmp_path):
    """Until a trained model exists, the studio runs public/models' encoder (make_prompt_encoder(0));
    the random bundle must carry the same weights or every browser token would be refused."""
    from pixelvla.checkpoint import make_random_tiny_bundle, read_manifest
    from pixelvla.prompt_encoder import encoder_hash, make_prompt_encoder

    manifest = read_manifest(make_random_tiny_bundle(tmp_path / "b", seed=3))
    assert manifest["encoder_hash"] == encoder_hash(make_prompt_encoder(0))


# ---- training checkpoints (train/checkpointing.py): a damaged file is a typed error naming it ----------


def _training_checkpoint(tmp_path: Path) -> tuple[Any, Path]:
    from pixelvla.train import rng
    from pixelvla.train.checkpointing import CheckpointManager, TrainingState

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    mgr = CheckpointManager(tmp_path)
    state = TrainingState(
        step=1,
        weights=dict(model.state_dict()),
        optimizer=opt.state_dict(),
        scheduler={"last_epoch": 1},
        sampler={"epoch": 0, "position": 1},
        rng=rng.capture(),
        extra={},
    )
    return mgr, mgr.save(state)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: random.Random(0).randbytes(len(b)),  # garbled: torch would say "weights_only=False"
        lambda b: b[: len(b) // 2],  # truncated zip
        lambda b: b"",
        lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0xFF]) + b[len(b) // 2 + 1 :],  # one byte
    ],
    ids=["garbled", "truncated", "empty", "one-byte"],
)
def test_damaged_optimizer_state_is_a_typed_corrupt_file_error(tmp_path: Path, damage: Any) -> None:
    from pixelvla.train.checkpointing import CheckpointStateError

    mgr, path = _training_checkpoint(tmp_path)
    assert mgr.load().step == 1
    target = path / "optimizer.pt"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(CheckpointStateError) as e:
        mgr.load()
    msg = e.value.message
    assert str(target) in msg and "corrupt" in msg and e.value.code == "invalid_training_checkpoint"
    assert "weights_only" not in msg and "pickl" not in msg.lower()  # never advice to unpickle it
    assert e.value.__cause__ is None  # torch's message (with that advice) is not chained either


def test_damaged_weights_and_state_files_are_typed(tmp_path: Path) -> None:
    from pixelvla.train.checkpointing import CheckpointStateError

    mgr, path = _training_checkpoint(tmp_path)
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # in the tensor bytes: safetensors itself would load it
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointStateError, match="sha256") as e:
        mgr.load()
    assert str(weights) in e.value.message
    for text in ("{torn", "[]", '{"step": "one", "sampler": {}, "rng": {}}', "\udcff"):
        _, fresh = _training_checkpoint(tmp_path / f"s{len(text)}")
        (fresh / "state.json").write_text(text, errors="surrogateescape")
        with pytest.raises(CheckpointStateError, match=r"state\.json is corrupt"):
            type(mgr)(fresh.parent.parent).load()


def test_corrupt_adapter_config_is_a_checkpoint_error(tmp_path: Path, random_bundle: Path) -> None:
    for i, text in enumerate(["", "[1, 2]", '{"a": 1}', "\udcff"]):
        b = _copy(random_bundle, tmp_path / f"adapter{i}")
        (b / ADAPTER_FILE).with_name("adapter_config.json").write_text(text, errors="surrogateescape")
        with pytest.raises(CheckpointError, match=r"adapter_config\.json is corrupt"):
            load_bundle(b, verify=False)
    b = _copy(random_bundle, tmp_path / "preprocessing")
    (b / "preprocessing.json").write_bytes(random.Random(0).randbytes(64))
    with pytest.raises(CheckpointError):
        load_bundle(b, verify=False)
