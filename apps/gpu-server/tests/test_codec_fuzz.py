"""The server's observation decoders, fuzzed: image bytes and whole observation messages give a
decoded value or a typed error (ApiError / PixelVLAError with a code), never another exception.

The model-side decoders (RLE, prompts, msgpack) are fuzzed in packages/model/tests/test_decoders_fuzz.py;
this file feeds the corpus's image and observation entries (packages/model/testdata/malformed/) to
pixelvla_server.policy.codec and fuzzes it. Same budget and HYPOTHESIS_PROFILE=nightly switch.
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pixelvla import malformed, wire
from pixelvla.errors import PixelVLAError
from pixelvla_server.errors import ApiError
from pixelvla_server.policy.codec import (
    MAX_JPEG_SCANS,
    InvalidObservation,
    decode_image_bytes,
    to_observation,
)

_COMMON: dict[str, Any] = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
FUZZ = (
    settings(max_examples=20_000, **_COMMON)
    if os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
    else settings(max_examples=200, derandomize=True, database=None, **_COMMON)
)
MALFORMED = Path(malformed.DEFAULT_OUT)


def _encode(fmt: str, array: np.ndarray, **kw: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kw)
    return buf.getvalue()


_rng = np.random.default_rng(0)
_rgb = _rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
SEEDS = [
    _encode("PNG", _rgb),
    _encode("JPEG", _rgb),
    _encode("JPEG", _rgb, progressive=True),
    _encode("PNG", _rgb[..., 0]),  # greyscale
    _encode("PNG", np.dstack([_rgb, _rgb[..., :1]])),  # RGBA
    malformed.png_declaring(20, 12),  # a header with too little data behind it: a seed for the fuzzer only
]


@pytest.mark.parametrize("target", ["image", "observation"])
def test_every_corpus_entry_gets_its_typed_error(target: str) -> None:
    doc = json.loads((MALFORMED / f"{target}.json").read_text())
    assert doc["format"] == malformed.FORMAT and doc["target"] == target
    for e in doc["entries"]:
        data = base64.b64decode(e["payload"])
        with pytest.raises((ApiError, PixelVLAError)) as info:
            if target == "image":
                decode_image_bytes(data)
            else:
                to_observation(wire.unpackb(data))
        assert info.value.code in e["expect"], e["name"]


def test_corpus_failures_the_reviewer_and_fuzzer_found() -> None:
    with pytest.raises(InvalidObservation, match="ValueError"):  # PIL's "Truncated IHDR chunk" was a 500
        decode_image_bytes(malformed.png_short_ihdr())
    with pytest.raises(InvalidObservation, match="scans"):
        decode_image_bytes(malformed.jpeg_scan_bomb(MAX_JPEG_SCANS + 1, 16))
    with pytest.raises(InvalidObservation, match="limit is 2048"):
        decode_image_bytes(malformed.png_declaring(2049, 1))
    with pytest.raises(InvalidObservation):  # PIL refuses 3.6 G pixels when it reads the header
        decode_image_bytes(malformed.jpeg_declaring(60000, 60000))


def test_real_images_still_decode() -> None:
    """What cameras and browsers send: baseline and progressive JPEG, greyscale/RGB/RGBA PNG, and a
    JPEG whose EXIF block carries a second (progressive) JPEG, whose markers the scan count sees too."""
    thumb = _encode("JPEG", _rgb[:8, :8], progressive=True)
    exif = Image.Exif()
    exif[0x010E] = "camera"
    big = _rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    cases = [
        *SEEDS[:-1],
        _encode("JPEG", big, progressive=True, exif=exif.tobytes() + thumb),
        _encode("PNG", big),
    ]
    for data in cases:
        out = decode_image_bytes(data)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.writeable
    np.testing.assert_array_equal(decode_image_bytes(SEEDS[0]), _rgb)


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    """A real PNG/JPEG with a few byte edits, a cut, or a patched size header."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "header", "length"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "header" and len(data) > 24:  # a PNG's IHDR width/height, or anywhere in a JPEG
            data[16:24] = draw(st.binary(min_size=8, max_size=8))
        elif len(data) > 12:  # a PNG's IHDR chunk length, or a JPEG's first segment
            data[8:12] = struct.pack(">I", draw(st.integers(0, 20) | st.integers(0, 2**32 - 1)))
    return bytes(data)


@FUZZ
@given(data=image_bytes() | st.binary(max_size=64))
def test_image_decoder_gives_rgb_or_invalid_observation(data: bytes) -> None:
    try:
        out = decode_image_bytes(data)
    except InvalidObservation as e:
        assert e.code == "invalid_observation"
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert 1 <= out.shape[0] <= 2048 and 1 <= out.shape[1] <= 2048


small = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=6)
arrays = st.builds(
    lambda shape, dt: np.zeros(shape, dt),
    st.sampled_from([(), (8,), (16,), (16, 256), (4, 4, 3), (3, 4, 4), (4, 4), (0, 5, 3), (65,)]),
    st.sampled_from([np.uint8, np.float32, np.float16, np.bool_, np.int32]),
)
field_values = st.recursive(
    small | arrays | st.binary(max_size=8) | st.sampled_from(SEEDS),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8,
)
FIELDS = ["image", "observation/image", "frame_ref", "instruction", "prompt", "prompt_tokens", "prompt_valid",
          "prompts", "pixel_masks", "state", "observation/state", "seq"]  # fmt: skip


@st.composite
def observations(draw: st.DrawFn) -> Any:
    obs = draw(st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=6))
    if draw(st.booleans()):  # the fields checked first, valid, so the fuzz reaches the later ones
        obs["image"] = draw(st.sampled_from([np.zeros((4, 4, 3), np.uint8), SEEDS[0]]))
        obs["instruction"] = "go"
    if draw(st.booleans()):
        obs["prompt_tokens"] = np.zeros((16, 256), np.float32)
        ragged = st.tuples(
            st.lists(st.booleans(), max_size=2), st.lists(st.booleans(), min_size=3, max_size=4)
        )
        obs["prompt_valid"] = draw(
            field_values | ragged.map(list) | st.lists(st.booleans(), min_size=16, max_size=16)
        )
    if draw(st.booleans()):
        obs["pixel_masks"] = draw(
            st.lists(st.fixed_dictionaries({"size": field_values, "counts": field_values}), max_size=5)
        )
    return obs


@FUZZ
@given(obs=observations() | field_values, through_wire=st.booleans())
def test_observation_decoder_gives_an_observation_or_a_typed_error(obs: Any, through_wire: bool) -> None:
    try:
        if through_wire:
            obs = wire.unpackb(wire.packb(obs))
        to_observation(obs)
    except (ApiError, PixelVLAError) as e:
        assert e.code in malformed.OBSERVATION_CODES, e.code
