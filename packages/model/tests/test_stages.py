"""Stage rules: exact trainable parameter sets, and LoRA save / load / merge equality."""

from __future__ import annotations

import dataclasses

import pytest
import safetensors.torch
import torch
from pixelvla.config import tiny_config
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.stages import (
    StageError,
    add_lora,
    apply_stage,
    base_state_dict,
    has_lora,
    lora_state_dict,
    merge_lora,
)

CFG = tiny_config()
LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def fresh(seed: int = 0) -> PixelVLA:
    torch.manual_seed(seed)
    return PixelVLA(tiny_config())


def names_under(model: PixelVLA, *prefixes: str) -> set[str]:
    return {n for n, _ in model.named_parameters() if n.startswith(prefixes)}


def inputs() -> ModelInputs:
    g = torch.Generator().manual_seed(3)
    return ModelInputs(
        pixel_values=torch.rand(2, 3, 112, 112, generator=g),
        input_ids=torch.randint(3, 200, (2, 9), generator=g),
        text_mask=torch.ones(2, 9, dtype=torch.bool),
    )


def test_base_stage_trains_projector_llm_and_state_projector_only() -> None:
    m = fresh()
    trainable = apply_stage(m, "base")
    assert set(trainable) == names_under(m, "projector.", "llm.", "state_projector.")
    assert names_under(m, "state_projector.")  # tiny has a state token
    assert m.config.head == "tokens"
    assert not m.config.use_pixel_encoder and not m.config.use_prompt_encoder


def test_stage1_trains_decoder_and_slots_only() -> None:
    m = fresh()
    trainable = apply_stage(m, "stage1")
    expected = names_under(m, "action_decoder.", "state_projector.") | {"action_slot", "action_slot_pos"}
    assert set(trainable) == expected
    assert m.config.head == "continuous"
    assert not m.config.use_pixel_encoder and not m.config.use_prompt_encoder
    assert not has_lora(m)


def test_stage2_adds_lora_r32_on_every_llm_linear_and_trains_new_modules() -> None:
    m = fresh()
    apply_stage(m, "stage1")
    trainable = set(apply_stage(m, "stage2"))
    lora = {n for n, _ in m.named_parameters() if "lora_" in n}
    new_modules = names_under(
        m, "action_decoder.", "pixel_encoder.", "prompt_encoder.", "prompt_projector.", "state_projector."
    )
    assert trainable == lora | new_modules | {"action_slot", "action_slot_pos"}
    # One A and one B per linear layer of every LLM block, none on lm_head; rank 32.
    assert len(lora) == 2 * len(LINEAR) * CFG.llm.num_layers
    assert not any("lm_head" in n for n in lora)
    a = dict(m.named_parameters())["llm.model.layers.0.self_attn.q_proj.lora_A.default.weight"]
    assert a.shape == (32, CFG.llm.hidden_size)
    assert m.config.use_pixel_encoder and m.config.use_prompt_encoder
    # The vision towers, the projector and the LLM base weights stay frozen.
    frozen = {n for n, p in m.named_parameters() if not p.requires_grad}
    assert names_under(m, "vision.", "projector.") <= frozen
    assert all(n in frozen for n in names_under(m, "llm.") if "lora_" not in n)


def test_vision_towers_never_train_and_unknown_stage_is_typed() -> None:
    m = fresh()
    for stage in ("base", "stage1"):
        trainable = apply_stage(m, stage)
        assert not any(n.startswith("vision.") for n in trainable)
    with pytest.raises(StageError) as e:
        apply_stage(m, "stage3")
    assert e.value.code == "invalid_stage"


def test_lora_save_load_merge_equality(tmp_path: object) -> None:
    """Adapters saved apart from the base; a fresh model + base + adapters gives the same outputs,
    before and after merging; merging removes every LoRA layer."""
    from pathlib import Path

    root = Path(str(tmp_path))
    m = fresh(1)
    apply_stage(m, "stage2")
    with torch.no_grad():
        for k, v in lora_state_dict(m).items():
            if "lora_B" in k:
                v.normal_(0, 0.05)  # peft starts B at zero; make the adapters matter
    m.eval()
    x = inputs()
    before = m.predict(x)
    plain = fresh(1)
    plain.config = m.config
    plain.load_state_dict(base_state_dict(m))
    assert not torch.allclose(plain.eval().predict(x), before, atol=1e-4)  # adapters change outputs

    safetensors.torch.save_file({k: v.contiguous() for k, v in base_state_dict(m).items()}, root / "base.st")
    safetensors.torch.save_file(lora_state_dict(m), root / "lora.st")
    base_keys = set(safetensors.torch.load_file(root / "base.st"))
    assert not any("lora_" in k or "base_layer" in k for k in base_keys)

    loaded = fresh(2)
    loaded.config = dataclasses.replace(m.config)
    loaded.load_state_dict(safetensors.torch.load_file(root / "base.st"))
    add_lora(loaded)
    result = loaded.load_state_dict(safetensors.torch.load_file(root / "lora.st"), strict=False)
    assert not result.unexpected_keys
    loaded.eval()
    torch.testing.assert_close(loaded.predict(x), before)
    assert merge_lora(loaded) == len(LINEAR) * CFG.llm.num_layers
    assert not has_lora(loaded)
    torch.testing.assert_close(loaded.predict(x), before, atol=1e-5, rtol=1e-4)
    assert set(loaded.state_dict()) == set(plain.state_dict())


def test_paper_config_has_no_state_token_and_its_stages_train_no_state_projector() -> None:
    m = PixelVLA(dataclasses.replace(tiny_config(), state_dim=0))
    assert m.state_projector is None
    assert not any("state_projector" in n for n in apply_stage(m, "stage2"))
