"""Vision backbone: one or two timm ViT towers (Prismatic's DINOv2 + SigLIP fusion for `full`).

Weights are never downloaded (``pretrained=False``); an OpenVLA checkpoint or our own bundle
fills them in. Each tower normalises [0, 1] pixels with its own statistics, then runs only up to
the deepest block anybody reads: the projector's block (second-to-last, as Prismatic does) and
the pixel-aware encoder's levels. Prefix tokens (CLS / registers) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F
from torch import nn

from pixelvla.config import TowerConfig, VisionConfig


def build_tower(cfg: TowerConfig, image_size: int) -> nn.Module:
    return timm.create_model(cfg.arch, pretrained=False, num_classes=0, img_size=image_size, **cfg.overrides)


def _width(tower: nn.Module) -> int:
    width = tower.embed_dim
    assert isinstance(width, int)
    return width


@dataclass
class VisionFeatures:
    patches: torch.Tensor  # (B, N, C_total): the projector's input, towers concatenated channel-wise
    levels: list[torch.Tensor]  # L x (B, N, C_pixel): block outputs for the pixel-aware encoder


class VisionBackbone(nn.Module):
    mean_featurizer: torch.Tensor
    std_featurizer: torch.Tensor

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.featurizer = build_tower(cfg.featurizer, cfg.image_size)
        self.fused_featurizer = (
            build_tower(cfg.fused_featurizer, cfg.image_size) if cfg.fused_featurizer is not None else None
        )
        for name, _tower in self.towers():
            tcfg = cfg.featurizer if name == "featurizer" else cfg.fused_featurizer
            assert tcfg is not None
            # Non-persistent: the statistics are config, not weights.
            self.register_buffer(f"mean_{name}", torch.tensor(tcfg.mean).view(1, 3, 1, 1), persistent=False)
            self.register_buffer(f"std_{name}", torch.tensor(tcfg.std).view(1, 3, 1, 1), persistent=False)
        self.embed_dim: int = sum(_width(t) for _, t in self.towers())
        self.pixel_dim: int = _width(getattr(self, cfg.pixel_tower))

    def towers(self) -> list[tuple[str, nn.Module]]:
        out: list[tuple[str, nn.Module]] = [("featurizer", self.featurizer)]
        if self.fused_featurizer is not None:
            out.append(("fused_featurizer", self.fused_featurizer))
        return out

    def forward(self, pixel_values: torch.Tensor) -> VisionFeatures:
        """pixel_values: (B, 3, H, W) float in [0, 1] at the configured image size."""
        patches: list[torch.Tensor] = []
        levels: list[torch.Tensor] = []
        for name, tower in self.towers():
            depth = len(tower.blocks)  # type: ignore[arg-type]
            feature_block = self.cfg.feature_block % depth
            wanted = [feature_block]
            if name == self.cfg.pixel_tower:
                wanted += list(self.cfg.pixel_levels)
            indices = sorted(set(wanted))
            x = (pixel_values - getattr(self, f"mean_{name}")) / getattr(self, f"std_{name}")
            outs = tower.forward_intermediates(  # type: ignore[operator]
                x, indices=indices, stop_early=True, output_fmt="NLC", intermediates_only=True
            )
            by_block = dict(zip(indices, outs, strict=True))
            patches.append(by_block[feature_block])
            if name == self.cfg.pixel_tower:
                levels = [by_block[i] for i in self.cfg.pixel_levels]
        return VisionFeatures(patches=torch.cat(patches, dim=-1), levels=levels)


def images_to_pixels(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, size, size) in [0, 1]: bilinear with antialias, no crop
    (Prismatic's resize-naive). Training batches and the policy both go through this one function."""
    x = images.permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0.0, 1.0)
