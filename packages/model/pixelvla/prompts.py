"""Visual prompts and their featurisation into the prompt encoder's fixed-size arrays.

Coordinates are normalised image coordinates in [0, 1], x to the right and y down, with (0, 0) the
top-left *corner* of the top-left pixel and (1, 1) the bottom-right corner of the bottom-right pixel.
So the centre of pixel (px, py) in a W x H image is ((px + 0.5) / W, (py + 0.5) / H): the canvas
converts clicks with this half-pixel shift, and the encoder consumes the numbers as they are.

Featurisation is a pure function whose every floating-point step is an IEEE-754 double operation
(+, -, *, /, sqrt) followed by one rounding to float32, so the TypeScript twin
(``packages/model/src/featurize.ts``) reproduces it bit for bit; ``testdata/`` pins both.

Token layout: tokens are emitted in prompt order, each prompt contributing consecutive tokens
(point 1, box 2 = top-left then bottom-right, line 8 = arc-length samples from the first point to
the last, mask 1), then padding (type 0, valid False, all zeros). No prompts -> one "none" token.
"""

from __future__ import annotations

import itertools
import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np

from pixelvla import rle as rle_codec
from pixelvla.errors import PromptError

MAX_TOKENS: Final = 16
MAX_MASKS: Final = 2
MASK_SIZE: Final = 64
LINE_POINTS: Final = 8
MAX_LINE_INPUT_POINTS: Final = 1024
# Shorter than ~1/50 of a pixel on a 224 image: a click, not a stroke.
MIN_LINE_LENGTH: Final = 1e-4

# Token type ids (the encoder's type-embedding rows).
TYPE_PAD: Final = 0
TYPE_NONE: Final = 1
TYPE_POINT_POS: Final = 2
TYPE_POINT_NEG: Final = 3
TYPE_BOX_TL: Final = 4
TYPE_BOX_BR: Final = 5
TYPE_LINE: Final = 6
TYPE_MASK: Final = 7
NUM_TYPES: Final = 8

TOKENS_PER_PROMPT: Final = {"point": 1, "box": 2, "line": LINE_POINTS, "mask": 1}

FEATURE_SPEC: Final[dict[str, tuple[tuple[int, ...], np.dtype[Any]]]] = {
    "coords": ((MAX_TOKENS, 2), np.dtype(np.float32)),
    "types": ((MAX_TOKENS,), np.dtype(np.int32)),
    "index": ((MAX_TOKENS,), np.dtype(np.int32)),
    "mask_slot": ((MAX_TOKENS,), np.dtype(np.int32)),
    "masks": ((MAX_MASKS, MASK_SIZE, MASK_SIZE), np.dtype(np.float32)),
    "valid": ((MAX_TOKENS,), np.dtype(np.bool_)),
}


# Client values in error messages are shown shortened (and a deeply nested one never recursed into).
_show = reprlib.Repr()
_show.maxstring = 60
_show.maxother = 60


def _coord(value: object, name: str) -> float:
    # bool is an int subclass; a JSON `true` where a number belongs is a client bug, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise PromptError(f"{name} must be a number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond any double, e.g. JSON 1 followed by 400 zeros
        raise PromptError(f"{name} must be finite, got an integer too large for a double") from None
    if not math.isfinite(v):
        raise PromptError(f"{name} must be finite, got {v}")
    if v < 0.0 or v > 1.0:
        raise PromptError(f"{name} must be a normalised coordinate in [0, 1], got {v}")
    return v


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    positive: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _coord(self.x, "point x"))
        object.__setattr__(self, "y", _coord(self.y, "point y"))
        if not isinstance(self.positive, bool | np.bool_):
            raise PromptError(f"point 'positive' must be a boolean, got {_show.repr(self.positive)}")
        object.__setattr__(self, "positive", bool(self.positive))


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "x1", "y1"):
            object.__setattr__(self, name, _coord(getattr(self, name), f"box {name}"))
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise PromptError(
                "box must have x1 > x0 and y1 > y0 (non-zero area, top-left first), got "
                f"({self.x0}, {self.y0}, {self.x1}, {self.y1})"
            )


@dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        pts = self.points
        if not _is_list(pts):
            raise PromptError("line 'points' must be a list of [x, y] pairs")
        if len(pts) < 2:
            raise PromptError(f"line needs at least 2 points, got {len(pts)}")
        if len(pts) > MAX_LINE_INPUT_POINTS:
            raise PromptError(f"line has {len(pts)} points; at most {MAX_LINE_INPUT_POINTS} are accepted")
        clean: list[tuple[float, float]] = []
        for i, p in enumerate(pts):
            if not _is_list(p) or len(p) != 2:
                raise PromptError(f"line point {i} must be an [x, y] pair, got {_show.repr(p)}")
            clean.append((_coord(p[0], f"line point {i} x"), _coord(p[1], f"line point {i} y")))
        object.__setattr__(self, "points", tuple(clean))
        if _cumulative_lengths(clean)[-1] < MIN_LINE_LENGTH:
            raise PromptError(
                f"line has zero length (total length below {MIN_LINE_LENGTH} in normalised units)"
            )


@dataclass(frozen=True)
class Mask:
    """A COCO RLE mask at any size up to rle.MAX_SIDE; featurised from its runs (rle.coverage),
    so its cost does not depend on the size it declares."""

    rle: Mapping[str, Any]

    def __post_init__(self) -> None:
        # Validates structure and size (RleError) without rasterising.
        (h, w), runs = rle_codec.parse(self.rle)
        if not runs[1::2].any():
            raise PromptError(f"mask prompt is empty (no foreground pixels in a {h}x{w} mask)")
        counts = self.rle["counts"]
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        size = [int(s) for s in self.rle["size"]]
        object.__setattr__(
            self, "rle", {"size": size, "counts": counts if isinstance(counts, str) else list(counts)}
        )


Prompt: TypeAlias = Point | Box | Line | Mask


# --------------------------------------------------------------------------- JSON


def _is_list(v: object) -> bool:
    """A JSON array: a list/tuple, or a numpy array of at least one dimension (msgpack clients)."""
    if isinstance(v, np.ndarray):
        return v.ndim >= 1
    return isinstance(v, Sequence) and not isinstance(v, str | bytes | bytearray)


def _expect_keys(d: Mapping[str, Any], required: set[str], optional: set[str], kind: str) -> None:
    keys = set(d)
    missing = required - keys
    extra = keys - required - optional - {"type"}
    if missing:
        raise PromptError(f"{kind} prompt is missing {sorted(missing)}")
    if extra:
        shown = sorted(extra)
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        raise PromptError(f"{kind} prompt has unknown keys {shown[:8]}{more}")


def prompt_from_json(d: object) -> Prompt:
    if not isinstance(d, Mapping):
        raise PromptError(f"a prompt must be a JSON object, got {type(d).__name__}")
    odd = [k for k in d if not isinstance(k, str)]
    if odd:  # msgpack maps may have integer or binary keys; JSON objects never do
        raise PromptError(f"prompt keys must be strings, got {_show.repr(odd[0])}")
    kind = d.get("type")
    if not isinstance(kind, str):  # an array's == would compare elementwise (msgpack clients)
        raise PromptError(f"unknown prompt type {_show.repr(kind)}; expected one of point, box, line, mask")
    if kind == "point":
        _expect_keys(d, {"x", "y"}, {"positive"}, "point")
        return Point(d["x"], d["y"], d.get("positive", True))
    if kind == "box":
        _expect_keys(d, {"x0", "y0", "x1", "y1"}, set(), "box")
        return Box(d["x0"], d["y0"], d["x1"], d["y1"])
    if kind == "line":
        _expect_keys(d, {"points"}, set(), "line")
        return Line(d["points"])
    if kind == "mask":
        _expect_keys(d, {"rle"}, set(), "mask")
        return Mask(d["rle"])
    raise PromptError(f"unknown prompt type {_show.repr(kind)}; expected one of point, box, line, mask")


def prompts_from_json(items: object) -> list[Prompt]:
    """Parse the JSON prompt list the studio sends; every problem is a PromptError/RleError."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise PromptError("prompts must be a JSON list of prompt objects")
    return [prompt_from_json(d) for d in items]


def prompt_to_json(p: Prompt) -> dict[str, Any]:
    if isinstance(p, Point):
        return {"type": "point", "x": p.x, "y": p.y, "positive": p.positive}
    if isinstance(p, Box):
        return {"type": "box", "x0": p.x0, "y0": p.y0, "x1": p.x1, "y1": p.y1}
    if isinstance(p, Line):
        return {"type": "line", "points": [[x, y] for x, y in p.points]}
    if isinstance(p, Mask):
        return {"type": "mask", "rle": dict(p.rle)}
    raise PromptError(f"not a prompt: {type(p).__name__}")


def prompts_to_json(prompts: Sequence[Prompt]) -> list[dict[str, Any]]:
    return [prompt_to_json(p) for p in prompts]


# --------------------------------------------------------------------------- geometry


def _cumulative_lengths(points: Sequence[tuple[float, float]]) -> list[float]:
    # sqrt(dx*dx + dy*dy), not hypot: hypot's rounding differs between libms and JS engines.
    acc = [0.0]
    for (ax, ay), (bx, by) in itertools.pairwise(points):
        dx = bx - ax
        dy = by - ay
        acc.append(acc[-1] + math.sqrt(dx * dx + dy * dy))
    return acc


def resample_polyline(
    points: Sequence[tuple[float, float]], k: int = LINE_POINTS
) -> list[tuple[float, float]]:
    """K points equally spaced by arc length, from the first point to the last (float64)."""
    cum = _cumulative_lengths(points)
    total = cum[-1]
    out = [points[0]]
    seg = 0
    for i in range(1, k - 1):
        t = total * i / (k - 1)
        # Advance to the segment containing t; zero-length segments are skipped by the <=.
        while seg < len(points) - 2 and cum[seg + 1] <= t:
            seg += 1
        length = cum[seg + 1] - cum[seg]
        u = (t - cum[seg]) / length if length > 0.0 else 0.0
        (ax, ay), (bx, by) = points[seg], points[seg + 1]
        out.append((ax + u * (bx - ax), ay + u * (by - ay)))
    out.append(points[-1])
    return out


def _overlap_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) int64: length of overlap between output cell i and input cell r.

    Both axes are scaled to a common integer grid of n_in * n_out units: input cell r spans
    [r * n_out, (r + 1) * n_out) and output cell i spans [i * n_in, (i + 1) * n_in).
    """
    r = np.arange(n_in, dtype=np.int64)
    i = np.arange(n_out, dtype=np.int64)[:, None]
    lo = np.maximum(r * n_out, i * n_in)
    hi = np.minimum((r + 1) * n_out, (i + 1) * n_in)
    return np.maximum(hi - lo, 0)


def area_resample(mask: np.ndarray, size: int) -> np.ndarray:
    """Fractional coverage of each cell of a size x size grid by a binary (H, W) mask.

    Exact: the covered area is an integer in the scaled grid (computed in float64, which is exact
    for integers below 2**53), divided once by the cell area H * W and rounded once to float32.
    """
    h, w = mask.shape
    if h == 0 or w == 0:
        raise PromptError(f"mask has an empty size {h}x{w}")
    rows = _overlap_matrix(h, size).astype(np.float64)
    cols = _overlap_matrix(w, size).astype(np.float64)
    covered = rows @ mask.astype(np.float64) @ cols.T
    return (covered / float(h * w)).astype(np.float32)


# --------------------------------------------------------------------------- featurisation


def _as_prompt(p: object, i: int) -> Prompt:
    if isinstance(p, Point | Box | Line | Mask):
        return p
    raise PromptError(f"prompt {i} is a {type(p).__name__}, not a Point, Box, Line or Mask")


def count_tokens(prompts: Sequence[Prompt]) -> int:
    return sum(TOKENS_PER_PROMPT[type(p).__name__.lower()] for p in prompts)


def featurize(prompts: Sequence[Prompt]) -> dict[str, np.ndarray]:
    """Prompts -> the encoder's input arrays (no batch dimension); see FEATURE_SPEC."""
    if isinstance(prompts, str | bytes | Mapping) or not isinstance(prompts, Sequence):
        raise PromptError("prompts must be a list of Point, Box, Line or Mask")
    ps = [_as_prompt(p, i) for i, p in enumerate(prompts)]
    n_tokens = count_tokens(ps)
    if n_tokens > MAX_TOKENS:
        raise PromptError(
            f"prompts need {n_tokens} tokens but the encoder takes at most {MAX_TOKENS} "
            f"(max_tokens; point 1, box 2, line {LINE_POINTS}, mask 1)"
        )
    n_masks = sum(isinstance(p, Mask) for p in ps)
    if n_masks > MAX_MASKS:
        raise PromptError(f"{n_masks} mask prompts given; at most {MAX_MASKS} (max_masks)")

    coords = np.zeros((MAX_TOKENS, 2), np.float32)
    types = np.zeros(MAX_TOKENS, np.int32)
    index = np.zeros(MAX_TOKENS, np.int32)
    mask_slot = np.zeros(MAX_TOKENS, np.int32)
    masks = np.zeros((MAX_MASKS, MASK_SIZE, MASK_SIZE), np.float32)
    valid = np.zeros(MAX_TOKENS, np.bool_)

    if not ps:
        types[0] = TYPE_NONE
        valid[0] = True
    t = 0
    slot = 0
    for p in ps:
        if isinstance(p, Point):
            coords[t] = (p.x, p.y)
            types[t] = TYPE_POINT_POS if p.positive else TYPE_POINT_NEG
            t += 1
        elif isinstance(p, Box):
            coords[t] = (p.x0, p.y0)
            types[t] = TYPE_BOX_TL
            coords[t + 1] = (p.x1, p.y1)
            types[t + 1] = TYPE_BOX_BR
            t += 2
        elif isinstance(p, Line):
            for k, xy in enumerate(resample_polyline(p.points)):
                coords[t] = xy
                types[t] = TYPE_LINE
                index[t] = k
                t += 1
        else:
            masks[slot] = rle_codec.coverage(p.rle, MASK_SIZE)  # = area_resample(decode(rle)), unrasterised
            types[t] = TYPE_MASK
            mask_slot[t] = slot
            slot += 1
            t += 1
    valid[:t] = True
    if ps:
        valid[t:] = False
    return {
        "coords": coords,
        "types": types,
        "index": index,
        "mask_slot": mask_slot,
        "masks": masks,
        "valid": valid,
    }


def check_features(features: Mapping[str, Any], *, batched: bool = False) -> None:
    """Raise PromptError unless ``features`` has exactly the FEATURE_SPEC keys, shapes and dtypes."""
    if not isinstance(features, Mapping):
        raise PromptError("features must be a dict of arrays")
    missing = set(FEATURE_SPEC) - set(features)
    extra = set(features) - set(FEATURE_SPEC)
    if missing or extra:
        raise PromptError(f"features keys wrong: missing {sorted(missing)}, unknown {sorted(extra)}")
    batch: int | None = None
    for name, (shape, dtype) in FEATURE_SPEC.items():
        a = features[name]
        if not isinstance(a, np.ndarray):
            raise PromptError(f"feature {name!r} must be a numpy array, got {type(a).__name__}")
        if a.dtype != dtype:
            raise PromptError(f"feature {name!r} must have dtype {dtype}, got {a.dtype}")
        got = tuple(a.shape)
        if batched:
            if len(got) != len(shape) + 1 or got[1:] != shape:
                raise PromptError(f"feature {name!r} must have shape (B, {shape}), got {got}")
            if batch is not None and got[0] != batch:
                raise PromptError(f"feature {name!r} has batch {got[0]}, others have {batch}")
            batch = got[0]
        elif got != shape:
            raise PromptError(f"feature {name!r} must have shape {shape}, got {got}")
    for name in ("coords", "masks"):
        if not np.isfinite(features[name]).all():
            raise PromptError(f"feature {name!r} contains NaN or infinity")
    types = features["types"]
    if types.min(initial=0) < 0 or types.max(initial=0) >= NUM_TYPES:
        raise PromptError(f"feature 'types' must be in [0, {NUM_TYPES})")
    if features["index"].min(initial=0) < 0 or features["index"].max(initial=0) >= LINE_POINTS:
        raise PromptError(f"feature 'index' must be in [0, {LINE_POINTS})")
    slots = features["mask_slot"]
    if slots.min(initial=0) < 0 or slots.max(initial=0) >= MAX_MASKS:
        raise PromptError(f"feature 'mask_slot' must be in [0, {MAX_MASKS})")


# --------------------------------------------------------------------------- pixel masks


def pixel_mask_grid(
    masks: Sequence[Mapping[str, Any] | np.ndarray], grid: int = 16, max_masks: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel masks for the pixel-aware encoder: (max_masks, grid, grid) f32 coverage, (max_masks,) valid.

    Same exact area resampling as the prompt masks. An empty mask is allowed and comes back with
    valid False (the model substitutes its learned "no mask" embedding).

    Why an RLE is resampled from its runs (rle.coverage) and never decoded: the model sees only its
    grid x grid coverage, and a 60-byte RLE can declare 16384 x 16384 pixels (decoding those took
    the worker 16 s and 1.5 GB per mask). From the runs the cost is O(runs + W * grid) for any
    declared size, with the same bits as decoding and area-resampling. Masks of a different size
    than their frame are accepted: coverage is resolution-independent, as the image is resized too.
    """
    if isinstance(masks, str | bytes | Mapping) or not isinstance(masks, Sequence):
        raise PromptError("pixel masks must be a list of RLE dicts or boolean arrays")
    if len(masks) > max_masks:
        raise PromptError(f"{len(masks)} pixel masks given; at most {max_masks} (max_masks)")
    out = np.zeros((max_masks, grid, grid), np.float32)
    valid = np.zeros(max_masks, np.bool_)
    for i, m in enumerate(masks):
        if isinstance(m, np.ndarray):
            if m.ndim != 2 or (m.dtype != np.bool_ and m.dtype.kind not in "ui"):
                raise PromptError(f"pixel mask {i} must be a 2-D bool/integer array, got {m.dtype} {m.shape}")
            binary = m != 0
            if binary.size == 0 or not binary.any():
                continue
            out[i] = area_resample(binary, grid)
        elif isinstance(m, Mapping):
            out[i] = rle_codec.coverage(m, grid)  # zeros for an empty mask
            if not out[i].any():
                continue
        else:
            raise PromptError(f"pixel mask {i} must be an RLE dict or an array, got {type(m).__name__}")
        valid[i] = True
    return out, valid
