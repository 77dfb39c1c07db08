"""``python -m pixelvla_sim.bench``: simulation, rendering and generation speed, as JSON.

Wall-clock rates depend on what else the machine runs; the ``*_cpu_*`` figures do not.

- control_steps_per_s: robot.act() calls per second (each = 1/control_hz of physics).
- physics_steps_per_s: raw MuJoCo steps per second inside those calls.
- render_fps_<camera>: RGB frames per second at the default 224 x 224, on this machine's GL
  backend (MUJOCO_GL; OSMesa on CPU).
- episodes_per_minute_<n>_workers: the full `pixelvla-sim gen` pipeline (expert rollout with both
  cameras, annotation, PNG encoding, staging, finalize).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from pixelvla_sim.expert import ScriptedExpert
from pixelvla_sim.generate import GenConfig, default_workers, generate
from pixelvla_sim.robot import SimRobot


def bench_control(steps: int = 300) -> dict[str, float]:
    robot = SimRobot(cameras=())
    try:
        done, t0, c0 = 0, time.perf_counter(), time.process_time()
        seed = 0
        while done < steps:
            robot.reset(seed, "place")
            expert = ScriptedExpert(robot)
            while not expert.done and done < steps:
                robot.act(expert.action())
                done += 1
            seed += 1
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        return {
            "control_steps_per_s": round(done / elapsed, 1),
            "control_steps_per_cpu_s": round(done / cpu, 1),
            "physics_steps_per_s": round(done * robot.substeps / elapsed, 1),
        }
    finally:
        robot.close()


def bench_render(frames: int = 100, image_size: int = 224) -> dict[str, float]:
    robot = SimRobot(image_size=image_size)
    out: dict[str, float] = {}
    try:
        robot.reset(0, "pick")
        for cam in ("front", "wrist"):
            robot.render(cam)  # warm-up
            t0 = time.perf_counter()
            for i in range(frames):
                robot.act(np.array([0.01 * np.sin(i), 0, 0, 0, 0, 0, 0]))
                robot.render(cam)
            t_total = time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in range(frames):
                robot.act(np.array([0.01 * np.sin(i), 0, 0, 0, 0, 0, 0]))
            t_act = time.perf_counter() - t0
            out[f"render_fps_{cam}"] = round(frames / max(1e-9, t_total - t_act), 1)
        t0 = time.perf_counter()
        for _ in range(frames // 2):
            robot.segmentation("front")
        out["segmentation_fps"] = round((frames // 2) / (time.perf_counter() - t0), 1)
    finally:
        robot.close()
    return out


def bench_generate(episodes: int, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        c0 = time.process_time()
        summary = generate(GenConfig(out=Path(tmp) / "ds", episodes=episodes), workers=workers)
        cpu = time.process_time() - c0
        out = {
            f"episodes_per_minute_{workers}_workers": float(summary["episodes_per_minute"] or 0.0),
            f"frames_per_episode_{workers}_workers": round(summary["frames_generated"] / episodes, 1),
            f"annotation_reject_rate_{workers}_workers": round(float(summary["annotation_reject_rate"]), 3),
        }
        if workers == 1:
            # In-process, so CPU time is the whole cost: a load-independent figure for capacity planning.
            out["cpu_seconds_per_episode"] = round(cpu / episodes, 3)
        return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m pixelvla_sim.bench")
    p.add_argument("--episodes", type=int, default=12, help="episodes per generation measurement")
    args = p.parse_args(argv)
    result: dict[str, object] = {
        "gl_backend": os.environ.get("MUJOCO_GL"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    result.update(bench_control())
    result.update(bench_render())
    result.update(bench_generate(args.episodes, 1))
    if default_workers() > 1:
        result.update(bench_generate(args.episodes, default_workers()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
