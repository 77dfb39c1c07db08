"""msgpack codec for messages carrying numpy arrays, in openpi's array layout, without pickle.

An array travels as the map {"__ndarray__": True, "data": <bin>, "dtype": "<f4", "shape": [...]}
(C order, little-endian). Only plain numeric/bool dtypes are allowed, so decoding never builds
objects from client bytes. openpi's own packer writes these keys as msgpack *bin*; we write
*str* keys (what JavaScript msgpack libraries can read) and accept both when decoding.
``packb(obj, bin_keys=True)`` writes the bin keys instead: openpi-client's ``unpack_array`` looks
only for ``b"__ndarray__"``, so replies to it need them.
NumPy scalars are sent as plain numbers. The TypeScript twin is ``packages/model/src/wire.ts``.

Decoding checks an array's header before numpy sees its bytes: dtype in the allowlist, at most
MAX_NDIM dimensions, each a non-negative int below 2**31, and the exact (Python int) product of the
shape times the item size equal to the byte length. msgpack itself bounds nesting (StackError) and
container lengths (by the message length); unhashable map keys and every extension type, the
built-in timestamp included, are WireErrors, so nothing but plain values and arrays comes back.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgpack
import numpy as np

from pixelvla.errors import WireError

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
# numpy allows 64; no message here has more than 4 (images are H x W x 3).
MAX_NDIM: Final = 32
# One dimension of an array: what int32 indexing (torch, JS typed arrays) can address.
MAX_DIM: Final = 2**31 - 1

# dtype.str of every allowed array type (numpy spells bool/u1/i1 with "|", no byte order).
ALLOWED_DTYPES: Final = frozenset(
    {"|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<i8", "<f2", "<f4", "<f8"}
)
_ALIASES: Final = {"bool": "|b1", "<b1": "|b1", "<u1": "|u1", "<i1": "|i1"}


_STR_KEYS: Final = ("__ndarray__", "data", "dtype", "shape")
_BIN_KEYS: Final = (b"__ndarray__", b"data", b"dtype", b"shape")


def _encode_default(obj: object, keys: tuple[Any, ...] = _STR_KEYS) -> object:
    if isinstance(obj, np.ndarray):
        arr = obj
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if arr.dtype.str not in ALLOWED_DTYPES:
            raise WireError(f"arrays of dtype {obj.dtype} cannot be sent; allowed: {_allowed()}")
        marker, data, dtype, shape = keys
        return {
            marker: True,
            data: np.ascontiguousarray(arr).tobytes(),
            dtype: arr.dtype.str,
            shape: list(arr.shape),
        }
    if isinstance(obj, np.generic):
        value = obj.item()
        if isinstance(value, bool | int | float | str | bytes):
            return value
    raise WireError(f"cannot serialise {type(obj).__name__}")


def _allowed() -> str:
    return ", ".join(sorted(ALLOWED_DTYPES))


def _encode_default_bin(obj: object) -> object:
    return _encode_default(obj, _BIN_KEYS)


def packb(obj: object, *, bin_keys: bool = False) -> bytes:
    """Serialise ``obj`` (dicts, lists, str, bytes, numbers, bools, None, numpy arrays).

    ``bin_keys``: write the array maps' keys as msgpack bin, exactly as openpi's packer does."""
    default = _encode_default_bin if bin_keys else _encode_default
    try:
        out: bytes = msgpack.packb(obj, default=default, use_bin_type=True)
    except WireError:
        raise
    except (TypeError, ValueError, OverflowError) as e:
        raise WireError(f"cannot serialise message: {e}") from e
    return out


def _get(d: Mapping[Any, Any], key: str) -> Any:
    if key in d:
        return d[key]
    return d.get(key.encode())


def _decode_array(d: Mapping[Any, Any]) -> np.ndarray:
    data, dtype_s, shape = _get(d, "data"), _get(d, "dtype"), _get(d, "shape")
    if isinstance(dtype_s, bytes):
        dtype_s = dtype_s.decode("ascii", "replace")
    if not isinstance(dtype_s, str):
        raise WireError("array 'dtype' must be a string")
    dtype_s = _ALIASES.get(dtype_s, dtype_s)
    if dtype_s not in ALLOWED_DTYPES:
        raise WireError(f"array dtype {dtype_s!r} is not allowed; allowed: {_allowed()}")
    if not isinstance(data, bytes):
        raise WireError("array 'data' must be msgpack bin bytes")
    if not isinstance(shape, list | tuple) or not all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_DIM for s in shape
    ):
        raise WireError(
            f"array 'shape' must be a list of non-negative integers <= {MAX_DIM}, got {reprlib.repr(shape)}"
        )
    if len(shape) > MAX_NDIM:
        raise WireError(f"array has {len(shape)} dimensions; at most {MAX_NDIM} are accepted")
    dtype = np.dtype(dtype_s)
    n = 1
    for s in shape:
        n *= s  # exact: Python ints, at most 32 factors below 2**31
    if n * dtype.itemsize != len(data):
        raise WireError(
            f"array data has {len(data)} bytes but shape {list(shape)} of {dtype_s} needs "
            f"{n * dtype.itemsize}"
        )
    # Copy: frombuffer over the message bytes would be read-only (torch warns on those).
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _no_ext(values: Iterable[object]) -> None:
    # msgpack decodes its timestamp extension (type -1) itself, without calling ext_hook.
    for v in values:
        if isinstance(v, msgpack.Timestamp):
            raise WireError("msgpack extension types are not accepted (got a timestamp, ext type -1)")


def _list_hook(items: list[Any]) -> list[Any]:
    _no_ext(items)
    return items


def _object_hook(d: dict[Any, Any]) -> object:
    _no_ext(d)
    _no_ext(d.values())
    marker = _get(d, "__ndarray__")
    if marker is not None:
        if marker is not True:
            raise WireError("'__ndarray__' must be true")
        return _decode_array(d)
    generic = _get(d, "__npgeneric__")  # openpi's numpy-scalar form
    if generic is not None:
        dtype_s = _get(d, "dtype")
        if isinstance(dtype_s, bytes):
            dtype_s = dtype_s.decode("ascii", "replace")
        if not isinstance(dtype_s, str) or _ALIASES.get(dtype_s, dtype_s) not in ALLOWED_DTYPES:
            raise WireError(f"scalar dtype {dtype_s!r} is not allowed")
        value = _get(d, "data")
        if not isinstance(value, bool | int | float):
            raise WireError("numpy scalar 'data' must be a number")
        try:
            with np.errstate(over="raise", invalid="raise"):  # 1e300 as <f2 is an error, not inf
                return np.dtype(_ALIASES.get(dtype_s, dtype_s)).type(value)
        except (OverflowError, ValueError, FloatingPointError) as e:
            raise WireError(f"numpy scalar does not fit {dtype_s}: {e}") from e
    return d


def _reject_ext(code: int, data: bytes) -> object:
    raise WireError(f"msgpack extension types are not accepted (got ext type {code})")


def unpackb(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Parse a message from :func:`packb` (or openpi's packer); arrays come back as numpy arrays."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError(f"message must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise WireError(f"message is {len(data)} bytes; the limit is {max_bytes}")
    try:
        out = msgpack.unpackb(
            data,
            raw=False,
            object_hook=_object_hook,
            list_hook=_list_hook,
            ext_hook=_reject_ext,
            strict_map_key=False,
        )
        _no_ext([out])
        return out
    except WireError:
        raise
    except (ValueError, TypeError, msgpack.StackError) as e:
        # ExtraData, FormatError and UnicodeDecodeError are ValueErrors.
        raise WireError(f"malformed msgpack message: {str(e) or type(e).__name__}") from e
