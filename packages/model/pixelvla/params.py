"""Parameter counts per module (works on the meta device: counts shapes, touches no data)."""

from __future__ import annotations

import json
from typing import Any

from torch import nn

from pixelvla.model import PixelVLA

# Report rows: label -> parameter-name prefixes (as in PixelVLA.named_parameters()).
GROUPS: dict[str, tuple[str, ...]] = {
    "vision.featurizer": ("vision.featurizer.",),
    "vision.fused_featurizer": ("vision.fused_featurizer.",),
    "projector": ("projector.",),
    "llm": ("llm.",),
    "pixel_encoder": ("pixel_encoder.",),
    "prompt_encoder": ("prompt_encoder.",),
    "prompt_projector": ("prompt_projector.",),
    "state_projector": ("state_projector.",),
    "action_slots": ("action_slot",),
    "action_decoder": ("action_decoder.",),
}
BACKBONE = ("vision.featurizer", "vision.fused_featurizer", "projector", "llm")


def count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_report(model: PixelVLA) -> dict[str, Any]:
    """{"modules": {group: n}, "backbone": n, "new": n, "total": n, "trainable": n, "lora": n}."""
    modules = dict.fromkeys(GROUPS, 0)
    lora = trainable = total = 0
    for name, p in model.named_parameters():
        n = p.numel()
        total += n
        trainable += n if p.requires_grad else 0
        if "lora_" in name:
            lora += n
            continue
        for group, prefixes in GROUPS.items():
            if name.startswith(prefixes):
                modules[group] += n
                break
        else:
            raise AssertionError(f"parameter {name} belongs to no report group")
    backbone = sum(modules[g] for g in BACKBONE)
    return {
        "config": model.config.name,
        "modules": modules,
        "backbone": backbone,
        "new": sum(modules.values()) - backbone,
        "lora": lora,
        "total": total,
        "trainable": trainable,
    }


def main() -> None:
    import argparse

    import torch

    from pixelvla.config import get_config

    parser = argparse.ArgumentParser(description="PixelVLA parameter counts per module (meta device)")
    parser.add_argument("config", nargs="?", default="full")
    args = parser.parse_args()
    with torch.device("meta"):
        model = PixelVLA(get_config(args.config))
    print(json.dumps(parameter_report(model), indent=2))


if __name__ == "__main__":
    main()
