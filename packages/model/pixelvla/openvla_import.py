"""Import an OpenVLA checkpoint (Hugging Face layout) into PixelVLA's backbone modules.

OpenVLA's `model.safetensors[.index.json]` keys and ours:
    vision_backbone.featurizer.*        -> vision.featurizer.*        (timm DINOv2)
    vision_backbone.fused_featurizer.*  -> vision.fused_featurizer.*  (timm SigLIP)
    projector.fc{1,2,3}.*               -> projector.fc{1,2,3}.*
    language_model.*                    -> llm.*                      (LlamaForCausalLM)
OpenVLA renamed timm's LayerScale `gamma` to `scale_factor` (HF's loader mangles names ending in
`gamma`), so `.ls{1,2}.scale_factor` maps back to `.ls{1,2}.gamma`. The new PixelVLA modules
(pixel/prompt encoders, action slots and decoder) are absent from OpenVLA and keep their init.
Tensors stream shard by shard straight into the model's parameters, so a 7B import needs no
second copy of the weights in memory.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from pixelvla.checkpoint import CheckpointError
from pixelvla.model import PixelVLA
from pixelvla.normalize import ActionNormalizer

PREFIXES = (
    ("vision_backbone.featurizer.", "vision.featurizer."),
    ("vision_backbone.fused_featurizer.", "vision.fused_featurizer."),
    ("projector.", "projector."),
    ("language_model.", "llm."),
)
_LAYER_SCALE = re.compile(r"\.ls([12])\.scale_factor$")


def map_openvla_key(key: str) -> str | None:
    """OpenVLA checkpoint key -> PixelVLA state_dict key (None: not part of the backbone)."""
    for theirs, ours in PREFIXES:
        if key.startswith(theirs):
            return _LAYER_SCALE.sub(r".ls\1.gamma", ours + key[len(theirs) :])
    return None


@dataclass
class ImportReport:
    loaded: list[str] = field(default_factory=list)
    # Ours, not in the checkpoint (expected: the new PixelVLA modules).
    missing: list[str] = field(default_factory=list)
    # In the checkpoint, not ours (e.g. a non-fused OpenVLA variant).
    unexpected: list[str] = field(default_factory=list)


def checkpoint_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{index} is not a safetensors index: {e!r}") from e
        return [folder / name for name in sorted(set(weight_map.values()))]
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    raise CheckpointError(f"{folder} holds no model.safetensors or model.safetensors.index.json")


@torch.no_grad()
def load_openvla(folder: str | os.PathLike[str], model: PixelVLA, *, strict: bool = True) -> ImportReport:
    """Copy OpenVLA weights into `model` (already materialised on its device and dtype).

    strict: every backbone parameter must be present and every checkpoint key must map."""
    root = Path(folder)
    if not root.is_dir():
        raise CheckpointError(f"OpenVLA folder {root} does not exist")
    targets = model.state_dict()
    report = ImportReport()
    for path in checkpoint_files(root):
        if not path.is_file():
            raise CheckpointError(f"checkpoint shard {path.name} is missing")
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    ours = map_openvla_key(key)
                    if ours is None or ours not in targets:
                        report.unexpected.append(key)
                        continue
                    tensor = f.get_tensor(key)
                    target = targets[ours]
                    if tensor.shape != target.shape:
                        raise CheckpointError(
                            f"{key}: checkpoint shape {tuple(tensor.shape)} != model shape {tuple(target.shape)}"
                        )
                    target.copy_(tensor.to(target.dtype))
                    report.loaded.append(ours)
        except (OSError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"cannot read {path.name}: {e}") from e
    loaded = set(report.loaded)
    backbone_prefixes = tuple(ours for _, ours in PREFIXES)
    report.missing = sorted(k for k in targets if k not in loaded)
    if strict:
        missing_backbone = [k for k in report.missing if k.startswith(backbone_prefixes)]
        if missing_backbone or report.unexpected:
            raise CheckpointError(
                f"OpenVLA import does not fit: {len(missing_backbone)} backbone tensors missing "
                f"(e.g. {missing_backbone[:3]}), {len(report.unexpected)} unexpected (e.g. {report.unexpected[:3]})"
            )
    return report


def openvla_normalizer(folder: str | os.PathLike[str], dataset: str) -> ActionNormalizer:
    """Action statistics from OpenVLA's config.json `norm_stats[dataset]["action"]` (q01/q99)."""
    path = Path(folder) / "config.json"
    try:
        stats = json.loads(path.read_text())["norm_stats"]
        entry = stats[dataset]["action"]
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} has no norm_stats for {dataset!r}: {e!r}") from e
    return ActionNormalizer.from_stats(entry, key=dataset)
