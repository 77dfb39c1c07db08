"""The server's msgpack layout with msgpack + numpy only (a robot's environment has no pixelvla).

An array is the map ``{"__ndarray__": True, "data": <bin>, "dtype": "<f4", "shape": [...]}`` (C order,
little-endian, str keys; bin keys are read too). Only plain numeric/bool dtypes travel and a header is
checked against its byte count before numpy sees the bytes, so decoding never builds objects from
the server's bytes. ``tests/test_adapters.py`` checks both directions against ``pixelvla.wire``. The LIBERO
harness (packages/libero) uses this module too.
"""

from __future__ import annotations

from typing import Any, Final

import msgpack
import numpy as np

from .errors import WireError

ALLOWED_DTYPES: Final = frozenset(
    {"|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<i8", "<f2", "<f4", "<f8"}
)
MAX_BYTES: Final = 8 * 1024 * 1024  # the largest message a robot accepts (the server's are small)


def _default(obj: object) -> object:
    if isinstance(obj, np.ndarray):
        arr = obj.astype(obj.dtype.newbyteorder("<")) if obj.dtype.byteorder == ">" else obj
        if arr.dtype.str not in ALLOWED_DTYPES:
            raise WireError(f"arrays of dtype {obj.dtype} cannot be sent")
        return {
            "__ndarray__": True,
            "data": np.ascontiguousarray(arr).tobytes(),
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    raise WireError(f"cannot serialise {type(obj).__name__}")


def packb(obj: object) -> bytes:
    try:
        out: bytes = msgpack.packb(obj, default=_default, use_bin_type=True)
    except WireError:
        raise
    except (TypeError, ValueError, OverflowError) as e:
        raise WireError(f"cannot serialise message: {e}") from e
    return out


def _get(d: dict[Any, Any], key: str) -> Any:
    return d[key] if key in d else d.get(key.encode())


def _hook(d: dict[Any, Any]) -> object:
    if _get(d, "__ndarray__") is None:
        return d
    data, dtype, shape = _get(d, "data"), _get(d, "dtype"), _get(d, "shape")
    if isinstance(dtype, bytes):
        dtype = dtype.decode("ascii", "replace")
    if dtype not in ALLOWED_DTYPES:
        raise WireError(f"array dtype {dtype!r} is not allowed")
    if not isinstance(data, bytes) or not isinstance(shape, list | tuple):
        raise WireError("an array needs bin 'data' and a list 'shape'")
    if len(shape) > 32 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise WireError(f"array 'shape' must be at most 32 non-negative integers, got {shape!r}")
    n = 1
    for s in shape:
        n *= s  # Python ints: exact, no int64 wrap
    if n * np.dtype(dtype).itemsize != len(data):
        raise WireError(
            f"array data has {len(data)} bytes, shape {list(shape)} of {dtype} needs more or less"
        )
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()


def _no_ext(code: int, data: bytes) -> object:
    raise WireError(f"msgpack extension types are not accepted (got {code})")


def unpackb(data: bytes) -> Any:
    if len(data) > MAX_BYTES:
        raise WireError(f"message of {len(data)} bytes exceeds {MAX_BYTES}")
    try:
        return msgpack.unpackb(data, raw=False, object_hook=_hook, ext_hook=_no_ext, strict_map_key=False)
    except WireError:
        raise
    except (ValueError, TypeError, msgpack.StackError) as e:
        raise WireError(f"malformed msgpack message: {e}") from e
