"""Observation dict (from msgpack or JSON) -> pixelvla.policy.Observation, checked against the served
model's ObservationSpec (pixelvla.observation: the one home of the limits).

This module only turns wire forms into arrays; what is allowed is the spec's (`spec.check`, the same
check Policy.make_inputs runs, which then skips an observation this spec already checked).

Accepted keys (openpi-style aliases in brackets):
  image [observation/image]: uint8 (H, W, 3) array (CHW accepted), or JPEG/PNG bytes
  frame_ref: {"dataset": id, "episode": int, "frame": int, "camera": "front"} instead of an image
  instruction [prompt]: str
  prompt_tokens: float32/float16 (N_s, dim); prompt_valid: bool (N_s,)
  prompts: list of prompt JSON (pixelvla.prompts), encoded server-side when tokens are absent
  pixel_masks: list of COCO RLE dicts
  state [observation/state]: float (S,)
  seq: int, echoed back in the reply

Image bytes are checked before they are decoded: only the JPEG and PNG parsers are tried, the
size declared in the header (PIL reads it without decoding) must be within the spec's
max_image_side, and a JPEG may have at most MAX_JPEG_SCANS scans (a progressive JPEG repeats a
16-byte scan that costs a full pass over the image, 10 ms at 2048 x 2048: 1000 of them held the
worker 10 s). Truncated or corrupt data, and anything else PIL raises on client bytes, is
InvalidObservation.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pixelvla.observation import Observation, ObservationError, ObservationSpec

from ..errors import ApiError

DEFAULT_SPEC = ObservationSpec()  # the ceilings: what is accepted when no model's spec is given
# A libjpeg progressive script has 10 scans; an EXIF thumbnail adds its own. Far above real files.
MAX_JPEG_SCANS = 100


class InvalidObservation(ApiError):
    code = "invalid_observation"


FrameLoader = Callable[[Mapping[str, Any]], np.ndarray]


def _first(obs: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in obs and obs[k] is not None:
            return obs[k]
    return None


def decode_image_bytes(data: bytes, spec: ObservationSpec = DEFAULT_SPEC) -> np.ndarray:
    """JPEG/PNG bytes -> uint8 (H, W, 3); every problem with the bytes is InvalidObservation."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as im:
            if im.format not in ("JPEG", "PNG"):
                raise InvalidObservation(f"image must be JPEG or PNG, got {im.format}")
            w, h = im.size  # from the header: nothing is decoded before this check
            try:
                spec.check_image_side(h, w)
            except ObservationError as exc:
                raise InvalidObservation(exc.message) from None
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


def check_image(arr: object, spec: ObservationSpec = DEFAULT_SPEC) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise InvalidObservation(f"image must be an array or JPEG/PNG bytes, got {type(arr).__name__}")
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[2] != 3:
        arr = np.ascontiguousarray(arr.transpose(1, 2, 0))  # openpi clients often send CHW
    return spec.check_image(arr)


def _float_array(value: object, name: str) -> np.ndarray:
    """A list of numbers or a float array of any width -> float32; shapes are the spec's to check."""
    if isinstance(value, list):
        try:
            value = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: ints beyond a double
            raise InvalidObservation(f"{name} must be numbers: {exc}") from exc
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise InvalidObservation(f"{name} must be a float array, got {got}")
    if value.size > 1 << 20:  # far above any spec: never convert a huge array just to refuse it
        raise InvalidObservation(f"{name} has {value.size} values")
    with np.errstate(over="ignore"):  # f64 beyond f32 becomes inf, which the spec refuses
        return value.astype(np.float32)


def to_observation(
    obs: object, load_frame: FrameLoader | None = None, *, spec: ObservationSpec = DEFAULT_SPEC
) -> Observation:
    """Decode the wire forms and check with `spec`. Raises InvalidObservation / PixelVLAError."""
    if not isinstance(obs, Mapping):
        raise InvalidObservation(f"the message must be a map of observation fields, got {type(obs).__name__}")
    raw_image = _first(obs, "image", "observation/image")
    frame_ref = obs.get("frame_ref")
    if raw_image is not None and frame_ref is not None:
        raise InvalidObservation("send either image or frame_ref, not both")
    if isinstance(raw_image, bytes | bytearray):
        image = decode_image_bytes(bytes(raw_image), spec)
    elif raw_image is not None:
        image = check_image(raw_image, spec)
    elif frame_ref is not None:
        if load_frame is None or not isinstance(frame_ref, Mapping):
            raise InvalidObservation("frame_ref must be {dataset, episode, frame, camera}")
        image = check_image(load_frame(frame_ref), spec)
    else:
        raise InvalidObservation("the observation needs an image (array or JPEG/PNG bytes) or a frame_ref")

    instruction = _first(obs, "instruction", "prompt")
    if instruction is None:
        instruction = ""

    tokens = obs.get("prompt_tokens")
    valid = obs.get("prompt_valid")
    if (tokens is None) != (valid is None):
        raise InvalidObservation("prompt_tokens and prompt_valid come together")
    if tokens is not None:
        tokens = _float_array(tokens, "prompt_tokens")
        if isinstance(valid, list):
            try:
                valid = np.asarray(valid)
            except (TypeError, ValueError) as exc:  # ragged nesting
                raise InvalidObservation(
                    f"prompt_valid must be bool ({spec.prompt_tokens[0]},): {exc}"
                ) from exc

    prompts = obs.get("prompts")
    if prompts is not None:
        from pixelvla.prompts import prompts_from_json

        if not isinstance(prompts, list):
            raise InvalidObservation("prompts must be a list of prompt objects")
        spec.check_prompt_count(len(prompts))  # before parsing them
        prompts = prompts_from_json(prompts)  # PromptError (invalid_prompt) on bad input

    masks = obs.get("pixel_masks")
    if masks is not None:
        if not isinstance(masks, list):
            raise InvalidObservation("pixel_masks must be a list of COCO RLE objects")
        if len(masks) > spec.max_pixel_masks:
            spec.check_pixel_masks(masks)  # refuses the count before anything is read
        if not all(isinstance(m, Mapping) for m in masks):
            raise InvalidObservation("each pixel mask must be a COCO RLE object {size, counts}")
        masks = [dict(m) for m in masks]

    state = _first(obs, "state", "observation/state")
    if state is not None:
        state = _float_array(state, "state")

    return spec.check(
        Observation(
            image=image,
            instruction=instruction,
            prompt_tokens=tokens,
            prompt_valid=valid,
            prompts=prompts,
            pixel_masks=masks,
            state=state,
        )
    )
