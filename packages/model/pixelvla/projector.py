"""Projector: vision patch features -> LLM width, Prismatic's fused GELU MLP (C -> 4C -> D -> D).

Attribute names fc1/fc2/fc3 match OpenVLA's checkpoint so the import is a prefix rename.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Projector(nn.Module):
    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(vision_dim, 4 * vision_dim)
        self.fc2 = nn.Linear(4 * vision_dim, llm_dim)
        self.fc3 = nn.Linear(llm_dim, llm_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, N, D): E_v."""
        return self.fc3(F.gelu(self.fc2(F.gelu(self.fc1(patches)))))


class StateProjector(nn.Module):
    """(ours, after OpenVLA-OFT) The robot's proprioceptive state as one LLM token.

    The state is scaled to [-1, 1] with the training data's q01 / q99 (buffers, saved with the
    weights, so a bundle carries them), then a GELU MLP (S -> D -> D). Dimensions that never vary
    in the data (span below 1e-6) are centred but not scaled.
    """

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, state_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.register_buffer("low", torch.zeros(state_dim))
        self.register_buffer("high", torch.ones(state_dim))
        self.fc1 = nn.Linear(state_dim, llm_dim)
        self.fc2 = nn.Linear(llm_dim, llm_dim)

    @torch.no_grad()
    def set_bounds(self, low: torch.Tensor, high: torch.Tensor) -> None:
        low, high = low.to(self.low), high.to(self.high)
        if low.shape != self.low.shape or high.shape != self.high.shape:
            raise ValueError(f"state bounds must have shape {tuple(self.low.shape)}, got {tuple(low.shape)}")
        if not (torch.isfinite(low).all() and torch.isfinite(high).all()) or bool((high < low).any()):
            raise ValueError("state bounds must be finite with low <= high")
        self.low.copy_(low)
        self.high.copy_(high)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """(B, S) raw state -> (B, 1, D)."""
        span = self.high - self.low
        centre = (self.high + self.low) / 2
        x = torch.where(span > 1e-6, 2.0 * (state - centre) / span.clamp_min(1e-6), state - centre)
        x = x.clamp(-2.0, 2.0).to(self.fc1.weight.dtype)
        return self.fc2(F.gelu(self.fc1(x))).unsqueeze(1)
