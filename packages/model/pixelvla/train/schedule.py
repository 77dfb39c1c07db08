"""Learning-rate schedule: linear warm-up, then cosine decay to a floor (docs/MODEL.md: cosine, 1k warm-up)."""

from __future__ import annotations

import math


def lr_factor(step: int, *, warmup_steps: int, total_steps: int, min_factor: float = 0.0) -> float:
    """Multiplier on the base learning rate at `step` (0-based, the step about to be taken)."""
    if total_steps <= 0:
        raise ValueError("total_steps must be positive")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))
