"""Continuous action decoder (paper): final-layer hidden states of the action slots -> linear
projector -> N_r residual blocks (LayerNorm -> Linear, plus residual) -> MLP -> (N_c, 7).

(ours, after OpenVLA-OFT) the 7 slot states of one chunk step are concatenated, (N_c, 7 * D); a GELU
follows each block's Linear so the residual stack is not a single linear map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.gelu(self.fc(self.norm(x)))


class ActionDecoder(nn.Module):
    def __init__(self, llm_dim: int, hidden: int, action_dim: int, num_blocks: int) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.proj = nn.Linear(action_dim * llm_dim, hidden)
        self.blocks = nn.ModuleList(ResidualBlock(hidden) for _ in range(num_blocks))
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, action_dim)

    def forward(self, slot_states: torch.Tensor) -> torch.Tensor:
        """(B, N_c * 7, D) -> (B, N_c, 7) normalised actions."""
        b, n, d = slot_states.shape
        x = self.proj(slot_states.reshape(b, n // self.action_dim, self.action_dim * d))
        for block in self.blocks:
            x = block(x)
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(pred.float(), target.float())
