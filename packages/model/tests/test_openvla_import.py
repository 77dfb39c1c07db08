"""OpenVLA import: a small checkpoint written in OpenVLA's Hugging Face key layout (DINOv2-style
featurizer with registers and LayerScale saved as `scale_factor`, SigLIP-style fused featurizer with
its attention-pool head, fused projector fc1-3, `language_model.*`) maps onto our modules exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from pixelvla.checkpoint import CheckpointError
from pixelvla.config import IMAGENET_MEAN, IMAGENET_STD, LLMConfig, TowerConfig, VisionConfig, tiny_config
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.openvla_import import load_openvla, map_openvla_key, openvla_normalizer


def fused_small_config() -> object:
    """Same structure as `full` (two towers, pixel levels on the fused one), toy sizes."""
    return dataclasses.replace(
        tiny_config(),
        name="fused-small",
        vision=VisionConfig(
            image_size=56,
            patch_size=14,
            featurizer=TowerConfig(
                arch="vit_small_patch14_reg4_dinov2",
                overrides={"embed_dim": 32, "depth": 3, "num_heads": 2},
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
            ),
            fused_featurizer=TowerConfig(
                arch="vit_so400m_patch14_siglip_224", overrides={"embed_dim": 24, "depth": 4, "num_heads": 2}
            ),
            pixel_tower="fused_featurizer",
            pixel_levels=(0, 1, 2),
        ),
        llm=LLMConfig(
            vocab_size=520, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=2
        ),
    )


def to_openvla_key(ours: str) -> str | None:
    """The inverse layout, written independently of the importer's table."""
    if ours.startswith("vision.featurizer."):
        key = "vision_backbone.featurizer." + ours[len("vision.featurizer.") :]
    elif ours.startswith("vision.fused_featurizer."):
        key = "vision_backbone.fused_featurizer." + ours[len("vision.fused_featurizer.") :]
    elif ours.startswith("projector."):
        key = ours
    elif ours.startswith("llm."):
        key = "language_model." + ours[len("llm.") :]
    else:
        return None
    return key.replace(".ls1.gamma", ".ls1.scale_factor").replace(".ls2.gamma", ".ls2.scale_factor")


def write_openvla_checkpoint(model: PixelVLA, folder: Path) -> dict[str, torch.Tensor]:
    """Two shards plus an index, like the 7B release, and a config.json with norm_stats."""
    folder.mkdir(parents=True)
    tensors = {}
    for k, v in model.state_dict().items():
        key = to_openvla_key(k)
        if key is not None:
            tensors[key] = v.clone().contiguous()
    keys = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    weight_map = {}
    for name, shard_keys in shards.items():
        safetensors.torch.save_file({k: tensors[k] for k in shard_keys}, folder / name)
        weight_map.update(dict.fromkeys(shard_keys, name))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    norm = {"q01": [-0.5] * 6 + [0.0], "q99": [0.5] * 6 + [1.0], "mean": [0.0] * 7}
    (folder / "config.json").write_text(json.dumps({"norm_stats": {"bridge_orig": {"action": norm}}}))
    return tensors


def test_key_mapping_of_real_openvla_names() -> None:
    assert (
        map_openvla_key("vision_backbone.featurizer.blocks.3.ls1.scale_factor")
        == "vision.featurizer.blocks.3.ls1.gamma"
    )
    assert map_openvla_key("vision_backbone.featurizer.reg_token") == "vision.featurizer.reg_token"
    assert (
        map_openvla_key("vision_backbone.fused_featurizer.attn_pool.latent")
        == "vision.fused_featurizer.attn_pool.latent"
    )
    assert map_openvla_key("projector.fc3.bias") == "projector.fc3.bias"
    assert (
        map_openvla_key("language_model.model.layers.31.mlp.down_proj.weight")
        == "llm.model.layers.31.mlp.down_proj.weight"
    )
    assert map_openvla_key("language_model.lm_head.weight") == "llm.lm_head.weight"
    assert map_openvla_key("action_head.model.fc1.weight") is None


def test_import_loads_every_backbone_tensor(tmp_path: Path) -> None:
    cfg = fused_small_config()
    torch.manual_seed(0)
    source = PixelVLA(cfg).eval()  # type: ignore[arg-type]
    tensors = write_openvla_checkpoint(source, tmp_path / "openvla")
    assert any(k.endswith("ls1.scale_factor") for k in tensors)
    assert any(k.startswith("vision_backbone.fused_featurizer.attn_pool") for k in tensors)

    torch.manual_seed(1)
    target = PixelVLA(cfg).eval()  # type: ignore[arg-type]
    report = load_openvla(tmp_path / "openvla", target)
    assert len(report.loaded) == len(tensors) and not report.unexpected
    # Only the new PixelVLA modules are left at their init.
    assert report.missing and all(
        k.startswith(
            ("pixel_encoder.", "prompt_encoder.", "prompt_projector.", "state_projector.", "action_")
        )
        for k in report.missing
    )
    src_state, tgt_state = source.state_dict(), target.state_dict()
    for k in src_state:
        if to_openvla_key(k) is not None:
            assert torch.equal(src_state[k], tgt_state[k]), k
    # Same backbone, same image tokens.
    x = torch.rand(1, 3, 56, 56)
    with torch.no_grad():
        torch.testing.assert_close(
            target.projector(target.vision(x).patches), source.projector(source.vision(x).patches)
        )
        ids = torch.randint(3, 200, (1, 5))
        batch = ModelInputs(pixel_values=x, input_ids=ids, text_mask=torch.ones(1, 5, dtype=torch.bool))
        assert target(batch).actions.shape == (1, 8, 7)

    stats = openvla_normalizer(tmp_path / "openvla", "bridge_orig")
    assert stats.q99[0] == 0.5 and stats.key == "bridge_orig"


def test_import_errors_are_typed(tmp_path: Path) -> None:
    cfg = fused_small_config()
    torch.manual_seed(0)
    source = PixelVLA(cfg)  # type: ignore[arg-type]
    folder = tmp_path / "openvla"
    write_openvla_checkpoint(source, folder)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_openvla(tmp_path / "nope", source)
    with pytest.raises(CheckpointError, match="no norm_stats"):
        openvla_normalizer(folder, "fractal")
    # A model of another size: shapes differ.
    with pytest.raises(CheckpointError, match="shape"):
        load_openvla(folder, PixelVLA(tiny_config()))
    # A missing shard.
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_openvla(folder, source)
