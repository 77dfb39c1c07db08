"""COCO RLE: round trips, the published compressed form, and malformed input."""

from __future__ import annotations

import numpy as np
import pytest
from pixelvla import rle
from pixelvla.errors import PixelVLAError, RleError


@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (7, 9), (64, 64), (31, 17), (1, 50), (50, 1)])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.5, 1.0])
def test_round_trip(shape: tuple[int, int], density: float) -> None:
    mask = np.random.default_rng(hash((shape, density)) % 2**32).random(shape) < density
    encoded = rle.encode(mask)
    assert encoded["size"] == list(shape)
    assert isinstance(encoded["counts"], str)
    np.testing.assert_array_equal(rle.decode(encoded), mask)
    assert rle.area(encoded) == int(mask.sum())


def test_known_coco_strings() -> None:
    # Values pycocotools produces (column-major, runs start with zeros).
    assert rle.encode(np.ones((3, 4), dtype=bool))["counts"] == "0<"
    assert rle.encode(np.zeros((3, 4), dtype=bool))["counts"] == "<"
    m = np.zeros((2, 2), dtype=np.uint8)
    m[0, 1] = 1  # column-major index 2
    assert rle.string_to_counts(rle.encode(m)["counts"]) == [2, 1, 1]


def test_column_major_order() -> None:
    m = np.zeros((2, 3), dtype=bool)
    m[:, 0] = True  # first column = first two pixels in Fortran order
    assert rle.string_to_counts(rle.encode(m)["counts"]) == [0, 2, 4]


def test_large_and_negative_deltas_round_trip() -> None:
    counts = [0, 5, 100000, 3, 7, 250000, 1, 1]
    s = rle.counts_to_string(counts)
    assert rle.string_to_counts(s) == counts


def test_uncompressed_counts_accepted() -> None:
    m = rle.decode({"size": [2, 3], "counts": [1, 2, 3]})
    assert m.dtype == np.bool_
    np.testing.assert_array_equal(m.ravel(order="F"), [0, 1, 1, 0, 0, 0])


def test_bytes_counts_accepted() -> None:
    np.testing.assert_array_equal(rle.decode({"size": [3, 4], "counts": b"0<"}), np.ones((3, 4), bool))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"size": [3, 4], "counts": "0;"}, "does not match"),
        ({"size": [3, 4], "counts": [5, 5]}, "does not match"),
        ({"size": [3, 4], "counts": [-1, 13]}, "non-negative"),
        ({"size": [3], "counts": "0<"}, "size"),
        ({"size": [3.0, 4], "counts": "0<"}, "size"),
        ({"size": [3, 4]}, "keys"),
        ({"size": [3, 4], "counts": "0\x7f"}, "invalid character"),
        ({"size": [3, 4], "counts": "0l"}, "middle of a number"),
        ({"size": [3, 4], "counts": 12}, "counts"),
        ({"size": [100000, 4], "counts": "0"}, "within"),
    ],
)
def test_malformed_rle_raises_typed_error(bad: dict[str, object], fragment: str) -> None:
    with pytest.raises(RleError, match=fragment) as info:
        rle.decode(bad)
    assert info.value.code == "invalid_rle"
    assert isinstance(info.value, PixelVLAError) and isinstance(info.value, ValueError)


def test_encode_rejects_bad_arrays() -> None:
    with pytest.raises(RleError, match="shape"):
        rle.encode(np.zeros((2, 2, 2), bool))
    with pytest.raises(RleError, match="dtype"):
        rle.encode(np.zeros((2, 2), np.float32))


def test_overlong_number_rejected() -> None:
    with pytest.raises(RleError, match="too large"):
        rle.string_to_counts("0" + "o" * 8 + "0")
