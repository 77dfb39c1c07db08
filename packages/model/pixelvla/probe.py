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
