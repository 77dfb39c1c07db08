"""COCO run-length encoding of binary masks, byte-compatible with pycocotools.

A mask of shape (H, W) is read in column-major (Fortran) order and stored as alternating run
lengths, starting with a run of zeros (possibly of length 0). The compressed ``counts`` string is
COCO's LEB128-like text form: each count (from the third on, minus the count two places back) is
written in 5-bit groups, least significant first, as characters ``chr(48 + group)`` with bit 0x20
meaning "more groups follow" and bit 0x10 of the last group carrying the sign.

Client bytes decide every size here, so every size is checked with exact integer arithmetic before
numpy allocates or loops over anything: a well-formed RLE has at most H*W + 1 runs, every run is an
integer in [0, H*W], and the runs sum to exactly H*W (Python ints, so no int64 wrap-around can make
huge runs look like a small mask). :func:`coverage` turns the runs straight into the model's grid,
so a small RLE declaring a huge mask costs O(runs + W * grid), never an H x W raster.

The TypeScript twin lives in ``packages/model/src/rle.ts`` and accepts exactly the same inputs;
``testdata/rle.json`` pins both on valid masks, ``testdata/malformed/`` on rejected ones.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypedDict

import numpy as np

from pixelvla.errors import RleError

# A mask side beyond this is not a camera frame we serve; refusing it bounds decode memory.
MAX_SIDE: Final = 16384
MAX_PIXELS: Final = MAX_SIDE * MAX_SIDE
# 7 groups of 5 bits carry any count (or delta) of a mask within MAX_SIDE**2 = 2**28 pixels, and
# keep every intermediate exact in a JavaScript double, so both languages reject the same strings.
MAX_GROUPS: Final = 7
# Numbers decoded per vectorised step (bounds the temporaries of a long counts string).
_BLOCK: Final = 1 << 18

_show = reprlib.Repr()
_show.maxstring = 60
_show.maxother = 60


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
    """Decode COCO RLE (compressed string or uncompressed list counts) to a bool (H, W) mask.

    This rasterises at the declared size (up to MAX_SIDE**2 bytes); model inputs use
    :func:`coverage` instead, whose cost does not grow with the declared size.
    """
    (h, w), counts = parse(rle)
    values = np.zeros(len(counts), dtype=np.bool_)
    values[1::2] = True
    flat = np.repeat(values, counts)  # counts are validated: exact sum H*W, each in [0, H*W]
    return flat.reshape((w, h)).T.copy()


def area(rle: Mapping[str, Any]) -> int:
    """Number of foreground pixels; validates the RLE like :func:`decode` without rasterising."""
    _, counts = parse(rle)
    return int(counts[1::2].sum())


def validate(rle: Mapping[str, Any]) -> tuple[int, int]:
    """Check that ``rle`` is well-formed and its counts cover exactly H*W pixels; return (H, W)."""
    size, _ = parse(rle)
    return size


def coverage(rle: Mapping[str, Any], size: int) -> np.ndarray:
    """Fraction of each cell of a size x size grid covered by the mask: float32 (size, size).

    Identical, bit for bit, to area-resampling the decoded mask (``prompts.area_resample``): on a
    common grid of (H * size) x (W * size) units every input pixel and output cell has integer
    extent, the covered area of a cell is an integer, divided once by H * W and rounded once to
    float32. But the integers come from the runs, never from an H x W raster: with F(p) the number
    of foreground pixels before column-major position p (a binary search in the run boundaries),
    the foreground of column c in rows [0, r) is F(c*H + r) - F(c*H), so each column's coverage of
    the size + 1 row boundaries costs O(size log runs). Total O(runs + W * size * log runs) time and
    O(runs + W * size) memory, whatever H * W the RLE declares. A mask with no pixels covers nothing.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 4096:
        raise RleError(f"coverage grid size must be an integer in [1, 4096], got {size!r}")
    (h, w), counts = parse(rle)
    if h == 0 or w == 0:
        return np.zeros((size, size), np.float32)
    n = len(counts)
    bounds = np.zeros(n + 1, np.int64)  # run k covers flat positions [bounds[k], bounds[k + 1])
    np.cumsum(counts, out=bounds[1:])
    fg_runs = counts.copy()
    fg_runs[0::2] = 0
    fg_before = np.zeros(n + 1, np.int64)  # foreground pixels before run k
    np.cumsum(fg_runs, out=fg_before[1:])
    total = h * w

    def foreground_before(p: np.ndarray) -> np.ndarray:
        k = np.searchsorted(bounds, p, side="right") - 1  # the run holding p (n when p == H*W)
        return fg_before[k] + (p - bounds[k]) * (k & 1)

    t = np.arange(size + 1, dtype=np.int64) * h  # output row boundaries in scaled units
    row, rem = t // size, t % size  # the input row each boundary falls in, and how far into it
    cols = _overlap_matrix(w, size).astype(np.float64)  # (size, W)
    covered = np.zeros((size, size), np.float64)  # [j, i]: exact, integers <= H*size * W*size <= 2**52
    step = max(1, _BLOCK // (size + 1))  # columns per block: temporaries of ~_BLOCK values
    for c0 in range(0, w, step):
        col0 = np.arange(c0, min(c0 + step, w), dtype=np.int64)[:, None] * h  # flat position of (0, c)
        at_row = col0 + row  # <= H*W
        fg_at = foreground_before(at_row)
        before_row = fg_at - fg_at[:, :1]  # (columns, size + 1); row[0] is 0, so fg_at[:, 0] = F(col0)
        # The partial row a boundary cuts contributes rem units if that pixel is foreground (rem is
        # 0 exactly when the boundary lies on a pixel edge, the bottom edge included).
        pixel = foreground_before(np.minimum(at_row + 1, total)) - fg_at
        rows_covered = np.diff(before_row * size + rem * pixel, axis=1)  # column c's share of row i
        covered += cols[:, c0 : c0 + step] @ rows_covered.astype(np.float64)
    return (covered.T / float(total)).astype(np.float32)


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


def string_to_counts(s: str, *, max_count: int = MAX_PIXELS, max_runs: int = MAX_PIXELS + 1) -> list[int]:
    """COCO's ``rleFrString``: compressed ASCII string -> run lengths.

    Every run must lie in [0, max_count] and there may be at most ``max_runs`` of them (the
    defaults are the limits of any mask within MAX_SIDE; :func:`parse` passes H*W and H*W + 1).
    """
    if not isinstance(s, str):
        raise RleError(f"RLE counts string must be a str, got {type(s).__name__}")
    return _string_counts(s, max_count, max_runs).tolist()


def _string_counts(s: str, max_count: int, max_runs: int, block: int = _BLOCK) -> np.ndarray:
    """Vectorised ``rleFrString`` with the checks of a left-to-right reader.

    Equivalent, error message included, to reading one character at a time and stopping at the
    first problem (an invalid character, an eighth group, a run out of range, one run too many, a
    string ending inside a number); ``tests/test_decoders_fuzz.py`` checks it against that reader.
    Vectorised because a message may carry megabytes of counts, which a Python loop takes seconds
    over; numbers are decoded in blocks so the temporaries stay small next to the result.
    Exactness: a delta has at most 35 bits and at most max_runs <= 2**28 + 1 of them are summed,
    half per cumulative sum, so no int64 here exceeds 2**62.
    """
    max_count = min(max_count, MAX_PIXELS)
    max_runs = min(max_runs, MAX_PIXELS + 1)
    n = len(s)
    try:
        raw = s.encode("ascii")
        first_bad = n
    except UnicodeEncodeError as err:
        raw = s[: err.start].encode("ascii")
        first_bad = err.start
    v = np.frombuffer(raw, np.uint8) - np.uint8(48)  # a character below "0" wraps around above 63
    invalid = np.flatnonzero(v > 63)
    if invalid.size:
        first_bad = int(invalid[0])
    v = v[:first_bad]  # every character before first_bad is a valid group
    ends = np.flatnonzero((v & 0x20) == 0)  # the last group of each number
    out = np.empty(min(len(ends), max_runs + 1), np.int64)  # one past the limit is enough to report it
    for a in range(0, len(out), block):
        block_ends = ends[a : min(a + block, len(out))]
        starts = np.empty_like(block_ends)
        starts[0] = ends[a - 1] + 1 if a else 0
        starts[1:] = block_ends[:-1] + 1
        lengths = block_ends - starts + 1
        long = np.flatnonzero(lengths > MAX_GROUPS)
        m = int(long[0]) if long.size else len(block_ends)  # numbers read before the reader stops
        x = (v[starts[:m]] & 0x1F).astype(np.int64)
        for k in range(1, MAX_GROUPS):
            has = np.flatnonzero(lengths[:m] > k)
            if not has.size:
                break
            x[has] |= (v[starts[has] + k] & 0x1F).astype(np.int64) << (5 * k)
        negative = np.flatnonzero(v[block_ends[:m]] & 0x10)
        x[negative] -= np.left_shift(1, 5 * lengths[negative])  # sign-extend the last group
        for parity in (0, 1):  # from the third on, each count adds the one two places back
            g = a + parity  # the global index of chain[0]
            chain = x[parity::2]
            if g == 0:
                chain[1:] = np.cumsum(chain[1:])  # count 2 does not add count 0
            elif chain.size:
                chain[:] = np.cumsum(chain) + (out[g - 2] if g >= 3 else 0)
        out[a : a + m] = x
        out_of_range = np.flatnonzero((x < 0) | (x > max_count))
        if out_of_range.size:  # at an index <= max_runs, where the range check comes first
            i = a + int(out_of_range[0])
            _bad_count(i, int(out[i]), max_count)
        if a + m > max_runs:
            _too_many_runs(max_runs)
        if m < len(block_ends):
            raise RleError("RLE counts string encodes a number that is too large")
    tail = int(ends[-1]) + 1 if len(ends) else 0  # where the unfinished number, if any, starts
    if first_bad - tail > MAX_GROUPS:
        raise RleError("RLE counts string encodes a number that is too large")
    if first_bad < n:
        raise RleError(f"RLE counts string has an invalid character {s[first_bad]!r} at offset {first_bad}")
    if tail < n:
        raise RleError("RLE counts string ends in the middle of a number")
    return out


def _bad_count(i: int, c: int, max_count: int) -> None:
    if c < 0:
        raise RleError("RLE counts must be non-negative run lengths")
    raise RleError(f"RLE run {i} is {c} pixels long; the mask has only {max_count} pixels")


def _too_many_runs(max_runs: int) -> None:
    raise RleError(
        f"RLE has more than {max_runs} runs; a mask of {max_runs - 1} pixels has at most {max_runs}"
    )


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


def _overlap_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) int64: overlap of output cell i and input cell r on a grid of n_in * n_out units."""
    r = np.arange(n_in, dtype=np.int64)
    i = np.arange(n_out, dtype=np.int64)[:, None]
    lo = np.maximum(r * n_out, i * n_in)
    hi = np.minimum((r + 1) * n_out, (i + 1) * n_in)
    return np.maximum(hi - lo, 0)


def _check_size(h: int, w: int) -> None:
    if h < 0 or w < 0 or h > MAX_SIDE or w > MAX_SIDE:
        raise RleError(f"RLE size must be within [0, {MAX_SIDE}] per side, got [{h}, {w}]")


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def parse(rle: Mapping[str, Any]) -> tuple[tuple[int, int], np.ndarray]:
    """Validate ``rle``; return (H, W) and its runs as int64 (each in [0, H*W], exact sum H*W)."""
    if not isinstance(rle, Mapping):
        raise RleError(f"RLE must be a dict with 'size' and 'counts', got {type(rle).__name__}")
    if "size" not in rle or "counts" not in rle:
        keys = sorted(_show.repr(k) if not isinstance(k, str) else k for k in list(rle)[:8])
        raise RleError(f"RLE must have keys 'size' and 'counts', got {keys}")
    size = rle["size"]
    if (
        not isinstance(size, Sequence)
        or isinstance(size, str | bytes)
        or len(size) != 2
        or not all(_is_int(s) for s in size)
    ):
        raise RleError(f"RLE 'size' must be [H, W] integers, got {_show.repr(size)}")
    h, w = int(size[0]), int(size[1])
    _check_size(h, w)
    pixels = h * w
    raw = rle["counts"]
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError as e:
            raise RleError("RLE counts bytes are not ASCII") from e
    if isinstance(raw, str):
        counts = _string_counts(raw, pixels, pixels + 1)
    elif isinstance(raw, Sequence) and all(_is_int(c) for c in raw):
        # Checked as Python ints before numpy sees them: np.asarray raises OverflowError on 2**64,
        # and an int64 sum of runs near 2**63 wraps around to a small "valid" total.
        runs = [int(c) for c in raw]
        if len(runs) > pixels + 1 or (runs and (min(runs) < 0 or max(runs) > pixels)):
            for i, c in enumerate(runs):  # report what a left-to-right reader meets first
                if not 0 <= c <= pixels:
                    _bad_count(i, c, pixels)
                if i == pixels + 1:
                    _too_many_runs(pixels + 1)
        counts = np.asarray(runs, dtype=np.int64).reshape(-1)
    else:
        raise RleError("RLE 'counts' must be a compressed string or a list of integers")
    total = int(counts.sum())  # exact: at most H*W + 1 runs of at most H*W <= 2**28 each
    if total != pixels:
        raise RleError(
            f"RLE counts cover {total} pixels but size [{h}, {w}] has {pixels} "
            "(mask size does not match its RLE)"
        )
    return (h, w), counts
