"""Base-stage action tokens, OpenVLA style: each normalised action dimension in [-1, 1] becomes one
of the last `bins` ids of the tokenizer's vocabulary (OpenVLA overwrites the least used Llama tokens
the same way). Two layouts of those ids (config `action.token_layout`):

- "ascending" (ours, `tiny`): `bins` equal bins on [low, high], bin k is id `vocab_size - bins + k`,
  decoded to the bin's centre.
- "openvla" (`full`, imported OpenVLA checkpoints): OpenVLA's ActionTokenizer exactly.
  edges = np.linspace(low, high, bins) (so bins - 1 intervals), token = vocab_size -
  np.digitize(clip(a, low, high), edges), and token t decodes to centre[clip(vocab_size - t - 1,
  0, bins - 2)]: the order is reversed (a = low is the highest id) and a = high gets id
  vocab_size - bins, which decodes like vocab_size - bins + 1. `vocab_size` is the tokenizer's
  own size (Llama-2: 32000), not the padded embedding table (32064): OpenVLA's ActionTokenizer uses
  tokenizer.vocab_size and predict_action uses text_config.vocab_size - pad_to_multiple_of, both
  32000. The edges come from numpy's linspace in float64 so the bin boundaries are OpenVLA's bits.

Either way the action ids are [vocab_size - bins, vocab_size), which `greedy` restricts the argmax to.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Layout = Literal["ascending", "openvla"]


class ActionTokenizer:
    def __init__(
        self,
        vocab_size: int,
        bins: int = 256,
        low: float = -1.0,
        high: float = 1.0,
        layout: Layout = "ascending",
    ) -> None:
        if layout not in ("ascending", "openvla"):
            raise ValueError(f"unknown action token layout {layout!r}")
        self.vocab_size = vocab_size
        self.bins = bins
        self.first_id = vocab_size - bins
        self.low = low
        self.high = high
        self.layout: Layout = layout
        edges = np.linspace(low, high, bins)
        self._edges = torch.from_numpy(edges)  # float64, OpenVLA's `bins`
        self._centres = torch.from_numpy((edges[:-1] + edges[1:]) / 2.0)  # OpenVLA's `bin_centers`

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        """Normalised actions (..., 7) -> token ids (..., 7) int64."""
        if self.layout == "openvla":
            x = actions.detach().double().clamp(self.low, self.high)
            # torch.bucketize(right=True) is np.digitize for increasing edges.
            digit = torch.bucketize(x, self._edges.to(x.device), right=True)
            return self.vocab_size - digit
        x = actions.clamp(self.low, self.high)
        k = ((x - self.low) / (self.high - self.low) * self.bins).floor().long().clamp(0, self.bins - 1)
        return k + self.first_id

    def decode(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Token ids -> bin centres in [low, high] (float32); ids outside the action range clamp to
        the edge bins."""
        if self.layout == "openvla":
            k = (self.vocab_size - token_ids.long() - 1).clamp(0, self.bins - 2)
            return self._centres.to(token_ids.device)[k].float()
        k = (token_ids.long() - self.first_id).clamp(0, self.bins - 1).float()
        return self.low + (k + 0.5) * (self.high - self.low) / self.bins

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        """The most likely action token id per position, from logits (..., vocab); text tokens never win."""
        return logits[..., self.first_id : self.vocab_size].argmax(-1) + self.first_id

    def is_action(self, token_ids: torch.Tensor) -> torch.Tensor:
        return (token_ids >= self.first_id) & (token_ids < self.vocab_size)
