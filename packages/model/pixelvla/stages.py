"""Training stages as data: which modules run, which parameters train, where LoRA goes.

- base   (ours, tiny only): OpenVLA-style VLA, discrete action tokens, next-token loss; trains the
         projector and the whole LLM. The new encoders are off.
- stage1 (paper): pixel and prompt encoders removed; backbone (vision, projector, LLM) frozen;
         trains the continuous action decoder and the action slot embeddings.
- stage2 (paper): LoRA (rank 32, ours: alpha 16, dropout 0, every linear layer of the LLM) plus the
         prompt encoder (both halves), the pixel-aware encoder, the decoder and the slots.
The vision towers are frozen in every stage. A model with a state token (config.state_dim > 0; ours,
after OpenVLA-OFT) trains its state projector in every stage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from torch import nn

from pixelvla.errors import PixelVLAError
from pixelvla.model import PixelVLA

Stage = Literal["base", "stage1", "stage2"]
# LoRA's adapter name inside peft; one adapter per model.
ADAPTER = "default"
LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class StageError(PixelVLAError):
    default_code = "invalid_stage"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 32
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = LLAMA_LINEAR


@dataclass(frozen=True)
class StageRule:
    head: Literal["tokens", "continuous"]
    use_pixel_encoder: bool
    use_prompt_encoder: bool
    # Top-level modules / parameters of PixelVLA whose weights train (prefix match on names).
    train: tuple[str, ...]
    # LoRA on the LLM (its lora_ parameters then train too).
    lora: LoraSettings | None = None


STAGES: dict[str, StageRule] = {
    "base": StageRule(
        head="tokens",
        use_pixel_encoder=False,
        use_prompt_encoder=False,
        train=("projector.", "llm.", "state_projector."),
    ),
    "stage1": StageRule(
        head="continuous",
        use_pixel_encoder=False,
        use_prompt_encoder=False,
        train=("action_decoder.", "action_slot", "action_slot_pos", "state_projector."),
    ),
    "stage2": StageRule(
        head="continuous",
        use_pixel_encoder=True,
        use_prompt_encoder=True,
        train=(
            "action_decoder.",
            "action_slot",
            "action_slot_pos",
            "pixel_encoder.",
            "prompt_encoder.",
            "prompt_projector.",
            "state_projector.",
        ),
        lora=LoraSettings(),
    ),
}


def get_stage(stage: str) -> StageRule:
    try:
        return STAGES[stage]
    except KeyError:
        raise StageError(f"unknown stage {stage!r}; known: {sorted(STAGES)}") from None


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or (p.endswith(".") and name.startswith(p)) for p in prefixes)


def apply_stage(model: PixelVLA, stage: str) -> list[str]:
    """Switch the model into `stage` (head, encoders, LoRA) and set requires_grad; returns the
    sorted names of the trainable parameters."""
    rule = get_stage(stage)
    model.config = dataclasses.replace(
        model.config,
        head=rule.head,
        use_pixel_encoder=rule.use_pixel_encoder,
        use_prompt_encoder=rule.use_prompt_encoder,
    )
    if rule.lora is not None and not has_lora(model):
        add_lora(model, rule.lora)
    if rule.lora is None and has_lora(model):
        raise StageError(f"stage {stage!r} takes no LoRA; merge the adapters first (merge_lora)")
    trainable = []
    for name, param in model.named_parameters():
        train = _matches(name, rule.train) and "lora_" not in name
        if rule.lora is not None and "lora_" in name:
            train = True
        if name.startswith("vision."):
            train = False  # the towers never train
        param.requires_grad_(train)
        if train:
            trainable.append(name)
    return sorted(trainable)


# ---------------------------------------------------------------- LoRA


def lora_config(settings: LoraSettings) -> LoraConfig:
    return LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )


def add_lora(model: PixelVLA, settings: LoraSettings | None = None) -> None:
    """Inject LoRA layers into the LLM in place (names gain `.base_layer` / `.lora_A.default`)."""
    inject_adapter_in_model(lora_config(settings or LoraSettings()), model.llm, adapter_name=ADAPTER)


def has_lora(model: nn.Module) -> bool:
    return any(isinstance(m, LoraLayer) for m in model.modules())


@torch.no_grad()
def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA layer into its base weight and put the plain layer back; returns how many."""
    merged = 0
    for name, module in list(model.named_modules()):
        if not isinstance(module, LoraLayer):
            continue
        module.merge(safe_merge=True)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.get_base_layer())
        merged += 1
    # peft leaves its config on the module it injected into; without adapters it is stale, and a
    # later add_lora (stage 2 from a merged bundle) would warn about "multiple adapters".
    for m in model.modules():
        if hasattr(m, "peft_config") and not any(isinstance(c, LoraLayer) for c in m.modules()):
            del m.peft_config
    return merged


def _state(model: nn.Module | Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    return model.state_dict() if isinstance(model, nn.Module) else model


def lora_state_dict(model: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Only the adapter tensors, with peft's names under the model (e.g. `llm.model.layers.0...`);
    of the model, or of a state dict of one (an FSDP model's gathered tensors)."""
    return {k: v for k, v in _state(model).items() if "lora_" in k}


def base_state_dict(model: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every non-adapter tensor under the plain (un-injected) names."""
    return {k.replace(".base_layer.", "."): v for k, v in _state(model).items() if "lora_" not in k}
