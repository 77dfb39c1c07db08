"""Every input decoder, fuzzed: any input gives a valid result or the decoder's typed error, never
another exception, and sizes a client declares never cost more than the model can use.

Property-based (hypothesis) over pixelvla.rle (string_to_counts, validate, area, decode, coverage),
the prompt parser with featurisation, and the msgpack decoder; then the committed corpus of malformed
inputs (testdata/malformed/, written by ``python -m pixelvla.malformed``) and the memory of huge
declared masks. Image and observation decoding live in the server: apps/gpu-server/tests/test_codec_fuzz.py.

Budget: the default profile runs this file in well under a minute on one slow core (derandomised, so
CI is reproducible); ``HYPOTHESIS_PROFILE=nightly`` runs ~100x the examples with fresh randomness
(the command is in packages/model/README.md).
"""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pixelvla import malformed, rle, wire
from pixelvla.errors import PixelVLAError, PromptError, RleError, WireError
from pixelvla.prompts import area_resample, check_features, featurize, pixel_mask_grid, prompts_from_json

_COMMON: dict[str, Any] = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
FUZZ = (
    settings(max_examples=20_000, **_COMMON)
    if NIGHTLY
    else settings(max_examples=200, derandomize=True, database=None, **_COMMON)
)
MALFORMED = Path(__file__).resolve().parents[1] / "testdata" / "malformed"
ALPHABET = [chr(c) for c in range(48, 112)]  # the 64 valid counts characters
INVALID = ["/", "p", " ", "\x00", "\x7f", "é", "😀"]


# --------------------------------------------------------------------------- the RLE counts string


def sequential_reader(s: str, max_count: int, max_runs: int) -> list[int]:
    """COCO's rleFrString one character at a time, stopping at the first problem: the reference
    for the vectorised reader (pixelvla.rle._string_counts), messages included."""
    counts: list[int] = []
    p, n = 0, len(s)
    while p < n:
        x = k = 0
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
            if k > rle.MAX_GROUPS:
                raise RleError("RLE counts string encodes a number that is too large")
            if not more and (c & 0x10):
                x -= 1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        if x < 0:
            raise RleError("RLE counts must be non-negative run lengths")
        if x > max_count:
            raise RleError(f"RLE run {len(counts)} is {x} pixels long; the mask has only {max_count} pixels")
        counts.append(x)
        if len(counts) > max_runs:
            raise RleError(
                f"RLE has more than {max_runs} runs; a mask of {max_runs - 1} pixels has at most {max_runs}"
            )
    return counts


@st.composite
def counts_strings(draw: st.DrawFn) -> str:
    """Valid encodings of random runs (some huge), then a few character edits."""
    if draw(st.booleans()):
        runs = draw(st.lists(st.integers(0, 2**30) | st.integers(0, 20), max_size=12))
        chars = list(rle.counts_to_string(runs))
    else:
        chars = draw(st.lists(st.sampled_from(ALPHABET), max_size=30))
    for _ in range(draw(st.integers(0, 3))):
        ch = draw(st.sampled_from(ALPHABET) | st.sampled_from(INVALID))
        at = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from(["insert", "replace", "delete"]))
        if op == "insert" or not chars:
            chars.insert(at, ch)
        elif op == "replace":
            chars[min(at, len(chars) - 1)] = ch
        else:
            del chars[min(at, len(chars) - 1)]
    return "".join(chars)


def _outcome(f: Any, *args: Any, **kw: Any) -> tuple[str, Any]:
    try:
        return "ok", list(f(*args, **kw))
    except RleError as e:
        return "error", e.message


limits = st.sampled_from([0, 1, 2, 3, 12, 1000, rle.MAX_PIXELS]) | st.integers(0, 2**28)
run_limits = st.sampled_from([0, 1, 2, 3, 5, 13, rle.MAX_PIXELS + 1]) | st.integers(0, 40)


@FUZZ
@given(s=counts_strings(), max_count=limits, max_runs=run_limits, block=st.sampled_from([1, 2, 3, 1 << 18]))
def test_vectorised_counts_reader_is_the_sequential_one(
    s: str, max_count: int, max_runs: int, block: int
) -> None:
    want = _outcome(sequential_reader, s, max_count, max_runs)
    assert _outcome(rle._string_counts, s, max_count, max_runs, block) == want
    if block == 1 << 18:
        assert _outcome(rle.string_to_counts, s, max_count=max_count, max_runs=max_runs) == want


def test_the_int64_wrap_is_refused_at_its_first_run() -> None:
    """The reviewer's crash: counts whose int64 sum wraps to H*W passed validation and np.repeat
    segfaulted; runs of 2**64-1 or 10**30 raised OverflowError (no typed error, no reply)."""
    for counts in (
        [2**63 - 1, 2**63 - 1, 3],
        [2**64 - 1],
        [10**30],
        rle.counts_to_string(malformed.wrapping_counts(1)),
    ):
        bad = {"size": [1, 1], "counts": counts}
        for f in (rle.validate, rle.area, rle.decode):
            with pytest.raises(RleError, match="run 0 is") as info:
                f(bad)
            assert info.value.code == "invalid_rle"
    wrap = malformed.wrapping_counts(1)
    assert sum(wrap) == 2**64 + 1 and max(wrap) < 2**63
    assert int(np.asarray(wrap, np.int64).sum()) == 1  # what the old check compared with H*W


# --------------------------------------------------------------------------- RLE objects


def _small_mask(h: int, w: int, seed: int, density: float) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w)) < density


odd_ints = st.sampled_from([-1, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 10**30, -(2**63)])
odd_values = st.one_of(
    st.none(), st.booleans(), st.floats(), st.text(max_size=5), odd_ints, st.lists(st.integers(), max_size=3)
)


@st.composite
def rle_like(draw: st.DrawFn) -> object:
    """Near-valid RLEs (a real mask's, with one thing changed) and arbitrary objects."""
    kind = draw(st.sampled_from(["valid", "mutated", "mutated", "arbitrary"]))
    if kind == "arbitrary":
        return draw(
            st.dictionaries(
                st.sampled_from(["size", "counts", "x"]), odd_values | st.lists(odd_values, max_size=3)
            )
            | odd_values
        )
    h, w = draw(st.integers(0, 40)), draw(st.integers(0, 40))
    m = _small_mask(h, w, draw(st.integers(0, 2**16)), draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])))
    r: dict[str, Any] = dict(rle.encode(m))
    if draw(st.booleans()):
        r["counts"] = rle.string_to_counts(r["counts"])
    if kind == "valid":
        return r
    what = draw(st.sampled_from(["size", "counts_value", "counts_string", "counts_len", "key", "huge"]))
    if what == "size":
        r["size"] = draw(st.lists(st.integers(-2, 20) | odd_ints | st.floats(0, 9), min_size=0, max_size=3))
    elif what == "counts_value" and isinstance(r["counts"], list) and r["counts"]:
        i = draw(st.integers(0, len(r["counts"]) - 1))
        r["counts"][i] = draw(st.integers(-3, 3).map(lambda d: r["counts"][i] + d) | odd_ints | odd_values)
    elif what == "counts_string":
        s = r["counts"] if isinstance(r["counts"], str) else rle.counts_to_string(r["counts"])
        r["counts"] = s + draw(st.text(st.sampled_from(ALPHABET + INVALID), max_size=4))
    elif what == "counts_len":
        r["counts"] = list(rle.string_to_counts(r["counts"]) if isinstance(r["counts"], str) else r["counts"])
        r["counts"] += draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    elif what == "huge":  # runs near and beyond int64 whose wrapped sum can equal H*W
        big = draw(st.lists(odd_ints | st.integers(2**62, 2**64), min_size=1, max_size=3))
        r["counts"] = [*big, (h * w - sum(big)) % 2**64]
    else:
        r.pop(draw(st.sampled_from(["size", "counts"])))
    return r


@FUZZ
@given(r=rle_like(), grid=st.sampled_from([1, 3, 16, 64]))
def test_rle_decoders_give_a_mask_or_an_rle_error(r: Any, grid: int) -> None:
    try:
        h, w = rle.validate(r)
    except RleError as e:
        assert e.code == "invalid_rle"
        for f in (rle.area, rle.decode, lambda x: rle.coverage(x, grid)):
            with pytest.raises(RleError):
                f(r)
        return
    cov = rle.coverage(r, grid)
    assert cov.shape == (grid, grid) and cov.dtype == np.float32
    if h * w <= 1_000_000:
        m = rle.decode(r)
        assert m.shape == (h, w) and m.dtype == np.bool_
        assert rle.area(r) == int(m.sum())
        assert np.array_equal(rle.decode(rle.encode(m)), m)
        want = area_resample(m, grid) if m.size else np.zeros((grid, grid), np.float32)
        assert np.array_equal(cov, want)


@st.composite
def rect_masks(draw: st.DrawFn) -> np.ndarray:
    """Masks of a few rectangles (long runs, like real annotations) up to 300 x 300."""
    h, w = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    m = np.zeros((h, w), bool)
    for _ in range(draw(st.integers(0, 4))):
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        m[y0 : draw(st.integers(y0, h)), x0 : draw(st.integers(x0, w))] = True
    if draw(st.booleans()):
        m ^= _small_mask(h, w, draw(st.integers(0, 99)), 0.02)
    return m


@FUZZ
@given(m=rect_masks(), grid=st.sampled_from([1, 2, 3, 7, 16, 64, 100]))
def test_coverage_from_runs_is_the_area_resampled_raster_bit_for_bit(m: np.ndarray, grid: int) -> None:
    np.testing.assert_array_equal(rle.coverage(rle.encode(m), grid), area_resample(m, grid))


# --------------------------------------------------------------------------- prompts


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**64, 2**63 - 1]),
    st.floats(),
    st.floats(0, 1),
    st.text(max_size=8),
    st.sampled_from(["point", "box", "line", "mask", "x", "type", "rle", "size", "counts"]),
    st.builds(lambda shape, dt: np.zeros(shape, dt), st.sampled_from([(), (2,), (2, 2), (3, 2)]),
              st.sampled_from([np.float32, np.int64, np.bool_, np.uint8])),  # msgpack clients send arrays
)  # fmt: skip
json_like = st.recursive(
    leaves,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["type", "x", "y", "points", "rle"]), kids, max_size=4
        )
        | st.dictionaries(st.integers() | st.binary(max_size=3), kids, max_size=2)
    ),  # msgpack's non-str keys
    max_leaves=12,
)
unit = st.floats(0, 1) | st.sampled_from([10**400, -(10**400), 2**64]) | leaves


@st.composite
def prompt_like(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["point", "box", "line", "mask"]))
    if kind == "point":
        d: dict[str, Any] = {"type": "point", "x": draw(unit), "y": draw(unit)}
        if draw(st.booleans()):
            d["positive"] = draw(st.booleans() | leaves)
    elif kind == "box":
        d = {"type": "box", **{k: draw(unit) for k in ("x0", "y0", "x1", "y1")}}
    elif kind == "line":
        d = {
            "type": "line",
            "points": draw(st.lists(st.lists(unit, min_size=2, max_size=2) | json_like, max_size=6)),
        }
    else:
        d = {"type": "mask", "rle": draw(rle_like())}
    if draw(st.integers(0, 3)) == 0:  # an unknown key: a string, or (from msgpack) an int or bytes
        d[draw(st.text(max_size=3) | st.integers() | st.binary(max_size=2))] = draw(json_like)
    return d


@FUZZ
@given(items=st.lists(prompt_like() | json_like, max_size=5) | json_like)
@example(items=[{"type": np.zeros(2, np.float32)}])  # found by the nightly run: == on an array
def test_prompt_parser_gives_features_or_a_prompt_error(items: Any) -> None:
    try:
        features = featurize(prompts_from_json(items))
    except PixelVLAError as e:
        assert isinstance(e, PromptError | RleError) and e.code in ("invalid_prompt", "invalid_rle")
        return
    check_features(features)


def test_prompt_errors_the_reviewer_found() -> None:
    with pytest.raises(PromptError, match="finite") as info:
        prompts_from_json([{"type": "point", "x": 10**400, "y": 0.5}])  # OverflowError before
    assert info.value.code == "invalid_prompt"
    with pytest.raises(PromptError, match="keys must be strings"):
        prompts_from_json([{"type": "point", "x": 0.5, "y": 0.5, 1: 2, "z": 3}])  # TypeError before
    with pytest.raises(PromptError, match="pair"):
        prompts_from_json([{"type": "line", "points": np.zeros((), np.float32)}])  # TypeError before


# --------------------------------------------------------------------------- wire


dtype_names = st.sampled_from(
    [*sorted(wire.ALLOWED_DTYPES), "bool", "<b1", ">f4", "|O", "<c8", "|V4", "<M8[s]", "f4"]
)


@st.composite
def array_maps(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(st.lists(st.integers(0, 4) | st.sampled_from([-1, 2**31, 2**64 - 1, True]), max_size=5))
    dtype = draw(dtype_names | st.integers(-5, 5) | st.none())
    n = 1
    for s in shape:
        n *= max(int(s), 0)
    size = n * 8 if n * 8 < 256 else 0
    data = draw(st.binary(min_size=size, max_size=size) | st.binary(max_size=40) | st.text(max_size=4))
    marker = draw(st.just(True) | st.sampled_from([1, "yes", False, None]))
    d = {"__ndarray__": marker, "data": data, "dtype": dtype, "shape": shape}
    if draw(st.booleans()):  # openpi's bin keys
        d = {k.encode(): v for k, v in d.items()}
    return d


wire_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=5)
    | st.binary(max_size=5) | array_maps()
    | st.builds(msgpack.Timestamp, st.integers(0, 2**32 - 1))
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=3)),
    lambda kids: st.lists(kids, max_size=4)
    | st.dictionaries(st.text(max_size=4) | st.integers(-(2**63), 2**64 - 1), kids, max_size=4),
    max_leaves=10,
)  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    data: bytes = msgpack.packb(draw(wire_values), use_bin_type=True)
    if draw(st.booleans()):  # then break its framing
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=4)) + data[cut + draw(st.integers(0, 3)) :]
    return data


@FUZZ
@given(data=messages() | st.binary(max_size=64))
def test_wire_decoder_gives_a_value_or_a_wire_error(data: bytes) -> None:
    try:
        value = wire.unpackb(data)
    except WireError as e:
        assert e.code == "invalid_message"
        return
    stack = [value]
    while stack:  # nothing but plain values and checked arrays comes back
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, np.ndarray):
            assert v.dtype.str in wire.ALLOWED_DTYPES and v.ndim <= wire.MAX_NDIM and v.flags.writeable
        else:
            assert v is None or isinstance(v, bool | int | float | str | bytes | np.generic), type(v)


def test_wire_refuses_the_timestamp_extension() -> None:
    """msgpack decodes ext type -1 itself (ext_hook never sees it), so it came back as a Timestamp."""
    for value in (msgpack.Timestamp(0), [msgpack.Timestamp(1)], {"seq": msgpack.Timestamp(2)}):
        with pytest.raises(WireError, match="timestamp"):
            wire.unpackb(msgpack.packb(value))


# --------------------------------------------------------------------------- the committed corpus


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((MALFORMED / name).read_text())
    return doc


def test_corpus_is_current_and_large_enough() -> None:
    fresh = malformed.build()
    assert sorted(p.name for p in MALFORMED.glob("*.json")) == sorted(fresh)
    for name, data in fresh.items():
        assert _load(name) == json.loads(data), (
            f"testdata/malformed/{name} is stale: run `.venv/bin/python -m pixelvla.malformed`"
        )
    entries = [e for t in malformed.TARGETS for e in _load(f"{t}.json")["entries"]]
    assert len(entries) >= 200
    names = {(e["target"], e["name"]) for e in entries}
    for must in [("rle", "int64_wrap_list"), ("rle", "int64_wrap_string"), ("rle", "run_2_64_minus_1"),
                 ("rle", "run_10_30"), ("prompt", "x_10_400"), ("prompt", "x_1e400_text"),
                 ("prompt", "non_string_keys_mixed"), ("image", "png_60000_square"), ("image", "jpeg_60000_square")]:  # fmt: skip
        assert must in names
    for e in entries:
        assert set(e) == {"name", "target", "why", "encoding", "payload", "expect", "python_only"}
        assert e["encoding"] in ("json", "json_text", "msgpack_b64", "bytes_b64") and e["why"]


@pytest.mark.parametrize("target", ["rle", "prompt", "mask_prompt", "wire_array"])
def test_every_corpus_entry_gets_its_typed_error(target: str) -> None:
    doc = _load(f"{target}.json")
    assert doc["format"] == malformed.FORMAT and doc["target"] == target
    for e in doc["entries"]:
        check = malformed.python_check(e)
        assert check is not None
        with pytest.raises(PixelVLAError) as info:
            check()
        assert info.value.code in e["expect"], e["name"]


def test_the_wrapping_string_is_what_the_old_reader_read() -> None:
    """The corpus's compressed wrap decodes (without limits) to runs that sum to 2**64 + 1."""
    entry = next(e for e in _load("rle.json")["entries"] if e["name"] == "int64_wrap_string")
    counts = sequential_reader(entry["payload"]["counts"], 2**70, 2**70)
    assert sum(counts) == 2**64 + 1 and min(counts) >= 0 and max(counts) < 2**63


# --------------------------------------------------------------------------- bounded cost


def _peak_bytes(f: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        out = f()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_declared_masks_cost_what_the_grid_needs() -> None:
    """bounded.json's masks: 60 bytes declaring 16384 x 16384. Rasterising one took 16 s and
    1.5 GB (2.4 GB peak traced here) in pixel_mask_grid; four in one message 28 s and 2.9 GB."""
    bounded = {e["name"]: e for e in _load("bounded.json")["entries"]}
    full = bounded["full_16384"]["payload"]
    (grid, valid), peak = _peak_bytes(lambda: pixel_mask_grid([full] * 4, grid=16))
    assert valid.all() and (grid == 1.0).all()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB for four 16384 x 16384 pixel masks"
    feats, peak = _peak_bytes(
        lambda: featurize(prompts_from_json([bounded["mask_prompt_full_16384"]["payload"]]))
    )
    assert (feats["masks"][0] == 1.0).all()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB for one 16384 x 16384 mask prompt"
    observation = wire.unpackb(base64.b64decode(bounded["four_full_16384_pixel_masks"]["payload"]))
    (grid, valid), peak = _peak_bytes(lambda: pixel_mask_grid(observation["pixel_masks"], grid=16))
    assert valid.all() and peak < 64 * 2**20
    stripes = bounded["stripes_16384"]["payload"]
    cov, peak = _peak_bytes(lambda: rle.coverage(stripes, 16))
    assert peak < 64 * 2**20
    # 50 one-pixel-wide columns starting at column 100, all in the first grid column (1024 wide).
    assert np.isclose(cov[:, 0], 50 / 1024).all() and not cov[:, 1:].any()
