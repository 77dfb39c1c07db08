"""Dataset generation: expert rollouts -> Pixel annotation -> LeRobot v3 episodes.

Episode slot ``i`` of a run with base seed ``S`` always gets the same task (``tasks[i % len]``)
and the same scene seed, so a resumed or parallel run produces exactly the dataset a single
uninterrupted run would. If the expert fails a scene (rare), the slot moves on to the next
attempt's seed; the attempt is recorded in the episode's provenance.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from pixelvla.data import EpisodeRecord, LeRobotWriter

from pixelvla_sim.annotate import AnnotationConfig, annotate_episode
from pixelvla_sim.errors import SeedError
from pixelvla_sim.expert import ExpertConfig, rollout
from pixelvla_sim.robot import ACTION_NAMES, STATE_NAMES, SimRobot
from pixelvla_sim.tasks import TASKS, check_camera_jitter, check_seed, check_task

MAX_ATTEMPTS = 5
ROBOT_TYPE = "pixelvla_sim_gripper"


@dataclass(frozen=True)
class GenConfig:
    out: Path
    episodes: int
    tasks: tuple[str, ...] = TASKS
    seed: int = 0
    noise: float = 0.003
    speed: float = 1.0  # the expert's fraction of the speed limit (ExpertConfig.speed)
    image_size: int = 224
    cameras: tuple[str, ...] = ("front", "wrist")
    control_hz: float = 10.0
    max_steps: int = 120
    video: bool = False  # cameras as AV1 mp4 (lerobot's default) instead of PNG in parquet
    camera_jitter: float = 0.0  # front camera moved per scene by up to this (m per axis); 0: fixed

    def __post_init__(self) -> None:
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, int) or self.episodes < 0:
            raise ValueError(f"episodes must be a non-negative integer, got {self.episodes!r}")
        if not self.tasks:
            raise ValueError("at least one task is needed")
        ExpertConfig(speed=self.speed)  # the expert's own check of the speed
        for t in self.tasks:
            check_task(t)
        check_seed(self.seed)
        check_camera_jitter(self.camera_jitter)


def slot_seed(base_seed: int, slot: int, attempt: int) -> int:
    """A well-mixed 63-bit scene seed for (run seed, episode slot, attempt)."""
    state = np.random.SeedSequence([base_seed, slot, attempt]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def make_writer(cfg: GenConfig) -> LeRobotWriter:
    return LeRobotWriter(
        cfg.out,
        cameras={c: (cfg.image_size, cfg.image_size) for c in cfg.cameras},
        state_names=STATE_NAMES,
        action_names=ACTION_NAMES,
        fps=round(cfg.control_hz),
        robot_type=ROBOT_TYPE,
        video=cfg.video,
    )


def generate_slot(robot: SimRobot, cfg: GenConfig, slot: int) -> tuple[EpisodeRecord, dict[str, Any]]:
    """Roll out and annotate episode slot ``slot``; returns the record and a summary."""
    task = cfg.tasks[slot % len(cfg.tasks)]
    for attempt in range(MAX_ATTEMPTS):
        seed = slot_seed(cfg.seed, slot, attempt)
        trace = rollout(robot, seed, task, noise=cfg.noise, max_steps=cfg.max_steps, speed=cfg.speed)
        if not trace.success:
            continue
        ann = annotate_episode(robot, trace, AnnotationConfig())
        record = EpisodeRecord(
            frames={c: trace.images[c] for c in cfg.cameras},
            actions=np.stack(trace.actions),
            states=np.stack(trace.states),
            task=trace.instruction,
            annotation=ann.to_json(),
            source={
                "generator": "pixelvla_sim",
                "task_name": task,
                "seed": seed,
                "slot": slot,
                "attempt": attempt,
                "expert_noise": cfg.noise,
                "expert_speed": cfg.speed,
                "expert_target": trace.target,
                "camera_jitter": cfg.camera_jitter,
                "success": True,
                "camera_models": {c: robot.camera(c).to_json() for c in cfg.cameras if c == "front"},
            },
        )
        return record, {
            "slot": slot,
            "task": task,
            "accepted": ann.accepted,
            "reason": ann.reason,
            "length": trace.length,
        }
    raise SeedError(f"the expert failed {MAX_ATTEMPTS} scenes in a row for slot {slot} ({task}); giving up")


# --------------------------------------------------------------------------- process pool

_worker_robot: SimRobot | None = None
_worker_cfg: GenConfig | None = None


def _init_worker(cfg: GenConfig) -> None:
    global _worker_robot, _worker_cfg
    _worker_cfg = cfg
    _worker_robot = SimRobot(
        image_size=cfg.image_size,
        control_hz=cfg.control_hz,
        cameras=cfg.cameras,
        camera_jitter=cfg.camera_jitter,
    )


def _work(slot: int) -> dict[str, Any]:
    assert _worker_robot is not None and _worker_cfg is not None
    record, summary = generate_slot(_worker_robot, _worker_cfg, slot)
    make_writer(_worker_cfg).write_episode(slot, record)
    return summary


def generate(
    cfg: GenConfig, workers: int = 1, progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Generate missing episodes into ``cfg.out`` and finalize; returns a JSON-able summary."""
    writer = make_writer(cfg)
    todo = [i for i in range(cfg.episodes) if not writer.has_episode(i)]
    t0 = time.perf_counter()
    summaries: list[dict[str, Any]] = []
    if todo and workers <= 1:
        _init_worker(cfg)
        try:
            for slot in todo:
                s = _work(slot)
                summaries.append(s)
                if progress:
                    progress(s)
        finally:
            if _worker_robot is not None:
                _worker_robot.close()
    elif todo:
        # spawn, not fork: a parent that has ever rendered holds GL driver threads (llvmpipe),
        # and a forked child of such a process can deadlock inside the driver.
        ctx = get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(cfg,)) as pool:
            futures = [pool.submit(_work, slot) for slot in todo]
            for fut in as_completed(futures):
                s = fut.result()
                summaries.append(s)
                if progress:
                    progress(s)
    elapsed = time.perf_counter() - t0
    total = writer.finalize()
    reasons = Counter(s["reason"] for s in summaries if not s["accepted"])
    generated = len(summaries)
    return {
        "out": str(cfg.out),
        "episodes_total": total,
        "episodes_generated": generated,
        "episodes_skipped_existing": cfg.episodes - len(todo),
        "frames_generated": sum(s["length"] for s in summaries),
        "annotation_rejected": sum(reasons.values()),
        "annotation_reject_rate": (sum(reasons.values()) / generated) if generated else 0.0,
        "reject_reasons": dict(reasons),
        "seconds": round(elapsed, 2),
        "episodes_per_minute": round(60 * generated / elapsed, 2) if generated and elapsed > 0 else None,
        "workers": workers,
    }


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def parse_tasks(values: Sequence[str] | None) -> tuple[str, ...]:
    if not values:
        return TASKS
    out: list[str] = []
    for v in values:
        out.extend(p for p in v.split(",") if p)
    return tuple(check_task(t) for t in out)
