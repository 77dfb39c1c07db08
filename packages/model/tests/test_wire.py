"""msgpack wire codec: round trips, openpi compatibility, and hostile input."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from pixelvla.errors import WireError
from pixelvla.wire import ALLOWED_DTYPES, packb, unpackb


@pytest.mark.parametrize("dtype", sorted(ALLOWED_DTYPES))
def test_every_allowed_dtype_round_trips(dtype: str) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.random((3, 4, 2)) * 100).astype(np.dtype(dtype))
    out = unpackb(packb({"x": arr}))["x"]
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_nested_message_round_trip() -> None:
    msg = {
        "image": np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3),
        "instruction": "pick up the red block",
        "prompts": [{"type": "point", "x": 0.25, "y": 0.5, "positive": True}],
        "empty": np.zeros((0, 7), np.float32),
        "scalar": np.float32(0.5),
        "none": None,
        "raw": b"\x00\x01",
    }
    out = unpackb(packb(msg))
    np.testing.assert_array_equal(out["image"], msg["image"])
    assert out["empty"].shape == (0, 7)
    assert out["scalar"] == 0.5 and out["none"] is None and out["raw"] == b"\x00\x01"
    assert out["prompts"] == msg["prompts"]


def test_array_layout_is_openpi_style_with_str_keys() -> None:
    raw = msgpack.unpackb(packb(np.ones((2,), np.float32)), raw=False)
    assert raw == {
        "__ndarray__": True,
        "data": np.ones(2, np.float32).tobytes(),
        "dtype": "<f4",
        "shape": [2],
    }


def test_non_contiguous_and_big_endian_arrays_are_normalised() -> None:
    a = np.arange(12, dtype=">i4").reshape(3, 4)[:, ::2]
    out = unpackb(packb(a))
    assert out.dtype == np.dtype("<i4")
    np.testing.assert_array_equal(out, a)


def test_decodes_openpi_bin_keys() -> None:
    data = msgpack.packb(
        {b"__ndarray__": True, b"data": b"\x01\x00", b"dtype": "<u2", b"shape": (1,)},
        use_bin_type=True,
    )
    np.testing.assert_array_equal(unpackb(data), np.array([1], np.uint16))
    scalar = msgpack.packb({b"__npgeneric__": True, b"data": 3, b"dtype": "<i4"}, use_bin_type=True)
    assert unpackb(scalar) == np.int32(3)


def _arr(**over: object) -> bytes:
    d: dict[str, object] = {"__ndarray__": True, "data": b"\0" * 8, "dtype": "<f4", "shape": [2]}
    d.update(over)
    return msgpack.packb(d, use_bin_type=True)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\xc1", "malformed"),
        (b"\x92\x01", "malformed"),
        (b"", "malformed"),
        (b"\x01\x02", "malformed"),  # trailing data
        (_arr(data=b"\0" * 7), "needs 8"),
        (_arr(dtype="|O"), "not allowed"),
        (_arr(dtype=">f4"), "not allowed"),
        (_arr(dtype="<U2"), "not allowed"),
        (_arr(shape=[-2]), "non-negative"),
        (_arr(shape="2"), "shape"),
        (_arr(data="text"), "bin"),
        (_arr(__ndarray__=1), "true"),
        (msgpack.packb(msgpack.ExtType(1, b"x")), "extension"),
        (b"\x91" * 5000 + b"\x00", "malformed"),  # nesting bomb
    ],
)
def test_malformed_messages_raise_wire_error(data: bytes, fragment: str) -> None:
    with pytest.raises(WireError, match=fragment) as info:
        unpackb(data)
    assert info.value.code == "invalid_message"


def test_size_limit_and_types() -> None:
    big = packb(np.zeros(1000, np.float64))
    with pytest.raises(WireError, match="limit"):
        unpackb(big, max_bytes=100)
    with pytest.raises(WireError, match="bytes"):
        unpackb("not bytes")  # type: ignore[arg-type]


def test_refuses_to_send_objects() -> None:
    with pytest.raises(WireError, match="dtype"):
        packb({"x": np.array(["a", "b"])})
    with pytest.raises(WireError, match="dtype"):
        packb({"x": np.array([1 + 2j])})
    with pytest.raises(WireError, match="serialise"):
        packb({"x": object()})
