"""Visual prompts sampled from a target mask, the way this project's Pixel-160K annotator does
(``packages/sim/pixelvla_sim/annotate.py``, which LIBERO's environment cannot import).

From the target's mask on the first frame: 1-3 positive points inside the mask (eroded by one
pixel when enough is left), a line across the object through a random inner pixel at a random
angle (its endpoints are the object's own pixels farthest apart along it), the outer box, and the
mask itself as COCO RLE. The output is the prompt JSON of packages/model/README.md, which the
server validates and encodes itself.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from . import rle

PROMPT_TYPES: Final = ("none", "point", "line", "box", "mask")


def _erode(mask: np.ndarray) -> np.ndarray:
    m = np.pad(mask, 1)
    return m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]


def _centre(col: float, row: float, w: int, h: int) -> list[float]:
    return [min(1.0, max(0.0, (col + 0.5) / w)), min(1.0, max(0.0, (row + 0.5) / h))]


def sample_prompts(mask: np.ndarray, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Points, a line, the box and the mask of a non-empty (H, W) bool mask, in that order."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    if not mask.any():
        raise ValueError("cannot sample prompts from an empty mask")
    inner = _erode(mask)
    pool = inner if inner.sum() >= 3 else mask
    rows, cols = np.nonzero(pool)
    picks = rng.choice(len(rows), size=int(rng.integers(1, 4)), replace=len(rows) < 3)
    out: list[dict[str, Any]] = []
    for i in picks:
        x, y = _centre(float(cols[i]), float(rows[i]), w, h)
        out.append({"type": "point", "x": x, "y": y, "positive": True})

    mr, mc = np.nonzero(mask)
    k = int(rng.integers(0, len(rows)))
    r0, c0 = float(rows[k]), float(cols[k])
    theta = float(rng.uniform(0.0, math.pi))
    d = np.array([math.cos(theta), math.sin(theta)])
    rel = np.stack([mc - c0, mr - r0], axis=1)
    along = rel @ d
    across = np.abs(rel @ np.array([-d[1], d[0]]))
    on_line = np.nonzero(across <= 0.75)[0]
    lo, hi = on_line[np.argmin(along[on_line])], on_line[np.argmax(along[on_line])]
    if lo == hi:  # a one-pixel sliver: span the pixel
        a = _centre(float(mc[lo]) - 0.5, float(mr[lo]), w, h)
        b = _centre(float(mc[lo]) + 0.5, float(mr[lo]), w, h)
    else:
        a = _centre(float(mc[lo]), float(mr[lo]), w, h)
        b = _centre(float(mc[hi]), float(mr[hi]), w, h)
    out.append({"type": "line", "points": [a, b]})
    out.append(
        {
            "type": "box",
            "x0": float(mc.min()) / w,
            "y0": float(mr.min()) / h,
            "x1": float(mc.max() + 1) / w,
            "y1": float(mr.max() + 1) / h,
        }
    )
    out.append({"type": "mask", "rle": rle.encode(mask)})
    return out


def select(prompts: list[dict[str, Any]], kind: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The prompts of one type, and the pixel masks that go with them (the drawn mask is also the
    pixel mask, as in training and the studio). ``none`` sends neither."""
    if kind not in PROMPT_TYPES:
        raise ValueError(f"unknown prompt type {kind!r}; expected one of {', '.join(PROMPT_TYPES)}")
    if kind == "none":
        return [], []
    chosen = [p for p in prompts if p["type"] == kind]
    masks = [p["rle"] for p in chosen] if kind == "mask" else []
    return chosen, masks
