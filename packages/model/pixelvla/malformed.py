"""Generate the corpus of malformed decoder inputs in ``packages/model/testdata/malformed/``.

    .venv/bin/python -m pixelvla.malformed [--out packages/model/testdata/malformed]

One JSON file per target decoder, each entry self-describing, so the same inputs can be fed to the
Python decoders (``tests/test_decoders_fuzz.py``; image and observation entries in
``apps/gpu-server/tests/test_codec_fuzz.py``), to the TypeScript ones (``src/decoders.test.ts``)
and to a live server over HTTP and WebSocket::

    {"format": "pixelvla.malformed.v1", "target": "rle", "feed": "<how to feed it>",
     "entries": [{"name", "target", "why", "encoding", "payload", "expect": [error codes],
                  "python_only": bool}, ...]}

``encoding`` says how ``payload`` carries the input: ``json`` (the JSON value itself), ``json_text``
(raw JSON text, for numbers like 1e400 that a JSON writer cannot produce), ``msgpack_b64`` (base64
of a msgpack message whose value is the input: non-string keys, bytes, arrays) or ``bytes_b64``
(base64 of raw bytes: images, whole wire messages). ``expect`` lists the acceptable error codes;
``python_only`` marks inputs that JavaScript's JSON cannot tell from valid ones (3.0 is 3 there).
``bounded.json`` holds the opposite: valid inputs that declare huge sizes, which a decoder must
accept at a cost bounded by what the model uses (no 16384 x 16384 raster).

Deterministic; ``tests/test_decoders_fuzz.py`` checks the committed files are current.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import msgpack
import numpy as np

from pixelvla import generated, rle, wire
from pixelvla.errors import PixelVLAError, RleError
from pixelvla.generated import dump_json
from pixelvla.prompts import featurize, prompts_from_json

FORMAT: Final = "pixelvla.malformed.v1"
DEFAULT_OUT: Final = Path(__file__).resolve().parents[1] / "testdata" / "malformed"
TARGETS: Final = ("rle", "prompt", "mask_prompt", "wire_array", "image", "observation")

FEED: Final = {
    "rle": "a COCO RLE object: Python rle.validate/area/decode/coverage, TS parseRle/decodeRle/rleArea; "
    "live: one of an observation's pixel_masks (WS msgpack or HTTP JSON), or an annotation mask",
    "prompt": "a prompt JSON list: Python featurize(prompts_from_json(payload)), TS featurize(parsePrompts(payload)); "
    "live: an observation's prompts",
    "mask_prompt": "one mask prompt object: Python/TS as 'prompt' with [payload]; live: prompts: [payload]",
    "wire_array": "a whole msgpack message: Python wire.unpackb, TS unpackMessage; live: a WS /v1/policy/stream "
    "binary frame (expect an error frame with the code, the socket staying open)",
    "image": "image bytes: Python pixelvla_server.policy.codec.decode_image_bytes; live: an observation's image "
    "(WS msgpack bin) or HTTP image_b64",
    "observation": "a whole msgpack observation message: Python wire.unpackb then codec.to_observation; live: a WS "
    "/v1/policy/stream binary frame",
}

PROMPT_CODES: Final = ["invalid_prompt", "invalid_rle"]
OBSERVATION_CODES: Final = ["invalid_observation", "invalid_rle", "invalid_prompt", "invalid_message"]

Entry = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _entry(target: str, name: str, why: str, payload: Any, encoding: str = "json", **extra: Any) -> Entry:
    if encoding in ("msgpack_b64", "bytes_b64") and isinstance(payload, bytes):
        payload = _b64(payload)
    return {"name": name, "target": target, "why": why, "encoding": encoding, "payload": payload, **extra}


def _text(value: Any) -> str:
    """Compact JSON text, for bulky payloads (prettier would spread a deep list over 200 lines)."""
    return json.dumps(value, separators=(",", ":"))


def decode_payload(entry: Entry) -> Any:
    """The input an entry describes, as a Python decoder receives it."""
    enc, payload = entry["encoding"], entry["payload"]
    if enc == "json":
        return payload
    if enc == "json_text":
        return json.loads(payload)
    if enc == "msgpack_b64":
        return wire.unpackb(base64.b64decode(payload))
    if enc == "bytes_b64":
        return base64.b64decode(payload)
    raise ValueError(f"unknown encoding {enc!r}")


# --------------------------------------------------------------------------- crafted RLEs


def wrapping_counts(pixels: int = 1) -> list[int]:
    """Runs, each below 2**63 and each COCO delta within 7 groups, summing to 2**64 + pixels.

    An int64 sum wraps to ``pixels``, so the old validation passed them and np.repeat, which sizes
    its output with the same wrapped sum, wrote past its buffer (a segfault).
    """
    step = 2**34 - 1  # the largest positive 7-group delta
    goal = 2**64 + pixels
    counts: list[int] = []
    total = 0
    while True:
        prev2 = counts[-2] if len(counts) > 2 else 0
        remaining = goal - total
        if remaining <= prev2 + step:
            counts.append(remaining)
            return counts
        counts.append(prev2 + step)
        total += prev2 + step


def rle_entries() -> list[Entry]:
    t = "rle"
    wrap = wrapping_counts(1)
    wrap_string = rle.counts_to_string(wrap)
    e: list[Entry] = [
        _entry(t, "int64_wrap_list", "runs 2**63-1, 2**63-1, 3 sum to 2**64+1: an int64 sum wraps to H*W = 1 "
               "(was accepted, then np.repeat segfaulted)", {"size": [1, 1], "counts": [2**63 - 1, 2**63 - 1, 3]}),
        _entry(t, "int64_wrap_string", f"compressed form of {len(wrap)} growing runs (each a delta plus the run two "
               "back) summing to 2**64+1 for a 1x1 mask (was accepted, then segfaulted)",
               {"size": [1, 1], "counts": wrap_string}),
        _entry(t, "int64_wrap_list_4x4", "three runs near 2**63 whose int64 sum wraps to 16",
               {"size": [4, 4], "counts": [2**63 - 1, 2**63 - 1, 18]}),
        _entry(t, "run_2_64_minus_1", "a run of 2**64-1 (np.asarray raised OverflowError: no reply / HTTP 500)",
               {"size": [1, 1], "counts": [2**64 - 1]}),
        _entry(t, "run_10_30", "a run of 10**30 (OverflowError before)", {"size": [1, 1], "counts": [10**30]}),
        _entry(t, "run_2_63", "a run of exactly 2**63 (one past int64)", {"size": [1, 1], "counts": [0, 2**63]}),
        _entry(t, "run_minus_2_63", "a run of -2**63", {"size": [1, 1], "counts": [-(2**63), 1]}),
        _entry(t, "run_above_pixels", "one run longer than the whole mask, balanced by a negative one",
               {"size": [3, 4], "counts": [20, -8]}),
        _entry(t, "run_above_pixels_string", "a compressed run of 13 in a 12-pixel mask", {"size": [3, 4], "counts": "="}),
        _entry(t, "negative_run", "a negative run", {"size": [3, 4], "counts": [-1, 13]}),
        _entry(t, "negative_run_string", "a compressed negative count (sign bit of the first number)",
               {"size": [3, 4], "counts": "O"}),
        _entry(t, "negative_via_delta", "the fourth count is a negative delta below the second: a negative run",
               {"size": [3, 4], "counts": rle.counts_to_string([1, 2, 3, 6])[:-1] + "T"}),
        _entry(t, "too_many_runs_list", "four runs (zeros included) for a 1-pixel mask: at most H*W+1 runs",
               {"size": [1, 1], "counts": [0, 0, 0, 1]}),
        _entry(t, "too_many_runs_string", "200 zero-length runs and one pixel: more runs than pixels",
               {"size": [1, 1], "counts": "0" * 200 + "1"}),
        _entry(t, "zero_size_extra_runs", "a 0x5 mask has exactly one (empty) run", {"size": [0, 5], "counts": [0, 0]}),
        _entry(t, "sum_too_small", "runs cover 11 of 12 pixels", {"size": [3, 4], "counts": [5, 6]}),
        _entry(t, "sum_too_large", "runs cover 13 of 12 pixels", {"size": [3, 4], "counts": [6, 7]}),
        _entry(t, "sum_too_small_string", "compressed runs cover 11 of 12 pixels", {"size": [3, 4], "counts": "0;"}),
        _entry(t, "wrong_size_for_counts", "a 3x4 RLE declared as 3x5", {"size": [3, 5], "counts": "0<"}),
        _entry(t, "empty_counts_nonempty_size", "no runs for 12 pixels", {"size": [3, 4], "counts": ""}),
        _entry(t, "empty_list_nonempty_size", "no runs for 12 pixels", {"size": [3, 4], "counts": []}),
        _entry(t, "eight_groups", "a number of 8 five-bit groups (more than any mask needs)",
               {"size": [3, 4], "counts": "0" + "o" * 7 + "0"}),
        _entry(t, "eight_groups_tail", "an unfinished number of 8 groups at the end", {"size": [3, 4], "counts": "o" * 8}),
        _entry(t, "long_continuation", "10,000 continuation groups", {"size": [3, 4], "counts": "o" * 10_000}),
        _entry(t, "truncated_number", "the string ends inside a number", {"size": [3, 4], "counts": "0l"}),
        _entry(t, "truncated_only", "a single continuation character", {"size": [3, 4], "counts": "`"}),
        _entry(t, "size_one", "size has one element", {"size": [3], "counts": "0<"}),
        _entry(t, "size_three", "size has three elements", {"size": [3, 4, 1], "counts": "0<"}),
        _entry(t, "size_empty", "size is empty", {"size": [], "counts": ""}),
        _entry(t, "size_negative", "negative size", {"size": [-3, -4], "counts": [12]}),
        _entry(t, "size_negative_one", "one negative side", {"size": [-1, 4], "counts": [0]}),
        _entry(t, "size_above_max", "a side of 16385 (MAX_SIDE is 16384)", {"size": [16385, 1], "counts": [16385]}),
        _entry(t, "size_huge", "a side of 2**64", {"size": [2**64, 1], "counts": [0]}),
        _entry(t, "size_10_30", "a side of 10**30", {"size": [10**30, 10**30], "counts": [0]}),
        _entry(t, "size_float", "a fractional side", {"size": [3.5, 4], "counts": "0<"}),
        _entry(t, "size_integral_float", "a side of 3.0 (JSON float; JavaScript cannot tell it from 3)",
               {"size": [3.0, 4], "counts": "0<"}, python_only=True),
        _entry(t, "size_bool", "sides true, true", {"size": [True, True], "counts": [0, 1]}),
        _entry(t, "size_string", "size is a string", {"size": "3x4", "counts": "0<"}),
        _entry(t, "size_strings", "sides are strings", {"size": ["3", "4"], "counts": "0<"}),
        _entry(t, "size_null", "size is null", {"size": None, "counts": "0<"}),
        _entry(t, "size_object", "size is an object", {"size": {"h": 3, "w": 4}, "counts": "0<"}),
        _entry(t, "size_nested", "sides are lists", {"size": [[3], [4]], "counts": "0<"}),
        _entry(t, "size_inf_text", "a side of 1e400 (infinity)", '{"size": [1e400, 4], "counts": "0<"}', "json_text"),
        _entry(t, "counts_number", "counts is a number", {"size": [3, 4], "counts": 12}),
        _entry(t, "counts_null", "counts is null", {"size": [3, 4], "counts": None}),
        _entry(t, "counts_object", "counts is an object", {"size": [3, 4], "counts": {"0": 12}}),
        _entry(t, "counts_floats", "fractional runs", {"size": [3, 4], "counts": [0.5, 11.5]}),
        _entry(t, "counts_integral_floats", "runs 0.0 and 12.0 (JavaScript cannot tell them from integers)",
               {"size": [3, 4], "counts": [0.0, 12.0]}, python_only=True),
        _entry(t, "counts_bools", "runs true/false", {"size": [1, 1], "counts": [False, True]}),
        _entry(t, "counts_strings", "runs as strings", {"size": [3, 4], "counts": ["0", "12"]}),
        _entry(t, "counts_nested", "nested runs", {"size": [3, 4], "counts": [[0], [12]]}),
        _entry(t, "counts_null_item", "a null run", {"size": [3, 4], "counts": [0, None]}),
        _entry(t, "counts_inf_text", "a run of 1e400", '{"size": [1, 1], "counts": [0, 1e400]}', "json_text"),
        _entry(t, "missing_counts", "no counts", {"size": [3, 4]}),
        _entry(t, "missing_size", "no size", {"counts": "0<"}),
        _entry(t, "empty_object", "no keys", {}),
        _entry(t, "not_object_list", "an RLE as a list", [3, 4]),
        _entry(t, "not_object_string", "an RLE as a string", "0<"),
        _entry(t, "not_object_number", "an RLE as a number", 12),
        _entry(t, "not_object_null", "an RLE as null", None),
        _entry(t, "counts_bytes_not_ascii", "counts as msgpack bin holding 0xff",
               msgpack.packb({"size": [3, 4], "counts": b"0\xff"}, use_bin_type=True), "msgpack_b64", python_only=True),
        _entry(t, "counts_array", "counts as a numpy array (not a list)",
               wire.packb({"size": [3, 4], "counts": np.array([0, 12], np.int64)}), "msgpack_b64", python_only=True),
        _entry(t, "size_array", "size as a numpy array (not a list)",
               wire.packb({"size": np.array([3, 4], np.int32), "counts": "0<"}), "msgpack_b64", python_only=True),
        _entry(t, "non_string_keys", "integer keys instead of size/counts",
               msgpack.packb({1: [3, 4], 2: "0<"}), "msgpack_b64", python_only=True),
    ]  # fmt: skip
    for ch, label in [(" ", "space"), ("/", "below_0"), ("p", "above_o"), ("\x7f", "del"), ("\x00", "nul"),
                      ("é", "latin1"), ("€", "bmp"), ("😀", "astral"), ("\n", "newline"), ("~", "tilde")]:  # fmt: skip
        e.append(_entry(t, f"bad_char_{label}", f"the counts character {ch!r} is outside '0'..'o'",
                        {"size": [3, 4], "counts": "0" + ch}))  # fmt: skip
        e.append(_entry(t, f"bad_char_{label}_first", f"{ch!r} as the first counts character",
                        {"size": [3, 4], "counts": ch + "<"}))  # fmt: skip
    for v in e:
        v["expect"] = ["invalid_rle"]
    return e


# --------------------------------------------------------------------------- prompts


def _point(**kw: Any) -> dict[str, Any]:
    return {"type": "point", "x": 0.5, "y": 0.5, **kw}


def prompt_entries() -> list[Entry]:
    t = "prompt"
    line = {"type": "line", "points": [[0.0, 0.0], [1.0, 1.0]]}
    mask = {"type": "mask", "rle": {"size": [3, 4], "counts": "0<"}}
    deep: Any = 0.5
    for _ in range(200):
        deep = [deep]
    e: list[Entry] = [
        _entry(t, "x_10_400", "x = 10**400: a JSON integer too big for a double (OverflowError before)",
               [_point(x=10**400)]),
        _entry(t, "y_minus_10_400", "y = -10**400", [_point(y=-(10**400))]),
        _entry(t, "x_1e400_text", "x = 1e400, which JSON parsers read as infinity", '[{"type": "point", "x": 1e400, "y": 0.5}]',
               "json_text"),
        _entry(t, "x_minus_1e400_text", "x = -1e400 (minus infinity)", '[{"type": "point", "x": -1e400, "y": 0.5}]',
               "json_text"),
        _entry(t, "box_1e400_text", "a box corner of 1e400", '[{"type": "box", "x0": 0, "y0": 0, "x1": 1e400, "y1": 1}]',
               "json_text"),
        _entry(t, "line_1e400_text", "a line point of 1e400", '[{"type": "line", "points": [[0, 0], [1e400, 1]]}]',
               "json_text"),
        _entry(t, "x_nan_text", "x = NaN (Python's JSON reads it; JavaScript's cannot)",
               '[{"type": "point", "x": NaN, "y": 0.5}]', "json_text", python_only=True),
        _entry(t, "x_2_64", "x = 2**64", [_point(x=2**64)]),
        _entry(t, "x_above_one", "x just above 1", [_point(x=1.0000001)]),
        _entry(t, "x_negative", "x below 0", [_point(x=-0.25)]),
        _entry(t, "x_1e308", "x = 1e308", [_point(x=1e308)]),
        _entry(t, "x_string", "x as a string", [_point(x="0.5")]),
        _entry(t, "x_bool", "x as a boolean", [_point(x=True)]),
        _entry(t, "x_null", "x null", [_point(x=None)]),
        _entry(t, "x_list", "x as a list", [_point(x=[0.5])]),
        _entry(t, "x_object", "x as an object", [_point(x={"v": 0.5})]),
        _entry(t, "x_deeply_nested", "x nested 200 lists deep (an error message must not recurse)", _text([_point(x=deep)]), "json_text"),
        _entry(t, "y_missing", "a point without y", [{"type": "point", "x": 0.5}]),
        _entry(t, "point_unknown_key", "an unknown key", [_point(z=0)]),
        _entry(t, "point_many_unknown_keys", "5,000 unknown keys", _text([_point(**{f"k{i}": i for i in range(5000)})]),
               "json_text"),
        _entry(t, "positive_int", "positive as 1", [_point(positive=1)]),
        _entry(t, "positive_string", "positive as a string", [_point(positive="true")]),
        _entry(t, "positive_null", "positive null", [_point(positive=None)]),
        _entry(t, "positive_nested", "positive nested 200 deep", _text([_point(positive=deep)]), "json_text"),
        _entry(t, "type_missing", "no type", [{"x": 0.5, "y": 0.5}]),
        _entry(t, "type_unknown", "type circle", [{"type": "circle", "x": 0.5, "y": 0.5}]),
        _entry(t, "type_case", "type Point (case matters)", [{"type": "Point", "x": 0.5, "y": 0.5}]),
        _entry(t, "type_number", "type 1", [{"type": 1, "x": 0.5, "y": 0.5}]),
        _entry(t, "type_null", "type null", [{"type": None}]),
        _entry(t, "type_list", "type as a list", [{"type": ["point"], "x": 0.5, "y": 0.5}]),
        _entry(t, "type_deep", "type nested 200 deep", _text([{"type": deep}]), "json_text"),
        _entry(t, "type_long_string", "a 10,000-character type", [{"type": "p" * 10_000}]),
        _entry(t, "not_a_list", "a prompt object instead of a list", _point()),
        _entry(t, "string", "a string instead of a list", "point"),
        _entry(t, "number", "a number instead of a list", 3),
        _entry(t, "null", "null instead of a list", None),
        _entry(t, "item_string", "a string item", ["point"]),
        _entry(t, "item_null", "a null item", [None]),
        _entry(t, "item_list", "a list item", [[0.5, 0.5]]),
        _entry(t, "item_number", "a number item", [0.5]),
        _entry(t, "box_zero_width", "x1 == x0", [{"type": "box", "x0": 0.4, "y0": 0.1, "x1": 0.4, "y1": 0.5}]),
        _entry(t, "box_flipped", "x1 < x0", [{"type": "box", "x0": 0.6, "y0": 0.1, "x1": 0.4, "y1": 0.5}]),
        _entry(t, "box_flipped_y", "y1 < y0", [{"type": "box", "x0": 0.1, "y0": 0.6, "x1": 0.4, "y1": 0.5}]),
        _entry(t, "box_missing", "a box without y1", [{"type": "box", "x0": 0.1, "y0": 0.1, "x1": 0.4}]),
        _entry(t, "box_outside", "a corner at 2", [{"type": "box", "x0": 0.1, "y0": 0.1, "x1": 2, "y1": 0.5}]),
        _entry(t, "box_strings", "string corners", [{"type": "box", "x0": "0", "y0": "0", "x1": "1", "y1": "1"}]),
        _entry(t, "line_one_point", "a line of one point", [{"type": "line", "points": [[0.5, 0.5]]}]),
        _entry(t, "line_no_points", "a line of no points", [{"type": "line", "points": []}]),
        _entry(t, "line_zero_length", "three equal points", [{"type": "line", "points": [[0.5, 0.5]] * 3}]),
        _entry(t, "line_almost_zero", "shorter than 1e-4", [{"type": "line", "points": [[0.5, 0.5], [0.50005, 0.5]]}]),
        _entry(t, "line_1025_points", "more than 1024 points",
               _text([{"type": "line", "points": [[i / 1025, 0.5] for i in range(1025)]}]), "json_text"),
        _entry(t, "line_triple", "a point of three numbers", [{"type": "line", "points": [[0.5, 0.5, 0.5], [0.6, 0.6]]}]),
        _entry(t, "line_point_null", "a null point", [{"type": "line", "points": [[0.5, 0.5], None]}]),
        _entry(t, "line_point_number", "a point that is a number", [{"type": "line", "points": [0.5, 0.6]}]),
        _entry(t, "line_point_string", "a point that is a two-character string", [{"type": "line", "points": ["ab", "cd"]}]),
        _entry(t, "line_points_string", "points as a string", [{"type": "line", "points": "0.5,0.5"}]),
        _entry(t, "line_points_object", "points as an object", [{"type": "line", "points": {"0": [0, 0], "1": [1, 1]}}]),
        _entry(t, "line_points_null", "points null", [{"type": "line", "points": None}]),
        _entry(t, "line_point_10_400", "a point coordinate of 10**400", [{"type": "line", "points": [[0, 0], [10**400, 1]]}]),
        _entry(t, "line_point_deep", "a point nested 200 deep", _text([{"type": "line", "points": [[0, 0], deep]}]),
               "json_text"),
        _entry(t, "line_missing_points", "no points", [{"type": "line"}]),
        _entry(t, "too_many_tokens", "two lines and a point need 17 tokens", [line, line, _point()]),
        _entry(t, "too_many_tokens_points", "17 points", [_point()] * 17),
        _entry(t, "too_many_masks", "three masks (at most two)", [mask, mask, mask]),
        _entry(t, "mask_no_rle", "a mask without rle", [{"type": "mask"}]),
        _entry(t, "mask_rle_string", "rle as a string", [{"type": "mask", "rle": "0<"}]),
        _entry(t, "mask_extra_key", "a mask with an unknown key", [{"type": "mask", "rle": mask["rle"], "label": "cup"}]),
        _entry(t, "non_string_key", "an integer key (msgpack; JSON objects cannot have one)",
               msgpack.packb([{"type": "point", "x": 0.5, "y": 0.5, 1: 2}]), "msgpack_b64", python_only=True),
        _entry(t, "non_string_keys_mixed", "integer and string unknown keys (sorting them raised TypeError)",
               msgpack.packb([{"type": "point", "x": 0.5, "y": 0.5, 1: 2, "z": 3}]), "msgpack_b64", python_only=True),
        _entry(t, "bytes_key", "a binary key", msgpack.packb([{b"type": "point", "x": 0.5, "y": 0.5}], use_bin_type=True),
               "msgpack_b64", python_only=True),
        _entry(t, "bytes_type", "type as binary", msgpack.packb([{"type": b"point", "x": 0.5, "y": 0.5}],
               use_bin_type=True), "msgpack_b64", python_only=True),
        _entry(t, "points_scalar_array", "line points as a 0-d array (len() of it raised TypeError)",
               wire.packb([{"type": "line", "points": np.float32(0.5) * np.ones((), np.float32)}]), "msgpack_b64",
               python_only=True),
        _entry(t, "point_scalar_arrays", "line points that are 0-d arrays",
               wire.packb([{"type": "line", "points": [np.ones((), np.float32), np.zeros((), np.float32)]}]),
               "msgpack_b64", python_only=True),
        _entry(t, "points_bool_array", "line points as a boolean array",
               wire.packb([{"type": "line", "points": np.ones((2, 2), bool)}]), "msgpack_b64", python_only=True),
        _entry(t, "points_array_3d", "line points as a (2, 2, 2) array",
               wire.packb([{"type": "line", "points": np.zeros((2, 2, 2), np.float32)}]), "msgpack_b64", python_only=True),
        _entry(t, "x_array", "x as an array", wire.packb([_point(x=np.zeros(1, np.float32))]), "msgpack_b64",
               python_only=True),
    ]  # fmt: skip
    for v in e:
        v["expect"] = PROMPT_CODES
    return e


def mask_prompt_entries() -> list[Entry]:
    t = "mask_prompt"
    # Every JSON RLE entry but the 460 KB compressed wrap, which would only repeat rle.json's.
    bad = [v for v in rle_entries() if v["encoding"] == "json" and v["name"] != "int64_wrap_string"]
    e = [
        _entry(t, f"rle_{v['name']}", f"a mask prompt whose RLE is bad: {v['why']}", {"type": "mask", "rle": v["payload"]},
               python_only=v.get("python_only", False))
        for v in bad
    ]  # fmt: skip
    e += [
        _entry(t, "empty_mask", "an RLE with no foreground pixels points at nothing", {"type": "mask", "rle": {"size": [3, 4], "counts": "<"}}),
        _entry(t, "empty_huge_mask", "a 16384 x 16384 mask with no foreground", {"type": "mask", "rle": {"size": [16384, 16384], "counts": [16384 * 16384]}}),
        _entry(t, "zero_size_mask", "a 0x0 mask", {"type": "mask", "rle": {"size": [0, 0], "counts": [0]}}),
        _entry(t, "zero_height_mask", "a 0x5 mask", {"type": "mask", "rle": {"size": [0, 5], "counts": "0"}}),
        _entry(t, "rle_null", "rle null", {"type": "mask", "rle": None}),
        _entry(t, "rle_list", "rle as [H, W]", {"type": "mask", "rle": [3, 4]}),
        _entry(t, "missing_rle", "no rle", {"type": "mask"}),
        _entry(t, "extra_key", "an unknown key next to rle", {"type": "mask", "rle": {"size": [3, 4], "counts": "0<"}, "mask": 1}),
    ]  # fmt: skip
    for v in e:
        v["expect"] = PROMPT_CODES
    return e


# --------------------------------------------------------------------------- wire


def _nd(data: Any, dtype: Any, shape: Any, marker: Any = True) -> dict[str, Any]:
    return {"__ndarray__": marker, "data": data, "dtype": dtype, "shape": shape}


def _pack(value: Any) -> bytes:
    out: bytes = msgpack.packb(value, use_bin_type=True)
    return out


def wire_entries() -> list[Entry]:
    t = "wire_array"
    f4 = np.arange(6, dtype=np.float32).tobytes()
    cases: list[tuple[str, str, bytes]] = [
        ("dtype_object", "dtype |O (pickled objects)", _pack(_nd(b"\0" * 8, "|O", [1]))),
        ("dtype_void", "dtype |V8", _pack(_nd(b"\0" * 8, "|V8", [1]))),
        ("dtype_big_endian", "dtype >f4", _pack(_nd(f4, ">f4", [6]))),
        ("dtype_complex", "dtype <c8", _pack(_nd(f4, "<c8", [3]))),
        ("dtype_datetime", "dtype <M8[s]", _pack(_nd(b"\0" * 8, "<M8[s]", [1]))),
        ("dtype_bytes", "dtype |S4", _pack(_nd(b"abcd", "|S4", [1]))),
        ("dtype_unicode", "dtype <U1", _pack(_nd(b"a\0\0\0", "<U1", [1]))),
        ("dtype_struct", "a structured dtype string", _pack(_nd(b"\0" * 8, "[('a', '<f4'), ('b', '<f4')]", [1]))),
        ("dtype_number", "dtype as a number", _pack(_nd(f4, 4, [6]))),
        ("dtype_null", "dtype null", _pack(_nd(f4, None, [6]))),
        ("dtype_missing", "no dtype", _pack({"__ndarray__": True, "data": f4, "shape": [6]})),
        ("dtype_not_utf8", "dtype as bin 0xff 0xfe", _pack(_nd(f4, b"\xff\xfe", [6]))),
        ("data_short", "24 bytes for shape [7] of <f4", _pack(_nd(f4, "<f4", [7]))),
        ("data_long", "24 bytes for shape [5] of <f4", _pack(_nd(f4, "<f4", [5]))),
        ("data_odd", "3 bytes of <f4", _pack(_nd(b"\0\0\0", "<f4", []))),
        ("data_string", "data as a str, not bin", _pack(_nd("abcd", "|u1", [4]))),
        ("data_list", "data as a list of numbers", _pack(_nd([1, 2, 3], "|u1", [3]))),
        ("data_missing", "no data", _pack({"__ndarray__": True, "dtype": "<f4", "shape": [0]})),
        ("shape_negative", "shape [-1]", _pack(_nd(f4, "<f4", [-1]))),
        ("shape_negative_pair", "shape [-2, -3]: the product is positive", _pack(_nd(f4, "<f4", [-2, -3]))),
        ("shape_float", "shape [6.0]", _pack(_nd(f4, "<f4", [6.0]))),
        ("shape_bool", "shape [true]", _pack(_nd(b"\0" * 4, "<f4", [True]))),
        ("shape_string", "shape as a string", _pack(_nd(f4, "<f4", "6"))),
        ("shape_int", "shape as an int", _pack(_nd(f4, "<f4", 6))),
        ("shape_null", "shape null", _pack(_nd(f4, "<f4", None))),
        ("shape_nested", "shape [[6]]", _pack(_nd(f4, "<f4", [[6]]))),
        ("shape_2_64_zero", "a zero-size array with a dimension of 2**64-1", _pack(_nd(b"", "<f4", [2**64 - 1, 0]))),
        ("shape_2_40_zero", "a zero-size array with a dimension of 2**40", _pack(_nd(b"", "<f4", [2**40, 0]))),
        ("shape_product_huge", "dimensions whose product is 2**62", _pack(_nd(f4, "<f4", [2**31 - 1, 2**31 - 1]))),
        ("shape_product_wraps", "dimensions whose int64 product wraps to 6", _pack(_nd(f4, "<f4", [2**32 + 3, 2**32 + 2]))),
        ("ndim_33", "33 dimensions of 1", _pack(_nd(b"\0" * 4, "<f4", [1] * 33))),
        ("ndim_65", "65 dimensions (numpy's limit is 64)", _pack(_nd(b"\0" * 4, "<f4", [1] * 65))),
        ("ndim_10000_zero", "10,000 zero dimensions", _pack(_nd(b"", "<f4", [0] * 10_000))),
        ("marker_one", "__ndarray__ is 1, not true", _pack(_nd(f4, "<f4", [6], marker=1))),
        ("marker_string", "__ndarray__ is a string", _pack(_nd(f4, "<f4", [6], marker="yes"))),
        ("marker_false", "__ndarray__ is false", _pack(_nd(f4, "<f4", [6], marker=False))),
        ("nested_bad_array", "a bad array two maps deep", _pack({"a": {"b": _nd(f4, "<f4", [7])}})),
        ("npgeneric_u1_300", "a numpy scalar 300 as |u1", _pack({"__npgeneric__": True, "data": 300, "dtype": "|u1"})),
        ("npgeneric_f2_1e300", "a numpy scalar 1e300 as <f2 (overflows to inf)",
         _pack({"__npgeneric__": True, "data": 1e300, "dtype": "<f2"})),
        ("npgeneric_f2_2_64", "a numpy scalar 2**64-1 as <f2", _pack({"__npgeneric__": True, "data": 2**64 - 1, "dtype": "<f2"})),
        ("npgeneric_object", "a numpy scalar of dtype |O", _pack({"__npgeneric__": True, "data": 1, "dtype": "|O"})),
        ("npgeneric_string", "a numpy scalar whose data is a string", _pack({"__npgeneric__": True, "data": "1", "dtype": "<i4"})),
        ("ext_type_1", "an application extension type", b"\xd4\x01\x00"),
        ("ext_type_127", "extension type 127", b"\xc7\x03\x7f" + b"abc"),
        ("ext_timestamp", "msgpack's timestamp extension (-1), which msgpack decodes itself", _pack(msgpack.Timestamp(0))),
        ("ext_timestamp_nested", "a timestamp inside a list inside a map",
         _pack({"seq": [1, msgpack.Timestamp(1, 5)]})),
        ("ext_timestamp_key", "a timestamp as a map key", b"\x81" + _pack(msgpack.Timestamp(0)) + b"\x01"),
        ("deep_lists", "2,000 nested lists", b"\x91" * 2000 + b"\xc0"),
        ("deep_maps", "2,000 nested maps", b"\x81\xa1a" * 2000 + b"\xc0"),
        ("key_list", "a list as a map key (unhashable)", b"\x81\x91\x01\x02"),
        ("key_map", "a map as a map key (unhashable)", b"\x81\x81\x01\x02\x03"),
        ("key_array", "an ndarray as a map key (unhashable)", b"\x81" + _pack(_nd(b"", "<f4", [0])) + b"\x01"),
        ("truncated_map", "a map header for 3 pairs and one pair", b"\x83\xa1a\x01"),
        ("truncated_bin", "a bin32 header declaring 4 GiB", b"\xc6\xff\xff\xff\xff" + b"x" * 8),
        ("truncated_array32", "an array32 header declaring 2**32-1 items", b"\xdd\xff\xff\xff\xff\x01"),
        ("truncated_str", "a str8 header declaring 200 bytes", b"\xd9\xc8abc"),
        ("extra_data", "two messages back to back", b"\x01\x02"),
        ("empty", "no bytes", b""),
        ("reserved_byte", "0xc1, never used by msgpack", b"\xc1"),
        ("invalid_utf8", "a str of invalid UTF-8", b"\xa2\xff\xfe"),
        ("truncated_array", "a bad array cut short", _pack(_nd(f4, "<f4", [6]))[:-5]),
    ]  # fmt: skip
    e = [_entry(t, name, why, data, "bytes_b64") for name, why, data in cases]
    for v in e:
        v["expect"] = ["invalid_message"]
    return e


# --------------------------------------------------------------------------- images


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_declaring(
    width: int, height: int, idat: bytes | None = None, *, bit_depth: int = 8, color_type: int = 2
) -> bytes:
    """A PNG whose header declares width x height (RGB) but whose data holds a few rows at most."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = zlib.compress(b"\0" * 64) if idat is None else idat
    sig = b"\x89PNG\r\n\x1a\n"
    return sig + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def png_short_ihdr() -> bytes:
    """A PNG whose IHDR chunk is 5 bytes long, checksum and all."""
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", b"\0" * 5) + _png_chunk(b"IEND", b"")


def _image_bytes(fmt: str, size: tuple[int, int] = (24, 16), *, flat: bool = False, **kw: Any) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(np.full_like(pixels, 128) if flat else pixels)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG with its SOF0 header patched to declare width x height."""
    data = bytearray(_image_bytes("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_scan_bomb(repeats: int, size: int = 64) -> bytes:
    """A progressive JPEG whose last scan (16 bytes) is repeated: each copy is a full decode pass."""
    data = _image_bytes("JPEG", (size, size), flat=True, progressive=True)
    last_sos = data.rindex(b"\xff\xda")
    body, eoi = data[last_sos:-2], data[-2:]
    assert eoi == b"\xff\xd9"
    return data[:-2] + body * repeats + eoi


def image_entries() -> list[Entry]:
    t = "image"
    png = _image_bytes("PNG")
    jpeg = _image_bytes("JPEG")
    pjpeg = _image_bytes("JPEG", progressive=True)
    ihdr_end = 8 + 8 + 13 + 4
    cases: list[tuple[str, str, bytes]] = [
        ("png_60000_square", "a PNG header declaring 60000 x 60000 (3.6 G pixels) with no real data", png_declaring(60000, 60000)),
        ("jpeg_60000_square", "a JPEG SOF declaring 60000 x 60000", jpeg_declaring(60000, 60000)),
        ("png_2049_wide", "one pixel over the 2048 side limit", png_declaring(2049, 1)),
        ("png_2049_tall", "one pixel over the 2048 side limit, vertically", png_declaring(1, 2049)),
        ("png_65535_by_1", "a 65535 x 1 PNG header", png_declaring(65535, 1)),
        ("png_max_width", "width 2**31-1, the PNG maximum", png_declaring(2**31 - 1, 1)),
        ("png_zero_width", "width 0 (invalid PNG)", png_declaring(0, 16)),
        ("png_width_2_32_minus_1", "width 2**32-1 (beyond the PNG maximum)", png_declaring(2**32 - 1, 1)),
        ("jpeg_4000_wide", "a JPEG SOF declaring 4000 x 16", jpeg_declaring(4000, 16)),
        ("jpeg_zero_height", "a JPEG SOF declaring height 0", jpeg_declaring(24, 0)),
        ("jpeg_scan_bomb_150", "150 copies of a progressive scan (each a full pass; 1000 at 2048x2048 took 10 s)",
         jpeg_scan_bomb(150)),
        ("jpeg_scan_bomb_1000", "1000 copies of a progressive scan", jpeg_scan_bomb(1000, 16)),
        ("png_truncated_ihdr", "a PNG cut inside its IHDR chunk", png[:20]),
        ("png_short_ihdr", "an IHDR chunk of 5 bytes with a valid checksum (PIL raised ValueError: a 500)", png_short_ihdr()),
        ("png_truncated_idat", "a PNG cut inside its image data", png[: len(png) // 2]),
        ("png_truncated_end", "a PNG missing its last 40 bytes (the end of its image data)", png[:-40]),
        ("png_signature_only", "only the PNG signature", png[:8]),
        ("png_header_only", "a PNG with IHDR and nothing else", png[:ihdr_end]),
        ("png_bad_idat", "IDAT holding bytes that are not zlib", png_declaring(24, 16, idat=b"not zlib data at all")),
        ("png_short_idat", "IDAT holding too few rows for the declared size", png_declaring(24, 16, idat=zlib.compress(b"\0" * 10))),
        ("png_bad_ihdr_crc", "an IHDR whose checksum is wrong", png[:29] + bytes([png[29] ^ 0xFF]) + png[30:]),
        ("png_bad_color_type", "an IHDR with colour type 7", png_declaring(24, 16, color_type=7)),
        ("png_bit_depth_7", "an IHDR with bit depth 7", png_declaring(24, 16, bit_depth=7)),
        ("jpeg_truncated_half", "a JPEG cut in half", jpeg[: len(jpeg) // 2]),
        ("jpeg_truncated_header", "a JPEG cut inside its headers", jpeg[:100]),
        ("jpeg_soi_only", "only the JPEG start marker", jpeg[:2]),
        ("progressive_truncated", "a progressive JPEG cut inside its first scan", pjpeg[: len(pjpeg) // 3]),
        ("jpeg_no_sof", "a JPEG with its SOF marker renamed", jpeg.replace(b"\xff\xc0", b"\xff\xfe", 1)),
        ("gif", "a GIF (only JPEG and PNG are accepted)", _image_bytes("GIF")),
        ("bmp", "a BMP", _image_bytes("BMP")),
        ("tiff", "a TIFF", _image_bytes("TIFF")),
        ("webp", "a WebP", _image_bytes("WEBP")),
        ("ppm", "a PPM", _image_bytes("PPM")),
        ("empty", "no bytes", b""),
        ("text", "plain text", b"this is not an image"),
        ("zeros", "4 KiB of zero bytes", b"\0" * 4096),
        ("random", "random bytes", np.random.default_rng(9).integers(0, 256, 2048, dtype=np.uint8).tobytes()),
        ("svg", "an SVG document", b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>'),
    ]  # fmt: skip
    e = [_entry(t, name, why, data, "bytes_b64") for name, why, data in cases]
    for v in e:
        v["expect"] = ["invalid_observation"]
    return e


# --------------------------------------------------------------------------- observations


def observation_entries() -> list[Entry]:
    t = "observation"
    img = np.zeros((4, 4, 3), np.uint8)
    ok = {"image": img, "instruction": "pick up the cup"}
    f16 = np.zeros((16, 256), np.float32)
    cases: list[tuple[str, str, bytes]] = [
        ("not_a_map", "a list instead of a map", wire.packb([1, 2, 3])),
        ("a_number", "a number instead of a map", wire.packb(7)),
        ("no_image", "no image and no frame_ref", wire.packb({"instruction": "go"})),
        ("integer_keys", "a map with integer keys only", msgpack.packb({1: 2, 3: 4})),
        ("image_and_frame_ref", "both an image and a frame_ref", wire.packb(dict(ok, frame_ref={"dataset": "d", "episode": 0, "frame": 0}))),
        ("frame_ref_string", "frame_ref as a string", wire.packb({"frame_ref": "d/0/0"})),
        ("image_float", "a float32 image", wire.packb(dict(ok, image=np.zeros((4, 4, 3), np.float32)))),
        ("image_rgba", "an (H, W, 4) image", wire.packb(dict(ok, image=np.zeros((4, 4, 4), np.uint8)))),
        ("image_2d", "an (H, W) image", wire.packb(dict(ok, image=np.zeros((4, 4), np.uint8)))),
        ("image_empty", "a (0, 5, 3) image", wire.packb(dict(ok, image=np.zeros((0, 5, 3), np.uint8)))),
        ("image_2049", "a (2049, 1, 3) image", wire.packb(dict(ok, image=np.zeros((2049, 1, 3), np.uint8)))),
        ("image_string", "the image as a str", wire.packb(dict(ok, image="iVBORw0KGgo="))),
        ("image_bad_bytes", "image bytes that are not JPEG/PNG", wire.packb(dict(ok, image=b"GIF89a"))),
        ("image_png_60000", "image bytes of a PNG declaring 60000 x 60000", wire.packb(dict(ok, image=png_declaring(60000, 60000)))),
        ("image_bad_array", "an image whose array header lies", _pack({"image": _nd(b"\0" * 10, "|u1", [4, 4, 3]), "instruction": "go"})),
        ("instruction_number", "instruction as a number", wire.packb(dict(ok, instruction=5))),
        ("instruction_long", "an instruction of 1001 characters", wire.packb(dict(ok, instruction="a" * 1001))),
        ("tokens_without_valid", "prompt_tokens without prompt_valid", wire.packb(dict(ok, prompt_tokens=f16))),
        ("valid_without_tokens", "prompt_valid without prompt_tokens", wire.packb(dict(ok, prompt_valid=np.ones(16, bool)))),
        ("tokens_shape", "prompt_tokens of shape (16, 255)", wire.packb(dict(ok, prompt_tokens=f16[:, :255], prompt_valid=np.ones(16, bool)))),
        ("tokens_int", "integer prompt_tokens", wire.packb(dict(ok, prompt_tokens=f16.astype(np.int32), prompt_valid=np.ones(16, bool)))),
        ("tokens_nan", "NaN in prompt_tokens", wire.packb(dict(ok, prompt_tokens=np.full((16, 256), np.nan, np.float32), prompt_valid=np.ones(16, bool)))),
        ("tokens_strings", "prompt_tokens as lists of strings", wire.packb(dict(ok, prompt_tokens=[["a"] * 256] * 16, prompt_valid=[True] * 16))),
        ("valid_ragged", "prompt_valid as a ragged list (ValueError before)",
         wire.packb(dict(ok, prompt_tokens=f16, prompt_valid=[[True], [True, False]]))),
        ("valid_float", "prompt_valid as floats", wire.packb(dict(ok, prompt_tokens=f16, prompt_valid=np.ones(16, np.float32)))),
        ("prompts_object", "prompts as an object", wire.packb(dict(ok, prompts={"type": "point", "x": 0.5, "y": 0.5}))),
        ("prompts_17", "17 prompts (at most 16)", wire.packb(dict(ok, prompts=[_point()] * 17))),
        ("prompts_inf", "a point at infinity", wire.packb(dict(ok, prompts=[_point(x=float("inf"))]))),
        ("prompts_int_key", "a prompt with an integer key", msgpack.packb({"image": _nd(img.tobytes(), "|u1", [4, 4, 3]),
         "prompts": [{"type": "point", "x": 0.5, "y": 0.5, 7: 1}]}, use_bin_type=True)),
        ("prompts_big_int", "a point x of 2**64 (msgpack's largest integer)", wire.packb(dict(ok, prompts=[_point(x=2**64 - 1)]))),
        ("masks_object", "pixel_masks as an object", wire.packb(dict(ok, pixel_masks={"size": [3, 4], "counts": "0<"}))),
        ("masks_5", "five pixel masks (at most 4)", wire.packb(dict(ok, pixel_masks=[{"size": [3, 4], "counts": "0<"}] * 5))),
        ("masks_string_item", "a pixel mask that is a string", wire.packb(dict(ok, pixel_masks=["0<"]))),
        ("masks_int64_wrap", "the int64-wrapping RLE as a pixel mask", wire.packb(dict(ok, pixel_masks=[{"size": [1, 1], "counts": [2**63 - 1, 2**63 - 1, 3]}]))),
        ("masks_2_64", "a run of 2**64-1 in a pixel mask", wire.packb(dict(ok, pixel_masks=[{"size": [1, 1], "counts": [2**64 - 1]}]))),
        ("state_inf", "an infinite state value", wire.packb(dict(ok, state=[float("inf")] * 8))),
        ("state_nan", "a NaN state", wire.packb(dict(ok, state=np.full(8, np.nan, np.float32)))),
        ("state_65", "65 state values (at most 64)", wire.packb(dict(ok, state=np.zeros(65, np.float32)))),
        ("state_2d", "a 2-D state", wire.packb(dict(ok, state=np.zeros((2, 4), np.float32)))),
        ("state_ragged", "a ragged state list", wire.packb(dict(ok, state=[[1.0], [1.0, 2.0]]))),
        ("state_strings", "a state of strings", wire.packb(dict(ok, state=["a", "b"]))),
        ("state_int_array", "an integer state array", wire.packb(dict(ok, state=np.zeros(8, np.int32)))),
        ("not_msgpack", "bytes that are not msgpack", b"\xc1\xc1"),
    ]  # fmt: skip
    e = [_entry(t, name, why, data, "bytes_b64") for name, why, data in cases]
    for v in e:
        v["expect"] = OBSERVATION_CODES
    return e


# --------------------------------------------------------------------------- accepted but huge


def bounded_entries() -> list[Entry]:
    """Valid inputs that declare huge sizes: accepted, at a cost bounded by the model's grid."""
    side = rle.MAX_SIDE
    full = {"size": [side, side], "counts": rle.counts_to_string([0, side * side])}
    stripes_runs = (
        [side * 100] + [side, side] * 49 + [side, side * (side - 199)]
    )  # columns 100, 102, ..., 198
    stripes = {"size": [side, side], "counts": rle.counts_to_string(stripes_runs)}
    e = [
        _entry("rle", "full_16384", "60 bytes declaring a full 16384 x 16384 mask (was a 16 s, 1.5 GB raster per mask)", full),
        _entry("rle", "stripes_16384", "50 one-column stripes in a 16384 x 16384 mask", stripes),
        _entry("mask_prompt", "mask_prompt_full_16384", "the same as a mask prompt (featurised at 64 x 64)",
               {"type": "mask", "rle": full}),
        _entry("observation", "four_full_16384_pixel_masks", "four 16384 x 16384 pixel masks in one message (was 28 s, 2.9 GB)",
               wire.packb({"image": np.zeros((4, 4, 3), np.uint8), "instruction": "go", "pixel_masks": [full] * 4}),
               "bytes_b64"),
    ]  # fmt: skip
    for v in e:
        v["expect"] = ["ok"]
    return e


# --------------------------------------------------------------------------- checks and files


def python_check(entry: Entry) -> Callable[[], object] | None:
    """A call that must raise a PixelVLAError with a code in entry["expect"]; None for the server's targets."""
    target = entry["target"]
    if target == "wire_array":
        return lambda: wire.unpackb(base64.b64decode(entry["payload"]))
    if target in ("image", "observation"):
        return None
    value = decode_payload(entry)
    if target == "rle":

        def all_rle() -> object:
            for f in (rle.validate, rle.area, rle.decode):
                try:
                    f(value)
                except RleError:
                    continue
                raise AssertionError(f"{f.__name__} accepted {entry['name']}")
            return rle.coverage(value, 16)

        return all_rle
    if target == "prompt":
        return lambda: featurize(prompts_from_json(value))
    if target == "mask_prompt":
        return lambda: featurize(prompts_from_json([value]))
    raise ValueError(f"unknown target {target!r}")


def build() -> dict[str, bytes]:
    groups = {
        "rle": rle_entries(),
        "prompt": prompt_entries(),
        "mask_prompt": mask_prompt_entries(),
        "wire_array": wire_entries(),
        "image": image_entries(),
        "observation": observation_entries(),
    }
    files: dict[str, bytes] = {}
    for target, entries in groups.items():
        names = [v["name"] for v in entries]
        assert len(set(names)) == len(names), f"duplicate names in {target}"
        for v in entries:
            v.setdefault("python_only", False)
            check = python_check(v)
            if check is None:
                continue
            try:
                check()
            except PixelVLAError as err:
                assert err.code in v["expect"], (v["name"], err.code)
            else:  # pragma: no cover - a generator bug, not a runtime condition
                raise AssertionError(f"{target} entry {v['name']} was accepted")
        doc = {"format": FORMAT, "target": target, "feed": FEED[target], "entries": entries}
        files[f"{target}.json"] = dump_json(doc, ensure_ascii=False)
    bounded = bounded_entries()
    for v in bounded:
        v.setdefault("python_only", False)
    files["bounded.json"] = dump_json({
        "format": FORMAT, "target": "bounded",
        "feed": "valid inputs (each entry's target says how to feed it) that must be accepted at a cost bounded by "
        "the model's grid, not the declared size",
        "entries": bounded,
    }, ensure_ascii=False)  # fmt: skip
    return files


def main(argv: list[str] | None = None) -> None:
    generated.main(__doc__, DEFAULT_OUT, build, argv)


if __name__ == "__main__":
    main()
