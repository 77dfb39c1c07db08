"""Open-loop probe: does a policy's action chunk depend on what it sees?

Closed-loop success (pixelvla.evaluation) is the real measure, but it is slow and says nothing about
*why* a policy fails. This probe is the seconds-long check to run first: on the first frames of some
episodes it compares the policy's predicted motion over the first `horizon` steps with the recorded
motion. A policy that ignores the image predicts the same motion everywhere (spread ratio ~0, no
correlation); one that has learned where things are follows the data (ratio ~1, correlation -> 1).

    pixelvla probe --model BUNDLE --dataset DATA [--episodes 30] [--prompt-type point]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import prompts as P
from .data import LocalDataset

AXES = ("x", "y", "z")


@dataclass
class ProbeReport:
    episodes: int
    horizon: int
    prompt_type: str
    # per axis: spread of the predicted motion / spread of the recorded motion
    spread_ratio: dict[str, float]
    correlation: dict[str, float]  # Pearson, predicted vs recorded motion (0 when either is constant)
    l1: dict[str, float]  # mean |predicted - recorded| motion, metres
    l1_predict_zero: dict[str, float]  # the same for a policy that never moves: the bar to beat
    direction_agreement: dict[str, float]  # share of episodes with the recorded sign

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def probe(
    policy: Any,
    dataset: LocalDataset,
    episodes: list[int],
    *,
    horizon: int = 4,
    prompt_type: str = "none",
    camera: str = "front",
) -> ProbeReport:
    from .evaluation import PROMPT_TYPES, select_prompts
    from .policy import Observation

    if prompt_type not in PROMPT_TYPES:
        raise ValueError(f"unknown prompt type {prompt_type!r}")
    pred, true = [], []
    for i in episodes:
        ep = dataset.episode(i)
        frame = next(iter(ep.frames(camera)))
        drawn = (ep.annotation or {}).get("prompts")  # unannotated episodes are probed without prompts
        prompts, masks = select_prompts(P.prompts_from_json(drawn), prompt_type) if drawn else ([], [])
        out = policy.predict(
            Observation(
                image=frame,
                instruction=ep.task,
                prompts=prompts or None,
                pixel_masks=masks or None,
                state=ep.state[0],
            )
        )
        h = min(horizon, len(out.actions), len(ep.actions))
        pred.append(np.asarray(out.actions, np.float64)[:h, :3].sum(0))
        true.append(np.asarray(ep.actions, np.float64)[:h, :3].sum(0))
    p, t = np.array(pred), np.array(true)

    def per_axis(values: np.ndarray) -> dict[str, float]:
        return {a: round(float(v), 4) for a, v in zip(AXES, values, strict=True)}

    def corr(k: int) -> float:
        if p[:, k].std() < 1e-9 or t[:, k].std() < 1e-9:
            return 0.0
        return float(np.corrcoef(p[:, k], t[:, k])[0, 1])

    ratio = np.where(t.std(0) > 1e-9, p.std(0) / np.maximum(t.std(0), 1e-9), 0.0)
    return ProbeReport(
        episodes=len(episodes),
        horizon=horizon,
        prompt_type=prompt_type,
        spread_ratio=per_axis(ratio),
        correlation=per_axis(np.array([corr(k) for k in range(3)])),
        l1=per_axis(np.abs(p - t).mean(0)),
        l1_predict_zero=per_axis(np.abs(t).mean(0)),
        direction_agreement=per_axis((np.sign(p) == np.sign(t)).mean(0)),
    )


# --------------------------------------------------------------------------- vision probe

# Label conventions of pixelvla_sim.vision_data (pixelvla may not import the sim): class 0 is the
# table and sky, 1 the hand, 2-3 the containers, from 4 on one class per colour and kind of object.
BACKGROUND_CLASS = 0
FIRST_OBJECT_CLASS = 4
# A patch counts as showing a class when that class covers at least this share of its pixels
# (a 4 cm cube covers ~25-50 of a tiny patch's 196 pixels).
PATCH_SHARE = 0.08


def patch_coverage(labels: np.ndarray, grid: int, num_classes: int) -> np.ndarray:
    """uint8 (N, S, S) pixel classes -> f32 (N, grid*grid, C): the share of each patch per class."""
    n, s, _ = labels.shape
    p = s // grid
    onehot = np.eye(num_classes, dtype=np.float32)[labels[:, : p * grid, : p * grid]]
    cov = onehot.reshape(n, grid, p, grid, p, num_classes).mean(axis=(2, 4))
    return cov.reshape(n, grid * grid, num_classes)


def patch_classes(coverage: np.ndarray) -> np.ndarray:
    """The class of each patch: the largest non-background class at >= PATCH_SHARE, else background."""
    fg = coverage.copy()
    fg[..., BACKGROUND_CLASS] = 0.0
    best = fg.argmax(-1)
    share = np.take_along_axis(fg, best[..., None], -1)[..., 0]
    return np.where(share >= PATCH_SHARE, best, BACKGROUND_CLASS)


@dataclass
class VisionProbeReport:
    """A linear probe (ridge regression onto one-hot patch classes, fit on `train_frames` frames,
    scored on `test_frames` others) over the features the projector reads. `target_hit` answers "can
    a linear read-out of these features say where a named object is": for every object in a test
    frame, the patch the probe scores highest for that object's class lies on the object."""

    train_frames: int
    test_frames: int
    grid: int
    patch_accuracy_objects: float  # patches showing an object, classified as that object
    patch_accuracy_all: float
    target_hit: float  # share of (frame, object) pairs whose best-scoring patch shows the object
    target_error_px: float  # mean distance, best patch centre to the object's centroid (model pixels)
    objects_scored: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def ridge_probe(
    train_x: np.ndarray, train_y: np.ndarray, weight: np.ndarray | None = None, lam: float = 1e-2
) -> np.ndarray:
    """Closed-form (weighted) ridge weights, with a bias row, from features (M, C) onto one-hot
    targets (M, K); `weight` (M,) weighs each row's squared error."""
    x = np.concatenate([train_x, np.ones((len(train_x), 1), train_x.dtype)], 1).astype(np.float64)
    y = train_y.astype(np.float64)
    if weight is not None:
        root = np.sqrt(weight.astype(np.float64))[:, None]
        x, y = x * root, y * root
    gram = x.T @ x + lam * len(x) * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y)


def vision_probe(
    features: np.ndarray, labels: np.ndarray, grid: int, num_classes: int, train_frames: int
) -> VisionProbeReport:
    """features: f32 (N, grid*grid, C) per-patch features of N frames; labels: their pixel classes
    (N, S, S). The first `train_frames` frames fit the probe, the rest score it."""
    if not 0 < train_frames < len(features):
        raise ValueError(f"train_frames must be in (0, {len(features)}), got {train_frames}")
    cov = patch_coverage(labels, grid, num_classes)
    cls = patch_classes(cov)
    _n, _npatch, c = features.shape
    # Balanced fit: object patches are ~5% of all; weight them up so the probe cannot ignore them.
    tx, ty = features[:train_frames].reshape(-1, c), cls[:train_frames].reshape(-1)
    w = ridge_probe(tx, np.eye(num_classes)[ty], np.where(ty >= FIRST_OBJECT_CLASS, 4.0, 1.0))
    vx = features[train_frames:]
    scores = np.concatenate([vx, np.ones((*vx.shape[:2], 1), vx.dtype)], -1) @ w  # (n_test, P, K)
    vcls = cls[train_frames:]
    pred = scores.argmax(-1)
    obj = vcls >= FIRST_OBJECT_CLASS
    size = labels.shape[1]
    cell = size / grid
    centres = (np.stack(np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij"), -1) + 0.5) * cell
    centres = centres.reshape(-1, 2)  # (P, 2) as (row, col)
    hits, errors = [], []
    for f in range(len(vx)):
        lab = labels[train_frames + f]
        for k in np.unique(vcls[f][vcls[f] >= FIRST_OBJECT_CLASS]):
            best = int(scores[f, :, k].argmax())
            hits.append(bool(vcls[f, best] == k or cov[train_frames + f, best, k] >= PATCH_SHARE / 2))
            rows, cols = np.nonzero(lab == k)
            errors.append(float(np.hypot(centres[best, 0] - rows.mean(), centres[best, 1] - cols.mean())))
    return VisionProbeReport(
        train_frames=train_frames,
        test_frames=len(vx),
        grid=grid,
        patch_accuracy_objects=round(float((pred[obj] == vcls[obj]).mean()) if obj.any() else 0.0, 4),
        patch_accuracy_all=round(float((pred == vcls).mean()), 4),
        target_hit=round(float(np.mean(hits)) if hits else 0.0, 4),
        target_error_px=round(float(np.mean(errors)) if errors else 0.0, 2),
        objects_scored=len(hits),
    )


def tower_features(vision: Any, images: np.ndarray, image_size: int, batch: int = 64) -> np.ndarray:
    """The projector's input (B, N, C) of a VisionBackbone for uint8 (N, S, S, 3) frames."""
    import torch

    from .vision import images_to_pixels

    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            px = images_to_pixels(torch.from_numpy(images[i : i + batch]), image_size)
            out.append(vision(px).patches.float().numpy())
    return np.concatenate(out)
