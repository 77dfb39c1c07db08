"""Observation dict (from msgpack or JSON) -> pixelvla.policy.Observation, validating every field.

Accepted keys (openpi-style aliases in brackets):
  image [observation/image]: uint8 (H, W, 3) array, or JPEG/PNG bytes
  frame_ref: {"dataset": id, "episode": int, "frame": int, "camera": "front"} instead of an image
  instruction [prompt]: str
  prompt_tokens: float32/float16 (16, 256); prompt_valid: bool (16,)
  prompts: list of prompt JSON (pixelvla.prompts), encoded server-side when tokens are absent
  pixel_masks: list of <= 4 COCO RLE dicts
  state [observation/state]: float (S,), S <= 64
  seq: int, echoed back in the reply

Image bytes are checked before they are decoded: only the JPEG and PNG parsers are tried, the
size declared in the header (PIL reads it without decoding) must be within MAX_SIDE per side,
and a JPEG may have at most MAX_JPEG_SCANS scans (a progressive JPEG repeats a 16-byte scan that
costs a full pass over the image, 10 ms at 2048 x 2048: 1000 of them held the worker 10 s).
Truncated or corrupt data, and anything else PIL raises on client bytes, is InvalidObservation.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import ApiError

MAX_SIDE = 2048
MAX_INSTRUCTION = 1000
MAX_STATE = 64
MAX_MASKS = 4
MAX_PROMPTS = 16
# A libjpeg progressive script has 10 scans; an EXIF thumbnail adds its own. Far above real files.
MAX_JPEG_SCANS = 100
TOKENS_SHAPE = (16, 256)


class InvalidObservation(ApiError):
    code = "invalid_observation"


FrameLoader = Callable[[Mapping[str, Any]], np.ndarray]


def _first(obs: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in obs and obs[k] is not None:
            return obs[k]
    return None


def decode_image_bytes(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes -> uint8 (H, W, 3); every problem with the bytes is InvalidObservation."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as im:
            if im.format not in ("JPEG", "PNG"):
                raise InvalidObservation(f"image must be JPEG or PNG, got {im.format}")
            w, h = im.size  # from the header: nothing is decoded before this check
            if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
                raise InvalidObservation(f"image is {w}x{h}; the limit is {MAX_SIDE} per side")
            # Entropy-coded data never holds FF DA (0xFF is stuffed), so this counts every scan
            # (and any FF DA inside metadata: an overestimate can only refuse, never admit).
            scans = data.count(b"\xff\xda") if im.format == "JPEG" else 0
            if scans > MAX_JPEG_SCANS:
                raise InvalidObservation(f"JPEG has {scans} scans; at most {MAX_JPEG_SCANS} are accepted")
            return np.array(im.convert("RGB"), dtype=np.uint8)  # a writable copy: torch wants one
    except InvalidObservation:
        raise
    except Exception as exc:
        # PIL's errors on bad bytes are undocumented and varied. Seen in tests/test_decoders_fuzz.py:
        # UnidentifiedImageError, OSError (truncated, broken data stream), DecompressionBombError,
        # ValueError ("Truncated IHDR chunk"). None of them is a server fault.
        raise InvalidObservation(
            f"image bytes are not a readable JPEG/PNG: {type(exc).__name__}: {exc}"
        ) from exc


def check_image(arr: object) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise InvalidObservation(f"image must be an array or JPEG/PNG bytes, got {type(arr).__name__}")
    if arr.dtype != np.uint8:
        raise InvalidObservation(f"image array must be uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[2] != 3:
        arr = np.ascontiguousarray(arr.transpose(1, 2, 0))  # openpi clients often send CHW
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1 or max(arr.shape[:2]) > MAX_SIDE:
        raise InvalidObservation(f"image must be (H, W, 3) with sides 1..{MAX_SIDE}, got {list(arr.shape)}")
    return arr


def _float_array(
    value: object, name: str, shape: tuple[int, ...] | None, max_len: int | None = None
) -> np.ndarray:
    if isinstance(value, list):
        try:
            value = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: ints beyond a double
            raise InvalidObservation(f"{name} must be numbers: {exc}") from exc
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise InvalidObservation(f"{name} must be a float array, got {got}")
    if shape is not None and value.shape != shape:
        raise InvalidObservation(f"{name} must have shape {list(shape)}, got {list(value.shape)}")
    if max_len is not None and (value.ndim != 1 or value.shape[0] > max_len):
        raise InvalidObservation(f"{name} must be 1-D with at most {max_len} values, got {list(value.shape)}")
    out = value.astype(np.float32)
    if not np.isfinite(out).all():
        raise InvalidObservation(f"{name} contains NaN or infinity")
    return out


def to_observation(obs: object, load_frame: FrameLoader | None = None) -> Any:
    """Validate and build the model's Observation. Raises InvalidObservation / PixelVLAError."""
    from pixelvla.policy import Observation

    if not isinstance(obs, Mapping):
        raise InvalidObservation(f"the message must be a map of observation fields, got {type(obs).__name__}")
    raw_image = _first(obs, "image", "observation/image")
    frame_ref = obs.get("frame_ref")
    if raw_image is not None and frame_ref is not None:
        raise InvalidObservation("send either image or frame_ref, not both")
    if isinstance(raw_image, bytes | bytearray):
        image = decode_image_bytes(bytes(raw_image))
    elif raw_image is not None:
        image = check_image(raw_image)
    elif frame_ref is not None:
        if load_frame is None or not isinstance(frame_ref, Mapping):
            raise InvalidObservation("frame_ref must be {dataset, episode, frame, camera}")
        image = check_image(load_frame(frame_ref))
    else:
        raise InvalidObservation("the observation needs an image (array or JPEG/PNG bytes) or a frame_ref")

    instruction = _first(obs, "instruction", "prompt")
    if instruction is None:
        instruction = ""
    if not isinstance(instruction, str) or len(instruction) > MAX_INSTRUCTION:
        raise InvalidObservation(f"instruction must be a string of at most {MAX_INSTRUCTION} characters")

    tokens = obs.get("prompt_tokens")
    valid = obs.get("prompt_valid")
    if (tokens is None) != (valid is None):
        raise InvalidObservation("prompt_tokens and prompt_valid come together")
    if tokens is not None:
        tokens = _float_array(tokens, "prompt_tokens", TOKENS_SHAPE)
        if isinstance(valid, list):
            try:
                valid = np.asarray(valid)
            except (TypeError, ValueError) as exc:  # ragged nesting
                raise InvalidObservation(f"prompt_valid must be bool ({TOKENS_SHAPE[0]},): {exc}") from exc
        if not isinstance(valid, np.ndarray) or valid.dtype != np.bool_ or valid.shape != TOKENS_SHAPE[:1]:
            raise InvalidObservation(f"prompt_valid must be bool ({TOKENS_SHAPE[0]},)")

    prompts = obs.get("prompts")
    if prompts is not None:
        from pixelvla.prompts import prompts_from_json

        if not isinstance(prompts, list) or len(prompts) > MAX_PROMPTS:
            raise InvalidObservation(f"prompts must be a list of at most {MAX_PROMPTS} prompt objects")
        prompts = prompts_from_json(prompts)  # PromptError (invalid_prompt) on bad input

    masks = obs.get("pixel_masks")
    if masks is not None:
        from pixelvla import rle

        if not isinstance(masks, list) or len(masks) > MAX_MASKS:
            raise InvalidObservation(f"pixel_masks must be a list of at most {MAX_MASKS} COCO RLE objects")
        for m in masks:
            if not isinstance(m, Mapping):
                raise InvalidObservation("each pixel mask must be a COCO RLE object {size, counts}")
            rle.validate(m)  # RleError (invalid_rle)
        masks = [dict(m) for m in masks]

    state = _first(obs, "state", "observation/state")
    if state is not None:
        state = _float_array(state, "state", None, MAX_STATE)

    return Observation(
        image=image,
        instruction=instruction,
        prompt_tokens=tokens,
        prompt_valid=valid,
        prompts=prompts,
        pixel_masks=masks,
        state=state,
    )
