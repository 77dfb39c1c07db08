"""Text-to-patch grounding loss for the base stage (ours, issue #15).

The base stage learns from one signal: the next action token. To act on "pick up the green cube" the
LLM must find the green cube's patch among 64 and read where it is, and an action loss says that only
indirectly (a wrong guess costs a little error in the first step). The simulator knows which object an
instruction names (the annotation's mask of the grasped object), so this loss says it directly: from
the LLM's hidden state at the position that predicts the first action token (it has read the image
and the whole instruction) a query, from every patch position's hidden state a key; their scaled dot
products over the patches are trained with cross-entropy towards the target's share of each patch.

Only frames before the gripper first closes are used (the object is still where the mask of the
initial frame shows it). The head is a training aid: it is checkpointed with the run (exact resume)
and not part of the bundle.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PREFIX = "grounding."  # its tensors' names in a training checkpoint


class GroundingHead(nn.Module):
    def __init__(self, dim: int, key_dim: int = 64) -> None:
        super().__init__()
        self.query = nn.Linear(dim, key_dim)
        self.key = nn.Linear(dim, key_dim)
        self.scale = key_dim**-0.5

    def forward(self, hidden: torch.Tensor, query_index: torch.Tensor, n_patches: int) -> torch.Tensor:
        """hidden (B, L, D) LLM outputs; query_index (B,) the query position of each row; the patches at
        positions 1..n_patches (after BOS). Returns logits (B, n_patches)."""
        q = self.query(torch.gather(hidden, 1, query_index.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])))
        k = self.key(hidden[:, 1 : 1 + n_patches])
        return (q @ k.transpose(1, 2)).squeeze(1).float() * self.scale


def grounding_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Soft cross-entropy towards `target` (B, N) patch shares (rows sum to 1) over the valid rows;
    0 (with a graph) when no row is valid."""
    if not bool(valid.any()):
        return logits.sum() * 0.0
    logp = F.log_softmax(logits[valid], dim=-1)
    return -(target[valid] * logp).sum(-1).mean()


class HiddenCapture:
    """A forward hook on the LLM's decoder stack that keeps its last hidden states and attention
    mask, so the loop can read them after the model's own forward."""

    def __init__(self, module: nn.Module) -> None:
        self.hidden: torch.Tensor | None = None
        self.attention_mask: torch.Tensor | None = None
        self._handle = module.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, _module: nn.Module, _args: Any, kwargs: dict[str, Any], output: Any) -> None:
        self.hidden = output.last_hidden_state
        self.attention_mask = kwargs.get("attention_mask")

    def take(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.hidden is not None and self.attention_mask is not None
        hidden, mask = self.hidden, self.attention_mask
        self.hidden = self.attention_mask = None
        return hidden, mask

    def close(self) -> None:
        self._handle.remove()
