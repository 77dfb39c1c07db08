"""Closed-loop evaluation in the simulator: success rate per task and per prompt type, on
unambiguous and ambiguous scenes, on held-out seeds.

The "user" of each episode draws a prompt of one type on the initial front-camera frame, sampled
from the target object's exact mask the same way the annotation pipeline samples training prompts
(points inside, a line across, the outer box, the mask). Text-only ("none") gives no prompt and no
pixel mask. A mask prompt is also the pixel mask, as in the studio, where the drawn mask is both.

This module drives `pixelvla_sim` (imported lazily): the simulator is a tool of evaluation, while
pixelvla itself stays importable without MuJoCo.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import prompts as P
from .errors import PixelVLAError

PROMPT_TYPES = ("none", "point", "line", "box", "mask")
HELD_OUT_SEED_BASE = 1_000_000  # training data uses seeds below this; evaluation seeds start here


class EvaluationError(PixelVLAError):
    default_code = "invalid_evaluation"


class PolicyLike(Protocol):
    def predict(self, obs: Any) -> Any: ...


@dataclass
class EvalConfig:
    tasks: tuple[str, ...] = ("pick", "place", "pick_ambiguous", "place_ambiguous")
    prompt_types: tuple[str, ...] = PROMPT_TYPES
    episodes_per_cell: int = 10  # per (task, prompt type)
    seed: int = HELD_OUT_SEED_BASE
    max_steps: int = 80  # control steps (8 s at 10 Hz)
    execute_steps: int = 8  # actions of each predicted chunk executed before re-planning
    image_size: int = 224


# What a person tunes when launching an eval run from the studio (tasks and prompt types: all).
TUNABLE: dict[str, dict[str, Any]] = {
    "episodes_per_cell": {"description": "episodes per (task, prompt type)", "minimum": 1, "maximum": 1000},
    "max_steps": {"description": "control steps before an episode counts as failed", "minimum": 1},
    "execute_steps": {"description": "actions of each chunk executed before re-planning", "minimum": 1},
    "seed": {"description": "first held-out scene seed", "minimum": HELD_OUT_SEED_BASE},
}


def config_schema() -> dict[str, Any]:
    from .train.config import flat_schema

    return flat_schema(EvalConfig, TUNABLE)


# What an eval run's launch request may override: the tunable fields plus the task / prompt subsets.
OVERRIDES = (*TUNABLE, "tasks", "prompt_types")


def config_from_overrides(overrides: Mapping[str, Any]) -> EvalConfig:
    """The EvalConfig of an eval run, checked the way TrainConfig checks a training run's overrides:
    unknown keys, wrong types and values outside TUNABLE's limits are a typed EvaluationError."""
    from .train.config import check_field_types

    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise EvaluationError(f"unknown eval overrides {unknown}; expected some of {list(OVERRIDES)}")
    values = dict(overrides)
    for key in ("tasks", "prompt_types"):
        if key in values:
            if not isinstance(values[key], list | tuple) or not all(isinstance(v, str) for v in values[key]):
                raise EvaluationError(f"{key} must be a list of names")
            values[key] = tuple(values[key])
    cfg = EvalConfig(**values)
    check_field_types(cfg, EvaluationError)
    for key, spec in TUNABLE.items():
        v = getattr(cfg, key)
        if v < spec.get("minimum", v) or v > spec.get("maximum", v):
            bounds = f"{spec.get('minimum', '-inf')}..{spec.get('maximum', 'inf')}"
            raise EvaluationError(f"{key} must be in {bounds}, got {v}")
    return cfg


@dataclass
class EpisodeResult:
    task: str
    prompt_type: str
    seed: int
    ambiguous: bool
    success: bool
    steps: int


@dataclass
class EvalReport:
    config: dict[str, Any]
    episodes: list[EpisodeResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def rate(rows: list[EpisodeResult]) -> dict[str, float | int]:
            n = len(rows)
            return {"success": round(sum(r.success for r in rows) / n, 4) if n else 0.0, "n": n}

        by: dict[str, dict[str, list[EpisodeResult]]] = defaultdict(lambda: defaultdict(list))
        for r in self.episodes:
            by["task"][r.task].append(r)
            by["prompt_type"][r.prompt_type].append(r)
            by["scene"]["ambiguous" if r.ambiguous else "unambiguous"].append(r)
            by["scene_prompt"][f"{'ambiguous' if r.ambiguous else 'unambiguous'}/{r.prompt_type}"].append(r)
            by["cell"][f"{r.task}/{r.prompt_type}"].append(r)
        out: dict[str, Any] = {"overall": rate(self.episodes)}
        for key, groups in by.items():
            out[key] = {name: rate(rows) for name, rows in sorted(groups.items())}
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "summary": self.summary(),
            "episodes": [asdict(e) for e in self.episodes],
        }

    def markdown(self) -> str:
        s = self.summary()
        types = [t for t in PROMPT_TYPES if t in s["prompt_type"]]
        lines = ["| task | " + " | ".join(types) + " |", "| --- |" + " --- |" * len(types)]
        for task in s["task"]:
            cells = []
            for t in types:
                c = s["cell"].get(f"{task}/{t}")
                cells.append(f"{100 * c['success']:.0f}% ({c['n']})" if c else "-")
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
        row = [f"{100 * s['prompt_type'][t]['success']:.0f}%" for t in types]
        lines.append("| **all** | " + " | ".join(row) + " |")
        return "\n".join(lines) + "\n"


def select_prompts(
    sampled: list[P.Prompt], prompt_type: str
) -> tuple[list[P.Prompt], list[Mapping[str, Any]]]:
    """From the full sampled set (points, line, box, mask) keep one prompt type; return the prompts
    and the pixel masks (RLE) that go with them."""
    if prompt_type == "none":
        return [], []
    kind = {"point": P.Point, "line": P.Line, "box": P.Box, "mask": P.Mask}[prompt_type]
    chosen = [p for p in sampled if isinstance(p, kind)]
    if not chosen:
        raise EvaluationError(f"no {prompt_type} prompt could be sampled")
    masks: list[Mapping[str, Any]] = [dict(p.rle) for p in chosen if isinstance(p, P.Mask)]
    return chosen, masks


def run_episode(
    policy: PolicyLike, robot: Any, task: str, prompt_type: str, seed: int, cfg: EvalConfig
) -> EpisodeResult:
    from pixelvla_sim.annotate import sample_prompts

    from .policy import Observation

    obs = robot.reset(seed, task)
    spec = robot.task
    mask = robot.object_mask(spec.target)
    rng = np.random.default_rng(seed)
    chosen, pixel_masks = select_prompts(sample_prompts(mask, rng), prompt_type)
    steps = 0
    while steps < cfg.max_steps and not robot.success():
        pred = policy.predict(
            Observation(
                image=obs["images"]["front"],
                instruction=robot.instruction,
                prompts=chosen or None,
                pixel_masks=pixel_masks or None,
                state=obs["state"],
            )
        )
        for action in np.asarray(pred.actions)[: cfg.execute_steps]:
            robot.act(action)
            steps += 1
            if robot.success() or steps >= cfg.max_steps:
                break
        obs = robot.observe()
    return EpisodeResult(task, prompt_type, seed, bool(spec.ambiguous), bool(robot.success()), steps)


def evaluate(policy: PolicyLike, cfg: EvalConfig, progress: bool = True) -> EvalReport:
    from pixelvla_sim.robot import SimRobot
    from tqdm import tqdm

    for t in cfg.prompt_types:
        if t not in PROMPT_TYPES:
            raise EvaluationError(f"unknown prompt type {t!r}; expected one of {PROMPT_TYPES}")
    report = EvalReport(config=asdict(cfg))
    cells = [(task, t) for task in cfg.tasks for t in cfg.prompt_types]
    total = len(cells) * cfg.episodes_per_cell
    with (
        SimRobot(image_size=cfg.image_size) as robot,
        tqdm(total=total, disable=not progress, desc="eval") as bar,
    ):
        for task_i, task in enumerate(cfg.tasks):
            for k in range(cfg.episodes_per_cell):
                # The same scene for every prompt type: differences between types are the prompt's.
                seed = cfg.seed + task_i * 100_000 + k
                for t in cfg.prompt_types:
                    report.episodes.append(run_episode(policy, robot, task, t, seed, cfg))
                    bar.update(1)
    return report


def write_report(report: EvalReport, out_dir: Path, name: str = "eval") -> tuple[Path, Path]:
    from .train import atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / f"{name}.json", out_dir / f"{name}.md"
    atomic.write_text(js, json.dumps(report.to_json(), indent=1))
    atomic.write_text(md, report.markdown())
    return js, md
