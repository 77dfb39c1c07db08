"""Prompt parsing, validation and featurisation (the array contract the encoder consumes)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pixelvla import rle
from pixelvla.errors import PromptError, RleError
from pixelvla.prompts import (
    FEATURE_SPEC,
    MASK_SIZE,
    Box,
    Line,
    Mask,
    Point,
    Prompt,
    area_resample,
    check_features,
    featurize,
    pixel_mask_grid,
    prompts_from_json,
    prompts_to_json,
    resample_polyline,
)


def _square_mask(h: int, w: int, box: tuple[int, int, int, int]) -> dict[str, object]:
    m = np.zeros((h, w), bool)
    m[box[0] : box[1], box[2] : box[3]] = True
    return dict(rle.encode(m))


def test_no_prompts_gives_one_none_token() -> None:
    f = featurize([])
    assert f["valid"].tolist() == [True] + [False] * 15
    assert f["types"][0] == 1 and not f["types"][1:].any()
    assert not f["coords"].any() and not f["masks"].any()


def test_shapes_and_dtypes_match_the_contract() -> None:
    f = featurize([Point(0.5, 0.5)])
    for name, (shape, dtype) in FEATURE_SPEC.items():
        assert f[name].shape == shape and f[name].dtype == dtype, name
    check_features(f)


def test_token_layout_follows_prompt_order() -> None:
    mask = Mask(_square_mask(10, 20, (2, 6, 4, 12)))
    f = featurize([Point(0.1, 0.2, positive=False), Box(0.1, 0.2, 0.6, 0.9), mask, Line([(0, 0), (1, 0)])])
    assert f["types"].tolist() == [3, 4, 5, 7] + [6] * 8 + [0] * 4
    assert f["valid"].tolist() == [True] * 12 + [False] * 4
    assert f["index"].tolist() == [0, 0, 0, 0, *range(8), 0, 0, 0, 0]
    np.testing.assert_array_equal(f["coords"][1], np.float32([0.1, 0.2]))
    np.testing.assert_array_equal(f["coords"][2], np.float32([0.6, 0.9]))
    assert not f["coords"][3].any()  # mask tokens carry no position
    np.testing.assert_allclose(f["coords"][4:12, 0], np.arange(8) / 7, atol=1e-7)
    assert f["mask_slot"][3] == 0
    assert f["masks"][0].sum() == pytest.approx(MASK_SIZE * MASK_SIZE * (4 * 8) / (10 * 20))
    assert not f["masks"][1].any()


def test_second_mask_uses_second_slot() -> None:
    a = Mask(_square_mask(8, 8, (0, 4, 0, 4)))
    b = Mask(_square_mask(8, 8, (4, 8, 4, 8)))
    f = featurize([a, Point(0.5, 0.5), b])
    assert f["mask_slot"][:3].tolist() == [0, 0, 1]
    assert f["masks"][0, 0, 0] == 1.0 and f["masks"][0, -1, -1] == 0.0
    assert f["masks"][1, -1, -1] == 1.0 and f["masks"][1, 0, 0] == 0.0


def test_polyline_resampled_by_arc_length() -> None:
    # An L-shaped line: 0.35 along x then 0.35 down; samples every 0.1 of arc length, and the
    # corner (arc 0.35) falls between samples 3 and 4.
    pts = [(0.0, 0.0), (0.35, 0.0), (0.35, 0.35)]
    out = resample_polyline(pts)
    assert len(out) == 8 and out[0] == pts[0] and out[-1] == pts[-1]
    arc = [x if y == 0.0 else 0.35 + y for x, y in out]
    np.testing.assert_allclose(arc, np.arange(8) * 0.1, atol=1e-12)
    assert out[3][1] == 0.0 and out[4][0] == 0.35


def test_polyline_with_repeated_points() -> None:
    out = resample_polyline([(0.0, 0.0), (0.0, 0.0), (0.7, 0.0), (0.7, 0.0)])
    np.testing.assert_allclose([p[0] for p in out], np.arange(8) / 10, atol=1e-12)


def test_area_resample_is_exact_coverage() -> None:
    m = np.zeros((3, 5), bool)
    m[1, 2] = True  # one pixel out of 15 onto a 2x2 grid
    out = area_resample(m, 2)
    # Pixel (1,2) spans rows [1/3,2/3) and cols [2/5,3/5): a quarter of it in each cell.
    np.testing.assert_array_equal(out, np.float32(np.full((2, 2), (1 / 15) / 4 * 4)))
    full = area_resample(np.ones((37, 91), bool), 64)
    np.testing.assert_array_equal(full, np.ones((64, 64), np.float32))
    assert area_resample(np.ones((7, 3), bool), 64).sum() == 64 * 64


def test_json_round_trip() -> None:
    items = [
        {"type": "point", "x": 0.25, "y": 0.75, "positive": False},
        {"type": "box", "x0": 0.1, "y0": 0.2, "x1": 0.3, "y1": 0.4},
        {"type": "line", "points": [[0.1, 0.1], [0.9, 0.5]]},
        {"type": "mask", "rle": {"size": [3, 4], "counts": "0<"}},
    ]
    assert prompts_to_json(prompts_from_json(items)) == items
    assert prompts_from_json([{"type": "point", "x": 0, "y": 1}]) == [Point(0.0, 1.0, True)]


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"type": "point", "x": float("nan"), "y": 0.5}, "finite"),
        ({"type": "point", "x": float("inf"), "y": 0.5}, "finite"),
        ({"type": "point", "x": 1.5, "y": 0.5}, r"\[0, 1\]"),
        ({"type": "point", "x": -0.01, "y": 0.5}, r"\[0, 1\]"),
        ({"type": "point", "x": "0.5", "y": 0.5}, "number"),
        ({"type": "point", "x": True, "y": 0.5}, "number"),
        ({"type": "point", "x": 0.5, "y": 0.5, "positive": 1}, "boolean"),
        ({"type": "point", "x": 0.5}, "missing"),
        ({"type": "point", "x": 0.5, "y": 0.5, "z": 1}, "unknown keys"),
        ({"type": "box", "x0": 0.5, "y0": 0.1, "x1": 0.5, "y1": 0.4}, "non-zero area"),
        ({"type": "box", "x0": 0.6, "y0": 0.1, "x1": 0.5, "y1": 0.4}, "x1 > x0"),
        ({"type": "line", "points": [[0.5, 0.5]]}, "at least 2"),
        ({"type": "line", "points": [[0.5, 0.5], [0.5, 0.5]]}, "zero length"),
        ({"type": "line", "points": [[0.5, 0.5, 0.1], [0.5, 0.6]]}, "pair"),
        ({"type": "line", "points": "abc"}, "list"),
        ({"type": "mask", "rle": {"size": [3, 4], "counts": "<"}}, "empty"),
        ({"type": "circle"}, "unknown prompt type"),
        ("point", "JSON object"),
    ],
)
def test_bad_prompts_raise_prompt_error(item: object, fragment: str) -> None:
    with pytest.raises(PromptError, match=fragment) as info:
        prompts_from_json([item])
    assert info.value.code == "invalid_prompt"


def test_wrong_sized_mask_raises_rle_error() -> None:
    with pytest.raises(RleError, match="does not match"):
        prompts_from_json([{"type": "mask", "rle": {"size": [3, 5], "counts": "0<"}}])


def test_limits_name_the_limit() -> None:
    line = Line([(0, 0), (1, 1)])
    with pytest.raises(PromptError, match=r"at most 16.*max_tokens"):
        featurize([line, line, Point(0.5, 0.5)])
    featurize([line, line])  # exactly 16 is fine
    m = Mask({"size": [3, 4], "counts": "0<"})
    with pytest.raises(PromptError, match="max_masks"):
        featurize([m, m, m])
    with pytest.raises(PromptError, match="not a Point"):
        featurize([{"type": "point", "x": 0.5, "y": 0.5}])  # type: ignore[list-item]
    with pytest.raises(PromptError, match="list"):
        prompts_from_json({"type": "point"})


def test_check_features_rejects_wrong_dtypes_and_shapes() -> None:
    f = featurize([Point(0.5, 0.5)])
    bad = dict(f, coords=f["coords"].astype(np.float64))
    with pytest.raises(PromptError, match="dtype"):
        check_features(bad)
    with pytest.raises(PromptError, match="shape"):
        check_features(dict(f, types=np.zeros(15, np.int32)))
    with pytest.raises(PromptError, match="NaN"):
        check_features(dict(f, coords=np.full((16, 2), np.nan, np.float32)))
    with pytest.raises(PromptError, match="types"):
        check_features(dict(f, types=np.full(16, 9, np.int32)))
    with pytest.raises(PromptError, match="missing"):
        check_features({k: v for k, v in f.items() if k != "valid"})
    batched = {k: v[None] for k, v in f.items()}
    check_features(batched, batched=True)
    with pytest.raises(PromptError, match="shape"):
        check_features(batched)


def test_pixel_mask_grid() -> None:
    a = np.zeros((224, 224), bool)
    a[:112, :] = True
    grid, valid = pixel_mask_grid([a, _square_mask(5, 5, (0, 0, 0, 0))])
    assert grid.shape == (4, 16, 16) and grid.dtype == np.float32
    assert valid.tolist() == [True, False, False, False]
    assert grid[0, :8].min() == 1.0 and grid[0, 8:].max() == 0.0
    assert not grid[1:].any()
    with pytest.raises(PromptError, match="max_masks"):
        pixel_mask_grid([a] * 5)
    with pytest.raises(PromptError, match="2-D"):
        pixel_mask_grid([np.zeros((2, 2, 2), bool)])


_unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def _prompt_lists(draw: st.DrawFn) -> list[Prompt]:
    out: list[Prompt] = []
    budget, masks = 16, 0
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["point", "box", "line", "mask"]))
        if kind == "point" and budget >= 1:
            out.append(Point(draw(_unit), draw(_unit), draw(st.booleans())))
            budget -= 1
        elif kind == "box" and budget >= 2:
            x0, y0 = draw(st.floats(0, 0.5)), draw(st.floats(0, 0.5))
            out.append(Box(x0, y0, x0 + draw(st.floats(0.01, 0.5)), y0 + draw(st.floats(0.01, 0.5))))
            budget -= 2
        elif kind == "line" and budget >= 8:
            pts = draw(st.lists(st.tuples(_unit, _unit), min_size=2, max_size=12))
            if math.fsum(math.dist(a, b) for a, b in itertools.pairwise(pts)) >= 1e-3:
                out.append(Line(pts))
                budget -= 8
        elif kind == "mask" and budget >= 1 and masks < 2:
            h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
            m = np.zeros((h, w), bool)
            m[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = True
            out.append(Mask(dict(rle.encode(m))))
            budget -= 1
            masks += 1
    return out


@settings(max_examples=150, deadline=None)
@given(_prompt_lists())
def test_featurize_invariants(prompts: list[Prompt]) -> None:
    f = featurize(prompts)
    check_features(f)
    n = sum({"Point": 1, "Box": 2, "Line": 8, "Mask": 1}[type(p).__name__] for p in prompts)
    assert int(f["valid"].sum()) == max(n, 1)
    assert f["valid"][: max(n, 1)].all()  # valid tokens come first, padding after
    assert ((f["coords"] >= 0) & (f["coords"] <= 1)).all()
    assert not f["types"][~f["valid"]].any() and not f["coords"][~f["valid"]].any()
    n_masks = sum(isinstance(p, Mask) for p in prompts)
    for slot in range(2):
        # Each used raster holds exactly the mask's area fraction; unused ones are empty.
        total = f["masks"][slot].sum()
        assert (total > 0) == (slot < n_masks)
    assert json_round_trip(prompts) == prompts


def json_round_trip(prompts: list[Prompt]) -> list[Prompt]:
    return prompts_from_json(json.loads(json.dumps(prompts_to_json(prompts))))
