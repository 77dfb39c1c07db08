"""Prompts and masks drawn in the studio, merged into training data.

The GPU server keeps each episode's studio annotations as numbered versions:
<data-dir>/annotations/<dataset>/episode-<index:06d>/v<NNNN>.json (see pixelvla_server.datasets).
For training, the latest version of an episode wins over the dataset's own (auto-generated) Pixel
annotation: its prompts become the episode's prompts, its first mask on the training camera becomes
the mask prompt and pixel mask, and its instruction (when given) replaces the task text. An episode
the auto-annotator rejected becomes usable for stage 2 once a person has annotated it.

Stored annotations are checked as strictly as live input, with the same parser and validator (the
prompt JSON parser, the RLE validator, the mask size against the episode's frames): a file that
parses as JSON but does not pass is an AnnotationError naming it, which stops the run with that
reason instead of crashing later in native code on a crafted mask. A version that is not JSON at all
(a half-copied file) is still skipped for the previous one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import prompts as P
from .. import rle as rle_codec
from ..errors import PixelVLAError, RleError

_EPISODE = re.compile(r"^episode-(\d{6})$")
_VERSION = re.compile(r"^v(\d{4,})\.json$")


class AnnotationError(PixelVLAError):
    """A stored annotation (studio version or the dataset's own) is not valid training input."""

    default_code = "invalid_annotation"


@dataclass(frozen=True)
class StudioAnnotation:
    episode: int
    version: int
    prompts: list[P.Prompt]  # drawn prompts plus the masks on the training camera, as Mask prompts
    mask_rle: dict[str, Any] | None  # the first mask on the training camera (the pixel mask)
    instruction: str | None
    source: str = ""  # the version's file, for error messages


def check_mask_size(rle: Mapping[str, Any], size: Sequence[int] | None, what: str) -> None:
    """RleError unless `rle` is a valid RLE whose size is `size` (H, W) (any size when None).
    The server's annotation route and training both use this, so they accept the same masks."""
    h, w = rle_codec.validate(rle)
    if size is not None and (h, w) != (int(size[0]), int(size[1])):
        raise RleError(f"{what} size [{h}, {w}] does not match the frame size [{size[0]}, {size[1]}]")


def check_fits(
    prompts: Sequence[P.Prompt], mask_rle: Mapping[str, Any] | None, size: Sequence[int], source: str
) -> None:
    """AnnotationError unless every mask (mask prompts and the pixel mask) has the frames' size."""
    try:
        for p in prompts:
            if isinstance(p, P.Mask):
                check_mask_size(p.rle, size, "mask prompt")
        if mask_rle is not None:
            check_mask_size(mask_rle, size, "pixel mask")
    except PixelVLAError as exc:
        raise _invalid(source, exc) from exc


def sidecar_prompts(ann: Mapping[str, Any], episode: int) -> tuple[list[P.Prompt], dict[str, Any]]:
    """The dataset's own accepted annotation (its prompts and pixel mask), validated."""
    source = f"the dataset's annotation of episode {episode}"
    try:
        prompts = P.prompts_from_json(ann.get("prompts") or [])
        mask = ann.get("mask_rle")
        if not isinstance(mask, Mapping):
            raise RleError(f"mask_rle must be an RLE object, got {type(mask).__name__}")
        rle_codec.validate(mask)
    except PixelVLAError as exc:
        raise _invalid(source, exc) from exc
    return prompts, dict(mask)


def _invalid(source: str, exc: PixelVLAError) -> AnnotationError:
    return AnnotationError(
        f"{source} is invalid: [{exc.code}] {exc.message}. Delete or fix it (the studio saves a new "
        "version that replaces it), then start the run again"
    )


def load_studio_annotations(folder: Path | str | None, camera: str) -> dict[int, StudioAnnotation]:
    """Latest usable version per episode. A version that is not JSON (a half-copied folder), has no
    prompt or was drawn on another camera is skipped for the one before it; one that is JSON but
    invalid raises AnnotationError."""
    out: dict[int, StudioAnnotation] = {}
    if folder is None or not Path(folder).is_dir():
        return out
    for ep_dir in sorted(Path(folder).iterdir()):
        m = _EPISODE.match(ep_dir.name)
        if not m or not ep_dir.is_dir():
            continue
        versions = sorted(
            (int(v.group(1)), p) for p in ep_dir.iterdir() if (v := _VERSION.match(p.name)) is not None
        )
        for version, path in reversed(versions):
            try:
                record = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError):
                continue  # torn or unreadable: the version before it stands
            ann = _parse(int(m.group(1)), version, path, record, camera)
            if ann is not None:
                out[ann.episode] = ann
                break
    return out


def _parse(episode: int, version: int, path: Path, record: Any, camera: str) -> StudioAnnotation | None:
    source = f"studio annotation {path}"
    try:
        if not isinstance(record, dict):
            raise AnnotationError(f"must be a JSON object, got {type(record).__name__}")
        drawn_on = record.get("camera", camera)
        if not isinstance(drawn_on, str):
            raise AnnotationError(f"camera must be a string, got {type(drawn_on).__name__}")
        if drawn_on != camera:
            return None  # drawn on another camera: the policy is trained on `camera` only
        prompts = P.prompts_from_json(record.get("prompts") or [])
        items = record.get("masks") or []
        if not isinstance(items, list):
            raise AnnotationError("masks must be a list")
        masks: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("rle"), dict):
                raise AnnotationError(f"mask {i} must be an object with an rle")
            if not isinstance(item.get("camera", camera), str):
                raise AnnotationError(f"mask {i} camera must be a string")
            if item.get("camera", camera) != camera:
                continue
            if rle_codec.area(item["rle"]) > 0:  # validates; an empty mask marks nothing
                masks.append(dict(item["rle"]))
        prompts += [P.Mask(rle) for rle in masks]
    except PixelVLAError as exc:
        raise _invalid(source, exc) from exc
    if not prompts:
        return None
    instruction = record.get("instruction")
    return StudioAnnotation(
        episode=episode,
        version=version,
        prompts=prompts,
        mask_rle=masks[0] if masks else None,
        instruction=instruction if isinstance(instruction, str) and instruction.strip() else None,
        source=source,
    )
