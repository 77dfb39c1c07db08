"""The policy stream's msgpack layout, written again here with msgpack + numpy only.

LIBERO's environment has no pixelvla (and must not: it would drag torch into mujoco 2.3.7's
numpy 1.26 world), so this is the few lines of ``pixelvla.wire`` the harness needs: an array is the
map ``{"__ndarray__": True, "data": <bin>, "dtype": "<f4", "shape": [...]}`` (C order,
little-endian, str keys); only plain numeric/bool dtypes travel, so decoding never builds objects
from the server's bytes. ``tests/test_wire.py`` checks both directions against ``pixelvla.wire``.
"""

from __future__ import annotations

from typing import Any, Final

import msgpack
import numpy as np

from .errors import WireError

ALLOWED_DTYPES: Final = frozenset(
    {"|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<i8", "<f2", "<f4", "<f8"}
)


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
        raise WireError("array needs bin 'data' and a list 'shape'")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise WireError(f"array 'shape' must be non-negative integers, got {shape!r}")
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if n * dt.itemsize != len(data):
        raise WireError(
            f"array data has {len(data)} bytes, shape {list(shape)} of {dtype} needs {n * dt.itemsize}"
        )
    return np.frombuffer(data, dtype=dt).reshape(shape).copy()


def _no_ext(code: int, data: bytes) -> object:
    raise WireError(f"msgpack extension types are not accepted (got {code})")


def unpackb(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, object_hook=_hook, ext_hook=_no_ext, strict_map_key=False)
    except WireError:
        raise
    except (ValueError, TypeError, msgpack.StackError) as e:
        raise WireError(f"malformed msgpack message: {e}") from e
