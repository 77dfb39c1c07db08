"""COCO compressed RLE encoding (the format ``pixelvla.rle`` and pycocotools read), encode only.

Column-major runs starting with a zero run; each count from the third on is stored as the
difference from the count two places back, in 5-bit groups (least significant first) written as
``chr(48 + group)``, bit 0x20 = more groups follow, bit 0x10 of the last group = sign.
``tests/test_prompts.py`` checks the strings against ``pixelvla.rle``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def runs(mask: np.ndarray) -> list[int]:
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    out = np.diff(bounds).tolist()
    return [0, *out] if flat[0] else out


def counts_string(counts: list[int]) -> str:
    chars: list[str] = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            group = x & 0x1F
            x >>= 5
            more = not ((x == 0 and not group & 0x10) or (x == -1 and group & 0x10))
            chars.append(chr(48 + (group | 0x20 if more else group)))
    return "".join(chars)


def encode(mask: np.ndarray) -> dict[str, Any]:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {m.shape}")
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": counts_string(runs(m))}
