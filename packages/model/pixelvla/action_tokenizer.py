"""Base-stage action tokens, OpenVLA style: each normalised action dimension in [-1, 1] falls into
one of 256 uniform bins, and bin k is the token id `vocab_size - bins + k`, i.e. the last `bins`
ids of the tokenizer's vocabulary (OpenVLA overwrites the least used Llama tokens the same way).
"""

from __future__ import annotations

import torch


class ActionTokenizer:
    def __init__(self, vocab_size: int, bins: int = 256, low: float = -1.0, high: float = 1.0) -> None:
        self.vocab_size = vocab_size
        self.bins = bins
        self.first_id = vocab_size - bins
        self.low = low
        self.high = high

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        """Normalised actions (..., 7) -> token ids (..., 7) int64."""
        x = actions.clamp(self.low, self.high)
        k = ((x - self.low) / (self.high - self.low) * self.bins).floor().long().clamp(0, self.bins - 1)
        return k + self.first_id

    def decode(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Token ids -> bin centres in [low, high]; ids outside the action range clamp to the edge bins."""
        k = (token_ids.long() - self.first_id).clamp(0, self.bins - 1).float()
        return self.low + (k + 0.5) * (self.high - self.low) / self.bins

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        """The most likely action token id per position, from logits (..., vocab); text tokens never win."""
        return logits[..., self.first_id : self.vocab_size].argmax(-1) + self.first_id

    def is_action(self, token_ids: torch.Tensor) -> torch.Tensor:
        return (token_ids >= self.first_id) & (token_ids < self.vocab_size)
