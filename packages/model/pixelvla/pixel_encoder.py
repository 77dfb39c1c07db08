"""Multiscale pixel-aware encoder -> E_p (paper): masked average pooling of L feature levels with
the pixel mask, a linear Gamma_i per level, a sum over levels, then an MLP (D -> D -> D, GELU, ours).

(ours) One token per mask (N_p = 1), at most `max_masks` masks given as soft area coverage on the
patch grid (prompts.pixel_mask_grid). A mask that is absent or empty becomes the learned "no mask"
embedding; its slot is valid only when no mask at all is present, so the LLM always sees >= 1 token.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PixelAwareEncoder(nn.Module):
    def __init__(self, level_dim: int, num_levels: int, dim: int) -> None:
        super().__init__()
        self.gammas = nn.ModuleList(nn.Linear(level_dim, dim) for _ in range(num_levels))
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.no_mask = nn.Parameter(torch.randn(dim) * 0.02)

    def forward(
        self, levels: list[torch.Tensor], mask: torch.Tensor, mask_valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """levels: L x (B, N, C) with N = g*g patches; mask: (B, M, g, g) coverage in [0, 1];
        mask_valid: (B, M) bool. Returns E_p (B, M, D) and its token validity (B, M)."""
        b, m = mask.shape[:2]
        p = mask.reshape(b, m, -1).to(levels[0].dtype)  # (B, M, N)
        area = p.sum(-1, keepdim=True)  # |p|
        present = mask_valid & (area.squeeze(-1) > 0)
        pooled_sum = sum(
            gamma(torch.bmm(p, f) / area.clamp_min(1e-6))
            for gamma, f in zip(self.gammas, levels, strict=True)
        )
        assert isinstance(pooled_sum, torch.Tensor)
        tokens = self.fc2(F.gelu(self.fc1(pooled_sum)))
        tokens = torch.where(present.unsqueeze(-1), tokens, self.no_mask.to(tokens.dtype).expand_as(tokens))
        none_present = ~present.any(dim=1, keepdim=True)
        first = torch.zeros_like(present)
        first[:, 0] = True
        valid = present | (none_present & first)
        return tokens, valid
