"""`python -m pixelvla_libero.generate`: scripted-expert demonstrations on LIBERO, one npz per
successful episode (LIBERO's side; ``convert`` turns them into a LeRobot dataset in the project env).

    python -m pixelvla_libero.generate --suite libero_spatial --init-states 0-49 --out DIR [--tasks 0-9]

Per episode ``DIR/<suite>-t<task>-i<init>.npz`` holds ``front`` (T, S, S, 3) uint8 (agentview as the
policy sees it: rotated 180 degrees, the eval's render settings), ``state`` (T, 8), ``action`` (T, 7)
(gripper -1 open / +1 close, the env's own convention) and ``meta`` (a JSON string: suite, task,
instruction, initial state, target, and the Pixel annotation: the target's mask on the first frame
as COCO RLE and the prompts sampled from it). Files are written atomically; a rerun skips episodes
already attempted (``DIR/attempts.jsonl`` records every attempt, failures included, with its time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import expert, protocol, rle
from .env import TaskEnv, suite_tasks
from .errors import LiberoError
from .harness import parse_indices
from .prompts import sample_prompts

ATTEMPTS = "attempts.jsonl"


def episode_name(suite: str, task_id: int, init: int) -> str:
    return f"{suite}-t{task_id:02d}-i{init:02d}"


def annotation(env: TaskEnv, mask: np.ndarray | None, seed: int, init: int) -> dict[str, Any]:
    """The Pixel sidecar record (the shape pixelvla_sim.annotate writes), from the exact mask."""
    area = int(mask.sum()) if mask is not None else 0
    decisions: list[dict[str, Any]] = [
        {"step": "target", "rule": "bddl_goal", "predicate": env.target.predicate},
        {"step": "mask", "camera": "front", "area_px": area},
    ]
    base: dict[str, Any] = {
        "target_object": env.target.name,
        "target_description": env.target.name.rsplit("_", 1)[0].replace("_", " "),
        "camera": "front",
        "frame_index": 0,
        "decisions": decisions,
    }
    touches = bool(
        mask is not None and (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    )
    if mask is None or area < 20 or touches:
        reason = "mask_too_small" if area < 20 else "mask_truncated"
        return {**base, "accepted": False, "reason": reason, "mask_rle": None, "prompts": []}
    rng = np.random.default_rng([seed, protocol.SUITES.index(env.suite_name), env.task_id, init, 7])
    return {
        **base,
        "accepted": True,
        "reason": None,
        "mask_rle": rle.encode(mask),
        "prompts": sample_prompts(mask, rng),
    }


def _attempted(out: Path) -> set[str]:
    path = out / ATTEMPTS
    if not path.exists():
        return set()
    done = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            done.add(json.loads(line)["episode"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return done


def generate(
    suite: str,
    out: Path,
    tasks: tuple[int, ...] | None,
    inits: tuple[int, ...],
    *,
    size: int = 128,
    noise: float = 0.0,
    seed: int = 0,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    from .env import RenderSettings

    out.mkdir(parents=True, exist_ok=True)
    all_tasks = tasks if tasks is not None else tuple(range(suite_tasks(suite).n_tasks))
    seen = _attempted(out)
    results: list[dict[str, Any]] = []
    for task_id in all_tasks:
        todo = [i for i in inits if episode_name(suite, task_id, i) not in seen]
        if not todo:
            continue
        env = TaskEnv(suite, task_id, RenderSettings(size=size))
        try:
            if not expert.supported(env):
                print(
                    f"generate: {suite} task {task_id} ({env.instruction!r}) is not scripted; skipped",
                    file=sys.stderr,
                )
                continue
            for init in todo:
                name = episode_name(suite, task_id, init)
                t0, c0 = time.perf_counter(), time.process_time()
                trace = expert.rollout(env, init, noise=noise, seed=seed, record=not dry_run)
                rec: dict[str, Any] = {
                    "episode": name,
                    "suite": suite,
                    "task_id": task_id,
                    "init_state": init,
                    "task": env.instruction,
                    "success": trace.success,
                    "steps": trace.steps,
                }
                if trace.success and not dry_run:
                    meta = {k: rec[k] for k in ("suite", "task_id", "init_state", "task")}
                    meta["annotation"] = annotation(env, trace.first_mask, seed, init)
                    meta["expert"] = {
                        "noise": noise,
                        "seed": seed,
                        "render": RenderSettings(size=size).to_json(),
                    }
                    tmp = out / f".{name}.tmp.npz"
                    np.savez_compressed(
                        tmp,
                        front=np.stack(trace.images),
                        state=np.stack(trace.states),
                        action=np.stack(trace.actions),
                        meta=np.array(json.dumps(meta)),
                    )
                    os.replace(tmp, out / f"{name}.npz")
                rec["wall_s"] = round(time.perf_counter() - t0, 2)
                rec["cpu_s"] = round(time.process_time() - c0, 2)
                with open(out / ATTEMPTS, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
                results.append(rec)
                print(
                    f"generate: {name}: {'success' if trace.success else 'failure'} in {trace.steps} steps, {rec['wall_s']} s",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            env.close()
    return results


def attempts_table(out: Path) -> str:
    """The expert's success per task (markdown) from ``out/attempts.jsonl``, with its speed."""
    rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    path = out / ATTEMPTS
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows.setdefault((r["suite"], int(r["task_id"])), []).append(r)
    lines = [
        "| suite | task | instruction | success | mean steps (successes) | CPU s / episode | wall s / episode |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (suite, tid), rs in sorted(rows.items()):
        ok = [r for r in rs if r["success"]]
        steps = f"{sum(r['steps'] for r in ok) / len(ok):.0f}" if ok else "—"
        cpu = sum(float(r.get("cpu_s", 0)) for r in rs) / len(rs)
        wall = sum(float(r.get("wall_s", 0)) for r in rs) / len(rs)
        lines.append(
            f"| {suite} | {tid} | {rs[0]['task']} | {len(ok)}/{len(rs)} | {steps} | {cpu:.1f} | {wall:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="pixelvla_libero.generate", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--suite", required=True, choices=protocol.SUITES)
    p.add_argument("--out", required=True)
    p.add_argument("--tasks", nargs="+")
    p.add_argument("--init-states", nargs="+", default=["0-49"])
    p.add_argument("--render-size", type=int, default=128)
    p.add_argument(
        "--noise", type=float, default=0.0, help="std of Gaussian noise on the expert's position actions"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="measure the expert only: no frames, no npz")
    p.add_argument("--report", action="store_true", help="print the success table of --out and exit")
    a = p.parse_args(argv)
    if a.report:
        print(attempts_table(Path(a.out)), end="")
        return 0
    try:
        inits = parse_indices(a.init_states, protocol.INIT_STATES_PER_TASK, "--init-states") or ()
        res = generate(
            a.suite,
            Path(a.out),
            parse_indices(a.tasks, 10, "--tasks"),
            inits,
            size=a.render_size,
            noise=a.noise,
            seed=a.seed,
            dry_run=a.dry_run,
        )
    except LiberoError as e:
        print(f"pixelvla_libero: error [{e.code}]: {e.message}", file=sys.stderr)
        return 2
    print(json.dumps({"attempted": len(res), "succeeded": sum(r["success"] for r in res)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
