"""Generate the cross-language test vectors in ``packages/model/testdata/``.

    .venv/bin/python -m pixelvla.testvectors [--out packages/model/testdata]

Python is the reference: the TypeScript tests (``src/*.test.ts``) must reproduce these files'
featurised arrays bit for bit, the RLE strings exactly, the msgpack bytes exactly, and the
encoder tokens (run through onnxruntime-node on ``prompt_encoder.onnx``) within 1e-4.
Arrays are stored as {"dtype", "shape", "b64"} (little-endian, C order) so floats stay exact.
Everything is deterministic; ``tests/test_vectors.py`` checks the committed files are current
(JSON compared as parsed values, since prettier reformats the files after they are written).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from pixelvla import generated, rle, wire
from pixelvla.errors import PixelVLAError
from pixelvla.export_onnx import export_bytes
from pixelvla.generated import dump_json
from pixelvla.prompt_encoder import features_to_tensors, make_prompt_encoder
from pixelvla.prompts import featurize, prompts_from_json

DEFAULT_OUT: Final = Path(__file__).resolve().parents[1] / "testdata"
ENCODER_SEED: Final = 0


def array_json(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    return {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "b64": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def _mask(h: int, w: int, fn: Any) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.asarray(fn(yy, xx), dtype=bool)


def _rle(h: int, w: int, fn: Any) -> dict[str, Any]:
    return dict(rle.encode(_mask(h, w, fn)))


def prompt_cases() -> list[dict[str, Any]]:
    ellipse = _rle(480, 640, lambda y, x: ((y - 200) / 90.0) ** 2 + ((x - 330) / 150.0) ** 2 < 1)
    odd = _rle(37, 53, lambda y, x: (x + 2 * y) % 7 < 3)
    corner = _rle(9, 5, lambda y, x: (y < 2) & (x < 2))
    full = _rle(3, 3, lambda y, x: y >= 0)
    return [
        {"name": "none", "prompts": []},
        # The centre of pixel (100, 60) in a 224 x 224 frame (half-pixel rule).
        {"name": "point_pixel_centre", "prompts": [{"type": "point", "x": 100.5 / 224, "y": 60.5 / 224, "positive": True}]},
        {"name": "points_pos_neg", "prompts": [
            {"type": "point", "x": 0.0, "y": 1.0, "positive": False},
            {"type": "point", "x": 1 / 3, "y": 2 / 3, "positive": True},
        ]},
        {"name": "box", "prompts": [{"type": "box", "x0": 0.1, "y0": 0.2, "x1": 0.7, "y1": 0.9}]},
        {"name": "line_two_points", "prompts": [{"type": "line", "points": [[0.1, 0.1], [0.8, 0.35]]}]},
        {"name": "polyline_repeated_points", "prompts": [{"type": "line", "points": [
            [0.05, 0.9], [0.05, 0.9], [0.3, 0.31], [0.71, 0.33], [0.71, 0.33], [0.95, 0.02]]}]},
        {"name": "polyline_many_points", "prompts": [{"type": "line", "points": [
            [0.5 + 0.4 * float(np.cos(t)), 0.5 + 0.3 * float(np.sin(t))]
            for t in np.linspace(0.0, 5.0, 41)]}]},
        {"name": "mask_odd_size", "prompts": [{"type": "mask", "rle": odd}]},
        {"name": "mask_large_ellipse", "prompts": [{"type": "mask", "rle": ellipse}]},
        {"name": "mask_full_tiny", "prompts": [{"type": "mask", "rle": full}]},
        {"name": "two_masks_and_point", "prompts": [
            {"type": "mask", "rle": corner},
            {"type": "point", "x": 0.25, "y": 0.125, "positive": True},
            {"type": "mask", "rle": odd},
        ]},
        {"name": "sixteen_tokens", "prompts": [
            {"type": "line", "points": [[0.9, 0.1], [0.1, 0.9]]},
            {"type": "box", "x0": 0.0, "y0": 0.0, "x1": 1.0, "y1": 1.0},
            {"type": "point", "x": 0.123456789, "y": 0.987654321, "positive": True},
            {"type": "point", "x": 0.5, "y": 0.5, "positive": False},
            {"type": "mask", "rle": corner},
            {"type": "box", "x0": 0.3, "y0": 0.3, "x1": 0.30001, "y1": 0.4},
            {"type": "mask", "rle": {"size": corner["size"], "counts": rle.string_to_counts(corner["counts"])}},
        ]},
    ]  # fmt: skip


def random_prompt_cases(n: int = 10, seed: int = 11) -> list[dict[str, Any]]:
    """Seeded random geometry (awkward doubles, many-point lines): featurisation only, no tokens."""
    rng = np.random.default_rng(seed)
    cases: list[dict[str, Any]] = []
    for i in range(n):
        prompts: list[dict[str, Any]] = []
        budget = 16
        while budget > 0:
            kind = str(rng.choice(["point", "box", "line"]))
            if kind == "line" and budget >= 8:
                steps = rng.normal(0.0, 0.08, (int(rng.integers(2, 30)), 2))
                pts = np.clip(rng.random(2) + np.cumsum(steps, axis=0), 0.0, 1.0)
                prompts.append({"type": "line", "points": pts.tolist()})
                budget -= 8
            elif kind == "box" and budget >= 2:
                a, b = np.sort(rng.random(2)), np.sort(rng.random(2))
                prompts.append({"type": "box", "x0": a[0], "y0": b[0], "x1": a[1], "y1": b[1]})
                budget -= 2
            else:
                x, y = rng.random(2).tolist()
                prompts.append({"type": "point", "x": x, "y": y, "positive": bool(rng.random() < 0.5)})
                budget -= 1
            if rng.random() < 0.25:
                break
        cases.append({"name": f"random_{i}", "prompts": prompts, "tokens": False})
    blob = rng.random((123, 77)) < 0.3
    blob[40:90, 10:60] = True
    cases.append(
        {"name": "random_mask_123x77", "prompts": [{"type": "mask", "rle": dict(rle.encode(blob))}],
         "tokens": False}
    )  # fmt: skip
    return cases


def error_cases() -> list[dict[str, Any]]:
    """Prompt JSON both languages must reject, with the error code they must give."""
    line = {"type": "line", "points": [[0.0, 0.0], [1.0, 1.0]]}
    m = {"type": "mask", "rle": {"size": [3, 4], "counts": "0<"}}
    cases: list[tuple[str, Any]] = [
        ("not_a_list", {"type": "point", "x": 0.5, "y": 0.5}),
        ("not_an_object", ["point"]),
        ("unknown_type", [{"type": "circle", "x": 0.5, "y": 0.5}]),
        ("point_missing_y", [{"type": "point", "x": 0.5}]),
        ("point_unknown_key", [{"type": "point", "x": 0.5, "y": 0.5, "z": 0}]),
        ("point_x_string", [{"type": "point", "x": "0.5", "y": 0.5}]),
        ("point_x_bool", [{"type": "point", "x": True, "y": 0.5}]),
        ("point_x_null", [{"type": "point", "x": None, "y": 0.5}]),
        ("point_above_one", [{"type": "point", "x": 1.0000001, "y": 0.5}]),
        ("point_negative", [{"type": "point", "x": 0.5, "y": -0.25}]),
        ("point_huge", [{"type": "point", "x": 1e308, "y": 0.5}]),
        ("point_positive_not_bool", [{"type": "point", "x": 0.5, "y": 0.5, "positive": 1}]),
        ("point_positive_null", [{"type": "point", "x": 0.5, "y": 0.5, "positive": None}]),
        ("prompt_type_missing", [{"x": 0.5, "y": 0.5}]),
        ("line_point_null", [{"type": "line", "points": [[0.5, 0.5], None]}]),
        ("mask_rle_list", [{"type": "mask", "rle": [3, 4]}]),
        ("mask_counts_float", [{"type": "mask", "rle": {"size": [3, 4], "counts": [0.5, 11.5]}}]),
        ("mask_size_negative", [{"type": "mask", "rle": {"size": [-3, -4], "counts": [12]}}]),
        ("box_zero_width", [{"type": "box", "x0": 0.4, "y0": 0.1, "x1": 0.4, "y1": 0.5}]),
        ("box_flipped", [{"type": "box", "x0": 0.6, "y0": 0.1, "x1": 0.4, "y1": 0.5}]),
        ("box_flipped_y", [{"type": "box", "x0": 0.1, "y0": 0.6, "x1": 0.4, "y1": 0.5}]),
        ("line_one_point", [{"type": "line", "points": [[0.5, 0.5]]}]),
        ("line_zero_length", [{"type": "line", "points": [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]}]),
        ("line_almost_zero", [{"type": "line", "points": [[0.5, 0.5], [0.50005, 0.5]]}]),
        ("line_bad_pair", [{"type": "line", "points": [[0.5, 0.5, 0.5], [0.6, 0.6]]}]),
        ("line_points_not_list", [{"type": "line", "points": "0.5,0.5"}]),
        ("mask_empty", [{"type": "mask", "rle": {"size": [3, 4], "counts": "<"}}]),
        ("mask_size_mismatch", [{"type": "mask", "rle": {"size": [3, 5], "counts": "0<"}}]),
        ("mask_bad_counts_char", [{"type": "mask", "rle": {"size": [3, 4], "counts": "0 "}}]),
        ("mask_truncated_counts", [{"type": "mask", "rle": {"size": [3, 4], "counts": "0l"}}]),
        ("mask_negative_run", [{"type": "mask", "rle": {"size": [3, 4], "counts": [-1, 13]}}]),
        ("mask_bad_size", [{"type": "mask", "rle": {"size": [3], "counts": "0<"}}]),
        ("mask_no_rle", [{"type": "mask"}]),
        ("too_many_tokens", [line, line, {"type": "point", "x": 0.5, "y": 0.5}]),
        ("too_many_masks", [m, m, m]),
    ]
    out = []
    for name, prompts in cases:
        try:
            featurize(prompts_from_json(prompts))
        except PixelVLAError as e:
            out.append({"name": name, "prompts": prompts, "code": e.code, "message": e.message})
        else:  # pragma: no cover - a generator bug, not a runtime condition
            raise AssertionError(f"error case {name} was accepted")
    return out


def rle_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    masks: list[tuple[str, np.ndarray]] = [
        ("empty_3x4", np.zeros((3, 4), bool)),
        ("full_3x4", np.ones((3, 4), bool)),
        ("single_pixel_1x1", np.ones((1, 1), bool)),
        ("zero_size_0x5", np.zeros((0, 5), bool)),
        ("first_pixel_set_odd_7x5", _mask(7, 5, lambda y, x: (y == 0) & (x == 0))),
        ("last_pixel_set_5x7", _mask(5, 7, lambda y, x: (y == 4) & (x == 6))),
        ("column_stripes_6x9", _mask(6, 9, lambda y, x: x % 2 == 0)),
        ("row_stripes_9x6", _mask(9, 6, lambda y, x: y % 2 == 0)),
        ("random_13x17", rng.random((13, 17)) < 0.4),
        ("random_64x64", rng.random((64, 64)) < 0.7),
        # Too big to store its pixels: readers round-trip its counts and check the area.
        ("big_runs_300x200", _mask(300, 200, lambda y, x: (x > 20) & (x < 190) & (y > 7))),
    ]
    cases: list[dict[str, Any]] = []
    for name, m in masks:
        r = rle.encode(m)
        cases.append(
            {
                "name": name,
                "size": r["size"],
                "counts": r["counts"],
                "counts_list": rle.string_to_counts(r["counts"]),
                "area": int(m.sum()),
                # Row-major uint8 pixels, so a reader needs no knowledge of RLE's column order.
                "mask": array_json(m.astype(np.uint8)) if m.size <= 4096 else None,
            }
        )
    return cases


def wire_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    msgs: list[tuple[str, Any]] = [
        ("observation", {
            "image": rng.integers(0, 256, (4, 5, 3), dtype=np.uint8),
            "instruction": "pick up the red block",
            "prompt_tokens": rng.standard_normal((2, 8)).astype(np.float32),
            "prompt_valid": np.array([True, False], dtype=bool),
            "state": rng.standard_normal(8).astype(np.float32),
        }),
        ("action_chunk", {
            "actions": rng.standard_normal((8, 7)).astype(np.float32),
            "timing_ms": {"total": 12.5, "llm": 7.25},
            "model_id": "abc123",
        }),
        ("all_dtypes", {
            "u1": np.array([0, 255], np.uint8), "i1": np.array([-128, 127], np.int8),
            "u2": np.array([65535], np.uint16), "i2": np.array([-2, 3], np.int16),
            "u4": np.array([4294967295], np.uint32), "i4": np.array([-5, 2**31 - 1], np.int32),
            "i8": np.array([-(2**40), 2**53 - 1], np.int64), "f2": np.array([0.5, -2.0], np.float16),
            "f4": np.array([1.5, -0.1], np.float32), "f8": np.array([1e-300, 0.1], np.float64),
            "b1": np.array([[True], [False]], bool),
        }),
        ("empty_and_nested", {
            "empty": np.zeros((0, 3), np.float32),
            "nested": [{"a": np.arange(3, dtype=np.int32)}, None, True, "text", -7, 2.5],
            "bytes": b"\x00\xff",
        }),
    ]  # fmt: skip
    out = []
    for name, msg in msgs:
        data = wire.packb(msg)
        out.append({"name": name, "msgpack": base64.b64encode(data).decode("ascii"),
                    "value": _to_json_value(msg)})  # fmt: skip
    return out


def _to_json_value(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return {"__ndarray__": True, **array_json(v)}
    if isinstance(v, bytes):
        return {"__bytes__": base64.b64encode(v).decode("ascii")}
    if isinstance(v, dict):
        return {k: _to_json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_json_value(x) for x in v]
    return v


def _case_tokens(module: torch.nn.Module, case: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Featurisation and reference tokens; `module` is the encoder in float64 (build)."""
    feats = featurize(prompts_from_json(case["prompts"]))
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in features_to_tensors(feats).items()}
    with torch.no_grad():
        return feats, module(**inputs)[0].float().numpy()


def build(onnx_bytes: bytes | None = None) -> dict[str, bytes]:
    """All testdata files as {name: bytes}."""
    module = make_prompt_encoder(seed=ENCODER_SEED)
    onnx_bytes = export_bytes(module) if onnx_bytes is None else onnx_bytes
    featurize_cases = []
    # Reference tokens are computed in float64 and rounded to float32, on one thread: in float32 the
    # last bits depend on how a reduction is split (threads) and on the CPU's kernels (an AMD EPYC and
    # an Intel AMX box differed by 1 ulp), and the committed file must not depend on the machine.
    reference = copy.deepcopy(module).double()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cases = [(case, _case_tokens(reference, case)) for case in prompt_cases() + random_prompt_cases()]
    finally:
        torch.set_num_threads(threads)
    for case, (feats, tokens) in cases:
        # To keep the files small, only the used mask slots and valid token rows are stored;
        # the readers check that everything after them is exactly zero.
        n_masks = sum(p.get("type") == "mask" for p in case["prompts"])
        n_valid = int(feats["valid"].sum())
        stored = dict(feats, masks=feats["masks"][:n_masks])
        featurize_cases.append(
            {
                "name": case["name"],
                "prompts": case["prompts"],
                "features": {k: array_json(v) for k, v in stored.items()},
                # Random cases pin featurisation only (tokens would double the file size).
                "tokens": array_json(tokens[:n_valid]) if case.get("tokens", True) else None,
            }
        )

    return {
        "prompt_encoder.onnx": onnx_bytes,
        "featurize.json": dump_json({"encoder_seed": ENCODER_SEED, "cases": featurize_cases}),
        "prompt_errors.json": dump_json({"cases": error_cases()}),
        "rle.json": dump_json({"cases": rle_cases()}),
        "wire.json": dump_json({"cases": wire_cases()}),
    }


def main(argv: list[str] | None = None) -> None:
    generated.main(__doc__, DEFAULT_OUT, build, argv)


if __name__ == "__main__":
    main()
