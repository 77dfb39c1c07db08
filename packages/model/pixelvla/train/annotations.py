"""Prompts and masks drawn in the studio, merged into training data.

The GPU server keeps each episode's studio annotations as numbered versions:
<data-dir>/annotations/<dataset>/episode-<index:06d>/v<NNNN>.json (see pixelvla_server.datasets).
For training, the latest version of an episode wins over the dataset's own (auto-generated) Pixel
annotation: its prompts become the episode's prompts, its first mask on the training camera becomes
the mask prompt and pixel mask, and its instruction (when given) replaces the task text. An episode
the auto-annotator rejected becomes usable for stage 2 once a person has annotated it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import prompts as P
from ..errors import PromptError

_EPISODE = re.compile(r"^episode-(\d{6})$")
_VERSION = re.compile(r"^v(\d{4,})\.json$")


@dataclass(frozen=True)
class StudioAnnotation:
    episode: int
    version: int
    prompts: list[P.Prompt]  # drawn prompts plus the masks on the training camera, as Mask prompts
    mask_rle: dict[str, Any] | None  # the first mask on the training camera (the pixel mask)
    instruction: str | None


def load_studio_annotations(folder: Path | str | None, camera: str) -> dict[int, StudioAnnotation]:
    """Latest readable version per episode; versions that fail to parse are skipped, not fatal
    (a half-copied folder must not stop a training run), and so are annotations with no prompt."""
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
            ann = _parse(int(m.group(1)), version, path, camera)
            if ann is not None:
                out[ann.episode] = ann
                break
    return out


def _parse(episode: int, version: int, path: Path, camera: str) -> StudioAnnotation | None:
    try:
        record = json.loads(path.read_text())
        if record.get("camera", camera) != camera:
            return None  # drawn on another camera: the policy is trained on `camera` only
        prompts = P.prompts_from_json(record.get("prompts") or [])
        masks = [dict(m["rle"]) for m in record.get("masks") or [] if m.get("camera", camera) == camera]
        prompts += [P.Mask(rle) for rle in masks]
    except (OSError, ValueError, KeyError, TypeError, PromptError):
        return None
    if not prompts:
        return None
    instruction = record.get("instruction")
    return StudioAnnotation(
        episode=episode,
        version=version,
        prompts=prompts,
        mask_rle=masks[0] if masks else None,
        instruction=instruction if isinstance(instruction, str) and instruction.strip() else None,
    )
