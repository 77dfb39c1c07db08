"""Automatic Pixel annotation of expert episodes: the Pixel-160K pipeline with exact renders.

The paper's pipeline (docs/MODEL.md section 3) finds the first gripper-close frame, works out which
object the gripper takes there, segments that object on the *initial* frame and samples visual
prompts from the mask. In simulation each detector is replaced by ground truth:

1. ``first_close``: the first step whose gripper command is >= 0.5.
2. ``nearest_object``: the object whose centre is nearest the point between the fingertips at
   that step (the tool centre point). Rejected when nothing is within ``max_grasp_distance`` or when the runner-up is
   within ``min_margin`` of the winner (the target would be unclear).
3. ``mask``: that object's segmentation on the initial frame of the annotated camera. Rejected
   when it covers fewer than ``min_area`` pixels, when less than ``min_visible`` of its
   unoccluded silhouette is visible, or when it touches the image border (cut off).
4. ``prompts``: 1-3 positive points inside the mask (eroded when the mask allows), a line across
   the object through a random inner pixel at a random angle, the outer box, and the mask itself.

Every step appends a record to ``decisions`` so a reviewer can see why an episode was kept or
rejected. Rejected episodes still carry their decisions; they have no mask and no prompts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pixelvla import rle as rle_codec
from pixelvla.prompts import Box, Line, Mask, Point, Prompt, prompts_to_json

from pixelvla_sim.expert import EpisodeTrace
from pixelvla_sim.robot import SimRobot


@dataclass(frozen=True)
class AnnotationConfig:
    camera: str = "front"
    max_grasp_distance: float = 0.03  # metres from the tool centre point to the object centre
    min_margin: float = 0.015  # runner-up must be this much farther away
    min_area: int = 30  # pixels
    min_visible: float = 0.6  # visible / unoccluded silhouette area


@dataclass
class Annotation:
    accepted: bool
    reason: str | None  # why rejected (None when accepted)
    target_object: str | None  # MJCF name, e.g. "obj3"
    target_description: str | None  # e.g. "red cube"
    camera: str
    frame_index: int  # the frame the mask belongs to (always the initial frame, 0)
    mask_rle: dict[str, Any] | None
    prompts: list[dict[str, Any]]
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "target_object": self.target_object,
            "target_description": self.target_description,
            "camera": self.camera,
            "frame_index": self.frame_index,
            "mask_rle": self.mask_rle,
            "prompts": self.prompts,
            "decisions": self.decisions,
        }


def annotate_episode(
    robot: SimRobot,
    trace: EpisodeTrace,
    config: AnnotationConfig | None = None,
    seed: int | None = None,
) -> Annotation:
    """Annotate ``trace``; ``robot`` must still hold the scene the trace was recorded in."""
    cfg = config or AnnotationConfig()
    rng = np.random.default_rng([trace.seed if seed is None else seed, 7])
    decisions: list[dict[str, Any]] = []

    def reject(reason: str, target: str | None = None) -> Annotation:
        desc = robot.scene.object(target).description if target else None
        return Annotation(False, reason, target, desc, cfg.camera, 0, None, [], decisions)

    # 1. first gripper-close frame
    close_idx = next((t for t, a in enumerate(trace.actions) if float(a[6]) >= 0.5), None)
    decisions.append({"step": "first_close", "frame": close_idx})
    if close_idx is None:
        return reject("gripper_never_closed")

    # 2. the object nearest the gripper then
    grasp = trace.grasp_points[close_idx]
    dists = sorted(
        (float(np.linalg.norm(pos - grasp)), name) for name, pos in trace.object_positions[close_idx].items()
    )
    best_d, best = dists[0]
    runner_d = dists[1][0] if len(dists) > 1 else math.inf
    decisions.append(
        {
            "step": "nearest_object",
            "object": best,
            "distance_m": round(best_d, 5),
            "runner_up": dists[1][1] if len(dists) > 1 else None,
            "runner_up_distance_m": round(runner_d, 5) if math.isfinite(runner_d) else None,
        }
    )
    if best_d > cfg.max_grasp_distance:
        return reject("no_object_at_gripper")
    if runner_d - best_d < cfg.min_margin:
        return reject("target_unclear")

    # 3. its mask on the initial frame
    visible = robot.object_mask(best, cfg.camera, trace.initial)
    alone = robot.object_mask_alone(best, cfg.camera, trace.initial)
    area = int(visible.sum())
    alone_area = int(alone.sum())
    visible_fraction = area / alone_area if alone_area else 0.0
    touches_border = bool(
        visible[0].any() or visible[-1].any() or visible[:, 0].any() or visible[:, -1].any()
    )
    decisions.append(
        {
            "step": "mask",
            "camera": cfg.camera,
            "area_px": area,
            "unoccluded_area_px": alone_area,
            "visible_fraction": round(visible_fraction, 4),
            "touches_border": touches_border,
        }
    )
    if area < cfg.min_area:
        return reject("mask_too_small", best)
    if visible_fraction < cfg.min_visible:
        return reject("mask_occluded", best)
    if touches_border:
        return reject("mask_truncated", best)

    # 4. prompts sampled from the mask
    prompts = sample_prompts(visible, rng)
    decisions.append({"step": "prompts", "types": [type(p).__name__.lower() for p in prompts]})
    return Annotation(
        True,
        None,
        best,
        robot.scene.object(best).description,
        cfg.camera,
        0,
        dict(rle_codec.encode(visible)),
        prompts_to_json(prompts),
        decisions,
    )


# --------------------------------------------------------------------------- prompt sampling


def _erode(mask: np.ndarray) -> np.ndarray:
    """4-neighbour binary erosion by one pixel (pixels outside the image count as background)."""
    m = np.pad(mask, 1)
    return m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]


def _norm(col: float, row: float, w: int, h: int) -> tuple[float, float]:
    """Pixel centre -> normalised image coordinate."""
    return (min(1.0, max(0.0, (col + 0.5) / w)), min(1.0, max(0.0, (row + 0.5) / h)))


def sample_prompts(mask: np.ndarray, rng: np.random.Generator) -> list[Prompt]:
    """Points (1-3), a line across the object, the outer box, and the mask, in that order."""
    h, w = mask.shape
    inner = _erode(mask)
    pool = inner if inner.sum() >= 3 else mask
    rows, cols = np.nonzero(pool)
    picks = rng.choice(len(rows), size=int(rng.integers(1, 4)), replace=len(rows) < 3)
    prompts: list[Prompt] = [Point(*_norm(float(cols[i]), float(rows[i]), w, h)) for i in picks]

    # Line: through a random inner pixel at a random angle, clipped to the object's pixels on it.
    mr, mc = np.nonzero(mask)
    k = int(rng.integers(0, len(rows)))
    r0, c0 = float(rows[k]), float(cols[k])
    theta = float(rng.uniform(0.0, math.pi))
    d = np.array([math.cos(theta), math.sin(theta)])  # (col, row) direction
    rel = np.stack([mc - c0, mr - r0], axis=1)
    along = rel @ d
    across = np.abs(rel @ np.array([-d[1], d[0]]))
    on_line = np.nonzero(across <= 0.75)[0]
    # Endpoints are the object's own pixels farthest apart along the line, so both lie on it.
    lo, hi = on_line[np.argmin(along[on_line])], on_line[np.argmax(along[on_line])]
    a = _norm(float(mc[lo]), float(mr[lo]), w, h)
    b = _norm(float(mc[hi]), float(mr[hi]), w, h)
    if lo == hi:  # a one-pixel sliver: span the pixel itself
        a, b = (
            _norm(float(mc[lo]) - 0.5, float(mr[lo]), w, h),
            _norm(float(mc[lo]) + 0.5, float(mr[lo]), w, h),
        )
    prompts.append(Line((a, b)))

    prompts.append(Box(mc.min() / w, mr.min() / h, (mc.max() + 1) / w, (mr.max() + 1) / h))
    prompts.append(Mask(dict(rle_codec.encode(mask))))
    return prompts
