"""COCO run-length encoding of binary masks, byte-compatible with pycocotools.

A mask of shape (H, W) is read in column-major (Fortran) order and stored as alternating run
lengths, starting with a run of zeros (possibly of length 0). The compressed ``counts`` string is
COCO's LEB128-like text form: each count (from the third on, minus the count two places back) is
written in 5-bit groups, least significant first, as characters ``chr(48 + group)`` with bit 0x20
meaning "more groups follow" and bit 0x10 of the last group carrying the sign.

The TypeScript twin lives in ``packages/model/src/rle.ts``; ``testdata/rle.json`` pins both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from pixelvla.errors import RleError

# A mask side beyond this is not a camera frame we serve; refusing it bounds decode memory.
MAX_SIDE = 16384
# 7 groups of 5 bits carry any count (or delta) of a mask within MAX_SIDE**2 = 2**28 pixels, and
# keep every intermediate exact in a JavaScript double, so both languages reject the same strings.
MAX_GROUPS = 7


class Rle(TypedDict):
    size: list[int]
    counts: str


def encode(mask: np.ndarray) -> Rle:
    """Encode a (H, W) bool/uint8 mask (non-zero = foreground) to COCO compressed RLE."""
    if not isinstance(mask, np.ndarray):
        raise RleError(f"mask must be a numpy array, got {type(mask).__name__}")
    if mask.ndim != 2:
        raise RleError(f"mask must have shape (H, W), got shape {tuple(mask.shape)}")
    if mask.dtype != np.bool_ and mask.dtype.kind not in "ui":
        raise RleError(f"mask dtype must be bool or an integer type, got {mask.dtype}")
    h, w = (int(s) for s in mask.shape)
    _check_size(h, w)
    flat = np.asarray(mask != 0).ravel(order="F")
    return {"size": [h, w], "counts": counts_to_string(_runs(flat))}


def decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode COCO RLE (compressed string or uncompressed list counts) to a bool (H, W) mask."""
    (h, w), counts = _parse(rle)
    values = np.zeros(len(counts), dtype=np.bool_)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((w, h)).T.copy()


def area(rle: Mapping[str, Any]) -> int:
    """Number of foreground pixels; validates the RLE like :func:`decode` without rasterising."""
    _, counts = _parse(rle)
    return int(counts[1::2].sum())


def validate(rle: Mapping[str, Any]) -> tuple[int, int]:
    """Check that ``rle`` is well-formed and its counts cover exactly H*W pixels; return (H, W)."""
    size, _ = _parse(rle)
    return size


def counts_to_string(counts: Sequence[int] | np.ndarray) -> str:
    """COCO's ``rleToString``: run lengths -> compressed ASCII string."""
    out: list[str] = []
    prev2 = 0
    prev1 = 0
    for i, c in enumerate(int(c) for c in counts):
        x = c - prev2 if i > 2 else c
        prev2, prev1 = prev1, c
        more = True
        while more:
            group = x & 0x1F
            x >>= 5  # Python's >> on negatives is arithmetic, like C's on the signed long COCO uses.
            more = (x != -1) if (group & 0x10) else (x != 0)
            if more:
                group |= 0x20
            out.append(chr(group + 48))
    return "".join(out)


def string_to_counts(s: str) -> list[int]:
    """COCO's ``rleFrString``: compressed ASCII string -> run lengths (not yet validated)."""
    counts: list[int] = []
    p = 0
    n = len(s)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                raise RleError("RLE counts string ends in the middle of a number")
            c = ord(s[p]) - 48
            if c < 0 or c > 63:
                raise RleError(f"RLE counts string has an invalid character {s[p]!r} at offset {p}")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if k > MAX_GROUPS:
                raise RleError("RLE counts string encodes a number that is too large")
            if not more and (c & 0x10):
                x -= 1 << (5 * k)  # sign-extend the last group
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _runs(flat: np.ndarray) -> list[int]:
    n = flat.size
    if n == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [n]))
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs.insert(0, 0)  # COCO runs always start with the zeros
    return [int(r) for r in runs]


def _check_size(h: int, w: int) -> None:
    if h < 0 or w < 0 or h > MAX_SIDE or w > MAX_SIDE:
        raise RleError(f"RLE size must be within [0, {MAX_SIDE}] per side, got [{h}, {w}]")


def _parse(rle: Mapping[str, Any]) -> tuple[tuple[int, int], np.ndarray]:
    if not isinstance(rle, Mapping):
        raise RleError(f"RLE must be a dict with 'size' and 'counts', got {type(rle).__name__}")
    if "size" not in rle or "counts" not in rle:
        raise RleError(f"RLE must have keys 'size' and 'counts', got {sorted(map(str, rle))}")
    size = rle["size"]
    if (
        not isinstance(size, Sequence)
        or isinstance(size, str | bytes)
        or len(size) != 2
        or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in size)
    ):
        raise RleError(f"RLE 'size' must be [H, W] integers, got {size!r}")
    h, w = int(size[0]), int(size[1])
    _check_size(h, w)
    raw = rle["counts"]
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError as e:
            raise RleError("RLE counts bytes are not ASCII") from e
    if isinstance(raw, str):
        counts_list = string_to_counts(raw)
    elif isinstance(raw, Sequence) and all(
        isinstance(c, int | np.integer) and not isinstance(c, bool) for c in raw
    ):
        counts_list = [int(c) for c in raw]
    else:
        raise RleError("RLE 'counts' must be a compressed string or a list of integers")
    counts = np.asarray(counts_list, dtype=np.int64)
    if counts.size and counts.min() < 0:
        raise RleError("RLE counts must be non-negative run lengths")
    total = int(counts.sum())
    if total != h * w:
        raise RleError(
            f"RLE counts cover {total} pixels but size [{h}, {w}] has {h * w} "
            "(mask size does not match its RLE)"
        )
    return (h, w), counts
