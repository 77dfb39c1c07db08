"""Closed-loop evaluation in the simulator: success rate per task and per prompt type, on
unambiguous and ambiguous scenes, on held-out seeds.

The "user" of each episode draws a prompt of one type on the initial front-camera frame, sampled
from the target object's exact mask the same way the annotation pipeline samples training prompts
(points inside, a line across, the outer box, the mask). Text-only ("none") gives no prompt and no
pixel mask. A mask prompt is also the pixel mask, as in the studio, where the drawn mask is both;
with `pixel_mask_from="every"` (the default, as stage 2 trains) a point, line or box comes with the
mask pixelvla.pixel_encoder.derive_pixel_mask draws from it.

Controls (`controls`): "wrong_scene" runs every cell again with the live camera frame replaced, for
the whole episode, by one frame of a different scene (the initial frame of another seed's scene of
the same task); prompts, instruction and state stay the live episode's. A policy that reads the
pixels fails there; one that follows only the prompt's coordinates and the state does not.

`camera_jitter` (metres) moves the front camera per scene (pixelvla_sim.tasks.sample_front_camera).
With the fixed camera (0, the default) a prompt's pixel coordinates alone say where on the table the
object is, so a pick can succeed without reading the frame; with the camera moving, the frame
(table, hand) is what turns them into a place on the table, and a wrong-scene frame is also another
camera's.

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
CONTROLS = ("wrong_scene",)
LIVE = "live"
# The other scene of a wrong-scene episode: this far from the live seed (the same task).
WRONG_SCENE_OFFSET = 500_000
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
    pixel_mask_from: str = "every"  # "every" prompt type gets a pixel mask, or only "mask" prompts
    controls: tuple[str, ...] = ()  # extra runs of every cell: "wrong_scene"
    # Front camera moved per scene by up to this (m per axis, pixelvla_sim.tasks.sample_front_camera);
    # 0: the fixed camera. A wrong-scene frame is then also another camera's.
    camera_jitter: float = 0.0
    live: bool = True  # False: run only the controls


# What a person tunes when launching an eval run from the studio (tasks and prompt types: all).
TUNABLE: dict[str, dict[str, Any]] = {
    "episodes_per_cell": {"description": "episodes per (task, prompt type)", "minimum": 1, "maximum": 1000},
    "max_steps": {"description": "control steps before an episode counts as failed", "minimum": 1},
    "execute_steps": {"description": "actions of each chunk executed before re-planning", "minimum": 1},
    "seed": {"description": "first held-out scene seed", "minimum": HELD_OUT_SEED_BASE},
    "camera_jitter": {
        "description": "front camera moved per scene by up to this many metres per axis (0: fixed)",
        "minimum": 0.0,
        "maximum": 0.1,
    },
}


def config_schema() -> dict[str, Any]:
    from .train.config import flat_schema

    return flat_schema(EvalConfig, TUNABLE)


# What an eval run's launch request may override: the tunable fields plus the task / prompt subsets.
OVERRIDES = (*TUNABLE, "tasks", "prompt_types", "controls")


def config_from_overrides(overrides: Mapping[str, Any]) -> EvalConfig:
    """The EvalConfig of an eval run, checked the way TrainConfig checks a training run's overrides:
    unknown keys, wrong types and values outside TUNABLE's limits are a typed EvaluationError."""
    from .train.config import check_field_types

    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise EvaluationError(f"unknown eval overrides {unknown}; expected some of {list(OVERRIDES)}")
    values = dict(overrides)
    for key in ("tasks", "prompt_types", "controls"):
        if key in values:
            if not isinstance(values[key], list | tuple) or not all(isinstance(v, str) for v in values[key]):
                raise EvaluationError(f"{key} must be a list of names")
            values[key] = tuple(values[key])
    cfg = EvalConfig(**values)
    check_field_types(cfg, EvaluationError)
    check_choices(cfg)
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
    control: str = LIVE  # or one of CONTROLS


def _summary(episodes: list[EpisodeResult]) -> dict[str, Any]:
    def rate(rows: list[EpisodeResult]) -> dict[str, float | int]:
        n = len(rows)
        return {"success": round(sum(r.success for r in rows) / n, 4) if n else 0.0, "n": n}

    by: dict[str, dict[str, list[EpisodeResult]]] = defaultdict(lambda: defaultdict(list))
    for r in episodes:
        by["task"][r.task].append(r)
        by["prompt_type"][r.prompt_type].append(r)
        by["scene"]["ambiguous" if r.ambiguous else "unambiguous"].append(r)
        by["scene_prompt"][f"{'ambiguous' if r.ambiguous else 'unambiguous'}/{r.prompt_type}"].append(r)
        by["cell"][f"{r.task}/{r.prompt_type}"].append(r)
    out: dict[str, Any] = {"overall": rate(episodes)}
    for key, groups in by.items():
        out[key] = {name: rate(rows) for name, rows in sorted(groups.items())}
    return out


@dataclass
class EvalReport:
    config: dict[str, Any]
    episodes: list[EpisodeResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Success rates of the live episodes; each control's under ``controls``."""
        live = [r for r in self.episodes if r.control == LIVE]
        out = _summary(live)
        names = sorted({r.control for r in self.episodes} - {LIVE})
        if names:
            out["controls"] = {c: _summary([r for r in self.episodes if r.control == c]) for c in names}
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "summary": self.summary(),
            "episodes": [asdict(e) for e in self.episodes],
        }

    def markdown(self) -> str:
        s = self.summary()
        types = [t for t in PROMPT_TYPES if t in self.config["prompt_types"]]
        lines: list[str] = []
        if s["overall"]["n"]:  # live episodes (none when only the controls ran)
            lines += ["| task | " + " | ".join(types) + " |", "| --- |" + " --- |" * len(types)]
            for task in s["task"]:
                cells = []
                for t in types:
                    c = s["cell"].get(f"{task}/{t}")
                    cells.append(f"{100 * c['success']:.0f}% ({c['n']})" if c else "-")
                lines.append(f"| {task} | " + " | ".join(cells) + " |")
            row = [f"{100 * s['prompt_type'][t]['success']:.0f}%" for t in types]
            lines.append("| **all** | " + " | ".join(row) + " |")
        for name, c in s.get("controls", {}).items():
            lines += ["", f"Control {name}:", ""]
            lines += ["| task | " + " | ".join(types) + " |", "| --- |" + " --- |" * len(types)]
            for task in c["task"]:
                cells = []
                for t in types:
                    cell = c["cell"].get(f"{task}/{t}")
                    cells.append(f"{100 * cell['success']:.0f}% ({cell['n']})" if cell else "-")
                lines.append(f"| {task} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def check_choices(cfg: EvalConfig) -> None:
    """Prompt types, controls and the pixel-mask rule are names from their lists."""
    for t in cfg.prompt_types:
        if t not in PROMPT_TYPES:
            raise EvaluationError(f"unknown prompt type {t!r}; expected one of {PROMPT_TYPES}")
    for c in cfg.controls:
        if c not in CONTROLS:
            raise EvaluationError(f"unknown control {c!r}; expected some of {CONTROLS}")
    if cfg.pixel_mask_from not in ("every", "mask"):
        raise EvaluationError(f"pixel_mask_from must be 'every' or 'mask', got {cfg.pixel_mask_from!r}")
    j, top = cfg.camera_jitter, TUNABLE["camera_jitter"]["maximum"]
    if isinstance(j, bool) or not isinstance(j, int | float) or not 0.0 <= float(j) <= top:
        raise EvaluationError(f"camera_jitter must be in [0, {top}] m, got {j!r}")


def select_prompts(
    sampled: list[P.Prompt], prompt_type: str, pixel_mask_from: str = "every"
) -> tuple[list[P.Prompt], list[Any]]:
    """From the full sampled set (points, line, box, mask) keep one prompt type; return the prompts
    and the pixel masks that go with them: a mask prompt's RLE; with `pixel_mask_from="every"` the
    mask derive_pixel_mask draws from a point, line or box (a bool array)."""
    from .pixel_encoder import derive_pixel_mask

    if prompt_type == "none":
        return [], []
    kind = {"point": P.Point, "line": P.Line, "box": P.Box, "mask": P.Mask}[prompt_type]
    chosen = [p for p in sampled if isinstance(p, kind)]
    if not chosen:
        raise EvaluationError(f"no {prompt_type} prompt could be sampled")
    masks: list[Any] = [dict(p.rle) for p in chosen if isinstance(p, P.Mask)]
    if not masks and pixel_mask_from == "every":
        derived = derive_pixel_mask(chosen)
        masks = [derived] if derived is not None else []
    return chosen, masks


def wrong_scene_frame(robot: Any, task: str, seed: int) -> np.ndarray:
    """The frame a wrong-scene episode sees instead of the live camera: the initial front frame of
    another scene (seed + WRONG_SCENE_OFFSET) of the same task. Resets the robot."""
    obs = robot.reset(seed + WRONG_SCENE_OFFSET, task)
    frame: np.ndarray = obs["images"]["front"].copy()
    return frame


def run_episode(
    policy: PolicyLike,
    robot: Any,
    task: str,
    prompt_type: str,
    seed: int,
    cfg: EvalConfig,
    control: str = LIVE,
) -> EpisodeResult:
    from pixelvla_sim.annotate import sample_prompts

    from .policy import Observation

    frozen = wrong_scene_frame(robot, task, seed) if control == "wrong_scene" else None
    obs = robot.reset(seed, task)
    spec = robot.task
    mask = robot.object_mask(spec.target)
    rng = np.random.default_rng(seed)
    chosen, pixel_masks = select_prompts(sample_prompts(mask, rng), prompt_type, cfg.pixel_mask_from)
    steps = 0
    while steps < cfg.max_steps and not robot.success():
        pred = policy.predict(
            Observation(
                image=obs["images"]["front"] if frozen is None else frozen,
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
    return EpisodeResult(task, prompt_type, seed, bool(spec.ambiguous), bool(robot.success()), steps, control)


def evaluate(policy: PolicyLike, cfg: EvalConfig, progress: bool = True) -> EvalReport:
    from pixelvla_sim.robot import SimRobot
    from tqdm import tqdm

    check_choices(cfg)
    report = EvalReport(config=asdict(cfg))
    cells = [(task, t) for task in cfg.tasks for t in cfg.prompt_types]
    runs = ((LIVE,) if cfg.live else ()) + tuple(cfg.controls)
    if not runs:
        raise EvaluationError("nothing to run: live=False and no controls")
    total = len(cells) * cfg.episodes_per_cell * len(runs)
    with (
        SimRobot(image_size=cfg.image_size, camera_jitter=cfg.camera_jitter) as robot,
        tqdm(total=total, disable=not progress, desc="eval") as bar,
    ):
        for task_i, task in enumerate(cfg.tasks):
            for k in range(cfg.episodes_per_cell):
                # The same scene for every prompt type: differences between types are the prompt's.
                seed = cfg.seed + task_i * 100_000 + k
                for control in runs:
                    for t in cfg.prompt_types:
                        report.episodes.append(run_episode(policy, robot, task, t, seed, cfg, control))
                        bar.update(1)
    return report


def write_report(report: EvalReport, out_dir: Path, name: str = "eval") -> tuple[Path, Path]:
    from .train import atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / f"{name}.json", out_dir / f"{name}.md"
    atomic.write_text(js, json.dumps(report.to_json(), indent=1))
    atomic.write_text(md, report.markdown())
    return js, md
