"""Visual prompt-aware encoder, server half (ours): MLP 256 -> D -> D (GELU) on the browser half's
tokens, giving E_s. The browser half (PromptEncoder, exported to ONNX) lives in prompt_encoder.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PromptProjector(nn.Module):
    def __init__(self, prompt_dim: int, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(prompt_dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N_s, 256) -> (B, N_s, D)."""
        return self.fc2(F.gelu(self.fc1(tokens)))
