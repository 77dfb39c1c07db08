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
