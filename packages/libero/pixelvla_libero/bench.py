"""`python -m pixelvla_libero.bench`: env steps per second before and after the CPU render settings.

Configurations, on one libero_spatial task after the protocol's reset + initial state:

- ``upstream``: LIBERO's defaults as the official scripts build the env (agentview + wrist camera at
  128 px, MSAA, reflections), both cameras rendered on every step;
- ``physics``: no camera at all (the floor: MuJoCo + the OSC controller);
- ``fast_every_step``: agentview only, MSAA off, reflections off, rendered on every step;
- ``harness``: the harness's loop: ``fast`` settings, one frame per policy call (every 8 steps).

Speeds are steps per CPU second of this process (llvmpipe's render threads included), i.e. what
one core sustains, and per wall second (which on a shared box also measures the neighbours).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from . import protocol
from .env import CAMERA, RenderSettings, TaskEnv


def _measure(step: Any, n: int) -> dict[str, float]:
    step()  # warm (first render allocates buffers)
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(n):
        step(i)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {
        "steps_per_cpu_s": round(n / cpu, 2),
        "steps_per_wall_s": round(n / wall, 2),
        "cpu_ms_per_step": round(1000 * cpu / n, 1),
    }


def bench(suite: str = "libero_spatial", task_id: int = 0, n: int = 40, size: int = 128) -> dict[str, Any]:
    out: dict[str, Any] = {
        "suite": suite,
        "task_id": task_id,
        "steps": n,
        "size": size,
        "lp_num_threads": os.environ.get("LP_NUM_THREADS"),
    }
    noop = list(protocol.DUMMY_ACTION)

    # upstream: the observables render both cameras on every env.step
    from libero.libero import get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    env = TaskEnv(suite, task_id, RenderSettings(size=size, msaa=True, reflections=True))
    bddl = os.path.join(get_libero_path("bddl_files"), env.task.problem_folder, env.task.bddl_file)
    env.close()
    up = OffScreenRenderEnv(bddl_file_name=bddl, camera_heights=size, camera_widths=size)
    up.seed(0)
    up.reset()
    up.set_init_state(env.init_states[0])
    out["upstream"] = _measure(lambda i=0: up.step(noop), n)
    up.close()

    fast = TaskEnv(suite, task_id, RenderSettings(size=size))
    fast.reset(0)
    out["physics"] = _measure(lambda i=0: fast.step(noop), n)

    def every(i: int = 0) -> None:
        fast.step(noop)
        fast.image()

    out["fast_every_step"] = _measure(every, n)

    def harness(i: int = 0) -> None:
        if i % 8 == 0:
            fast.image()
        fast.step(noop)

    out["harness"] = _measure(harness, n)
    fast.raw.sim.render(camera_name=CAMERA, width=size, height=size)
    c0 = time.process_time()
    for _ in range(10):
        fast.image()
    out["fast_render_cpu_ms"] = round(100 * (time.process_time() - c0), 1)
    fast.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="pixelvla_libero.bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--suite", default="libero_spatial", choices=protocol.SUITES)
    p.add_argument("--task", type=int, default=0)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--size", type=int, default=128)
    a = p.parse_args(argv)
    print(json.dumps(bench(a.suite, a.task, a.steps, a.size), indent=1))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
