"""`python -m pixelvla_libero.harness`: the official LIBERO evaluation of a policy served over the
GPU server's policy stream. Runs in LIBERO's environment (var/libero-venv); never imports torch.

    python -m pixelvla_libero.harness --server http://127.0.0.1:8000 --suite libero_spatial \
        --out var/libero-eval/spatial [--tasks 0 1] [--init-states 0-4] [--prompt-type mask]

Every finished episode is appended to OUT/episodes.jsonl (one JSON line, flushed and fsynced), so
a killed run loses at most the episode in progress; a rerun with the same OUT skips the episodes
already there. OUT/run.json pins what must not change between reruns (model, render settings,
gripper convention, prompt type, replanning); OUT/results.{json,md} are rewritten after each task.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import protocol
from .client import PolicyClient
from .errors import LiberoError, TaskError
from .prompts import PROMPT_TYPES, sample_prompts, select
from .report import read_episodes, write_reports

if TYPE_CHECKING:
    from .env import TaskEnv

EPISODES = "episodes.jsonl"
RUN = "run.json"


@dataclass(frozen=True)
class EvalOptions:
    server: str
    suite: str
    out: Path
    tasks: tuple[int, ...] | None = None
    init_states: tuple[int, ...] | None = None
    prompt_type: str = "mask"
    gripper: protocol.GripperConvention = "libero"
    replan_steps: int | None = None  # None: execute the whole chunk before asking again
    render_size: int = 128
    official_render: bool = False
    seed: int = 0
    max_steps: int | None = None  # None: the suite's official limit (a smaller one is for smoke tests)
    api_token: str | None = None
    progress: bool = True


def parse_indices(items: list[str] | None, limit: int, what: str) -> tuple[int, ...] | None:
    """``["0", "3-5", "9"]`` -> (0, 3, 4, 5, 9); each within [0, limit)."""
    if not items:
        return None
    out: list[int] = []
    for item in items:
        for part in str(item).split(","):
            if not part:
                continue
            lo, sep, hi = part.partition("-")
            try:
                a, b = int(lo), int(hi) if sep else int(lo)
            except ValueError:
                raise TaskError(f"{what} must be integers or ranges like 0-4, got {part!r}") from None
            if not (0 <= a <= b < limit):
                raise TaskError(f"{what} {part} is outside 0..{limit - 1}")
            out.extend(range(a, b + 1))
    return tuple(sorted(set(out)))


def _append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _pin_run(out: Path, pinned: dict[str, Any]) -> None:
    path = out / RUN
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        diff = {k: (before.get(k), v) for k, v in pinned.items() if before.get(k) != v}
        if diff:
            raise LiberoError(
                f"{out} holds results of another configuration ({diff}); use another --out", "run_mismatch"
            )
        return
    path.write_text(json.dumps(pinned, indent=1), encoding="utf-8")


def run_episode(
    env: TaskEnv, client: PolicyClient, opts: EvalOptions, init_index: int, replan: int
) -> dict[str, Any]:
    """One episode of the official protocol; the record that goes to episodes.jsonl."""
    t_wall, t_cpu, policy_s0 = time.perf_counter(), time.process_time(), client.seconds
    env.reset(init_index)
    obs = env.settle()
    prompts: list[dict[str, Any]] = []
    masks: list[dict[str, Any]] = []
    mask_area = None
    if opts.prompt_type != "none":
        mask = env.mask()
        mask_area = int(mask.sum())
        if mask_area:
            rng = np.random.default_rng(
                [opts.seed, protocol.SUITES.index(opts.suite), env.task_id, init_index]
            )
            prompts, masks = select(sample_prompts(mask, rng), opts.prompt_type)
    max_steps = opts.max_steps or protocol.MAX_STEPS[opts.suite]
    plan: list[np.ndarray] = []
    calls, steps, success, error = 0, 0, False, None
    try:
        while steps < max_steps:
            if not plan:
                chunk = client.infer(
                    env.image(),
                    env.instruction,
                    state=protocol.state_vector(obs),
                    prompts=prompts,
                    pixel_masks=masks,
                )
                plan = list(chunk[:replan])
                calls += 1
            obs, done = env.step(protocol.env_action(plan.pop(0), opts.gripper))
            steps += 1
            if done:
                success = True
                break
    except TaskError as e:  # a malformed action ends this episode as a failure, like upstream's except
        error = f"{e.code}: {e.message}"
    return {
        "suite": opts.suite,
        "task_id": env.task_id,
        "task": env.instruction,
        "init_state": init_index,
        "success": success,
        "steps": steps,
        "policy_calls": calls,
        "prompt_type": opts.prompt_type if prompts else "none",
        "target": env.target.name,
        "mask_area_px": mask_area,
        "wall_s": round(time.perf_counter() - t_wall, 3),
        "cpu_s": round(time.process_time() - t_cpu, 3),
        "policy_s": round(client.seconds - policy_s0, 3),
        "error": error,
    }


def evaluate(opts: EvalOptions) -> dict[str, Any]:
    from .env import RenderSettings, TaskEnv, suite_tasks

    protocol.check_suite(opts.suite)
    if opts.prompt_type not in PROMPT_TYPES:
        raise TaskError(f"unknown prompt type {opts.prompt_type!r}; expected {', '.join(PROMPT_TYPES)}")
    if opts.gripper not in protocol.GRIPPER_CONVENTIONS:
        raise TaskError(f"unknown gripper convention {opts.gripper!r}")
    if opts.max_steps is not None and opts.max_steps < 1:
        raise TaskError(f"--max-steps must be >= 1, got {opts.max_steps}")
    if not 32 <= opts.render_size <= 1024:
        raise TaskError(f"--render-size must be in 32..1024, got {opts.render_size}")
    render = RenderSettings.official() if opts.official_render else RenderSettings(size=opts.render_size)
    suite = suite_tasks(opts.suite)
    tasks = opts.tasks if opts.tasks is not None else tuple(range(suite.n_tasks))
    inits = opts.init_states if opts.init_states is not None else tuple(range(protocol.INIT_STATES_PER_TASK))
    opts.out.mkdir(parents=True, exist_ok=True)
    with PolicyClient(opts.server, api_token=opts.api_token) as client:
        meta = client.metadata
        replan = opts.replan_steps or client.chunk_size
        if not 1 <= replan <= client.chunk_size:
            raise TaskError(f"--replan-steps must be in 1..{client.chunk_size} (the model's chunk)")
        model = str(meta.get("name") or meta.get("id") or "model")
        pinned = {
            "model_id": meta.get("model_id"),
            "model": model,
            "render": render.to_json(),
            "gripper": opts.gripper,
            "prompt_type": opts.prompt_type,
            "replan_steps": replan,
            "seed": opts.seed,
            "max_steps": opts.max_steps or protocol.MAX_STEPS[opts.suite],
        }
        _pin_run(opts.out, pinned)
        done = {
            (r["suite"], int(r["task_id"]), int(r["init_state"])) for r in read_episodes(opts.out / EPISODES)
        }
        todo = [(t, i) for t in tasks for i in inits if (opts.suite, t, i) not in done]
        print(
            f"libero: {opts.suite}, {len(tasks)} task(s) x {len(inits)} initial state(s); "
            f"{len(tasks) * len(inits) - len(todo)} already in {opts.out / EPISODES}, {len(todo)} to run",
            file=sys.stderr,
            flush=True,
        )
        bar = _progress(len(todo), opts.progress)
        started, ran = time.perf_counter(), 0
        for task_id in tasks:
            mine = [i for (t, i) in todo if t == task_id]
            if not mine:
                continue
            env = TaskEnv(opts.suite, task_id, render)
            try:
                for init_index in mine:
                    rec = run_episode(env, client, opts, init_index, replan)
                    rec["model_id"] = meta.get("model_id")
                    _append(opts.out / EPISODES, rec)
                    ran += 1
                    per = (time.perf_counter() - started) / ran
                    bar.update(1, rec, per * (len(todo) - ran))
            finally:
                env.close()
            write_reports(opts.out, model=model, config=pinned)
        bar.close()
    js, md = write_reports(opts.out, model=model, config=pinned)
    summary: dict[str, Any] = json.loads(js.read_text(encoding="utf-8"))
    summary["files"] = {"json": str(js), "markdown": str(md), "episodes": str(opts.out / EPISODES)}
    return summary


class _progress:
    """tqdm when there is a terminal; otherwise one line per episode with the time left."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.n = total, enabled, 0
        self.bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="episodes", unit="ep", file=sys.stderr)

    def update(self, k: int, rec: dict[str, Any], left_s: float) -> None:
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
            self.bar.set_postfix_str(
                f"task {rec['task_id']} init {rec['init_state']} {'ok' if rec['success'] else 'fail'}"
            )
        elif self.enabled:
            print(
                f"libero: [{self.n}/{self.total}] task {rec['task_id']} init {rec['init_state']}: "
                f"{'success' if rec['success'] else 'failure'} in {rec['steps']} steps, {rec['wall_s']:.1f} s; "
                f"about {left_s / 60:.1f} min left",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixelvla_libero.harness", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--server", required=True, help="the GPU server (http://host:port or ws://.../v1/policy/stream)"
    )
    p.add_argument("--suite", required=True, choices=protocol.SUITES)
    p.add_argument("--out", required=True, help="folder for episodes.jsonl, run.json, results.{json,md}")
    p.add_argument("--tasks", nargs="+", help="task indices or ranges (default: all 10)")
    p.add_argument("--init-states", nargs="+", help="initial-state indices or ranges (default: all 50)")
    p.add_argument("--prompt-type", default="mask", choices=PROMPT_TYPES)
    p.add_argument("--gripper", default="libero", choices=protocol.GRIPPER_CONVENTIONS)
    p.add_argument("--replan-steps", type=int, help="actions executed per policy call (default: the chunk)")
    p.add_argument("--render-size", type=int, default=128, help="agentview size in pixels (default 128)")
    p.add_argument("--official-render", action="store_true", help="LIBERO's 256 px with MSAA and reflections")
    p.add_argument("--seed", type=int, default=0, help="seeds the prompt sampling only")
    p.add_argument(
        "--max-steps", type=int, help="policy steps per episode (default: the suite's official limit)"
    )
    p.add_argument("--api-token", default=os.environ.get("PIXELVLA_API_TOKEN"))
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        opts = EvalOptions(
            server=a.server,
            suite=a.suite,
            out=Path(a.out),
            tasks=parse_indices(a.tasks, 10, "--tasks"),
            init_states=parse_indices(a.init_states, protocol.INIT_STATES_PER_TASK, "--init-states"),
            prompt_type=a.prompt_type,
            gripper=a.gripper,
            replan_steps=a.replan_steps,
            render_size=a.render_size,
            official_render=a.official_render,
            seed=a.seed,
            max_steps=a.max_steps,
            api_token=a.api_token,
            progress=not a.quiet,
        )
        summary = evaluate(opts)
    except LiberoError as e:
        print(f"pixelvla_libero: error [{e.code}]: {e.message}", file=sys.stderr)
        return 2
    print(json.dumps({"overall": summary["overall"], **summary["files"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
