"""Per-task and per-suite success from the harness's episodes.jsonl, as JSON and markdown.

The markdown's first table has the paper's LIBERO layout (methods as rows, the four suites and
their average as columns). The paper rows are quoted for reference; the measured rows hold only
what this run measured (a suite it did not run, or ran partly, says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .protocol import INIT_STATES_PER_TASK, SUITES

SUITE_LABELS = {
    "libero_spatial": "Spatial",
    "libero_object": "Object",
    "libero_goal": "Goal",
    "libero_10": "Long",
}
# docs/MODEL.md section 4 (PixelVLA paper) and OpenVLA's paper (Kim et al. 2024, fine-tuned, 500
# episodes per suite); the PixelVLA paper quotes OpenVLA's 76.5 average.
PAPER = {
    "OpenVLA (paper)": {
        "libero_spatial": 84.7,
        "libero_object": 88.4,
        "libero_goal": 79.2,
        "libero_10": 53.7,
        "average": 76.5,
    },
    "PixelVLA (paper)": {
        "libero_spatial": 88.5,
        "libero_object": 90.0,
        "libero_goal": 85.8,
        "libero_10": 82.6,
        "average": 86.7,
    },
}
TASKS_PER_SUITE = 10


def read_episodes(path: Path) -> list[dict[str, Any]]:
    """The JSONL's records; a torn last line (a killed run) is ignored, not fatal."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "suite" in rec and "task_id" in rec and "init_state" in rec:
            out.append(rec)
    return out


def _rate(recs: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(recs)
    k = sum(1 for r in recs if r.get("success"))
    return {"n": n, "successes": k, "success": (k / n) if n else None}


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    recs = [dict(r) for r in records]
    suites: dict[str, Any] = {}
    for suite in sorted({r["suite"] for r in recs}, key=lambda s: SUITES.index(s) if s in SUITES else 99):
        srecs = [r for r in recs if r["suite"] == suite]
        tasks = {}
        for tid in sorted({int(r["task_id"]) for r in srecs}):
            trecs = [r for r in srecs if int(r["task_id"]) == tid]
            steps = [int(r.get("steps", 0)) for r in trecs]
            tasks[str(tid)] = {
                "task": trecs[0].get("task"),
                "target": trecs[0].get("target"),
                **_rate(trecs),
                "init_states": sorted(int(r["init_state"]) for r in trecs),
                "mean_steps": (sum(steps) / len(steps)) if steps else None,
                "mean_wall_s": sum(float(r.get("wall_s", 0.0)) for r in trecs) / len(trecs),
            }
        full = len(tasks) == TASKS_PER_SUITE and all(t["n"] == INIT_STATES_PER_TASK for t in tasks.values())
        suites[suite] = {**_rate(srecs), "tasks": tasks, "complete": full}
    return {"suites": suites, "overall": _rate(recs)}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def markdown(summary: Mapping[str, Any], *, model: str, config: Mapping[str, Any] | None = None) -> str:
    suites = summary["suites"]
    cols = [*SUITES, "average"]
    head = "| method | " + " | ".join(SUITE_LABELS.get(c, "Average") for c in cols) + " |"
    lines = ["## LIBERO success rate (%)", "", head, "|" + " --- |" * (len(cols) + 1)]
    for name, row in PAPER.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    lines.append("| OpenVLA (measured) | " + " | ".join("—" for _ in cols) + " |")
    cells = []
    for s in SUITES:
        if s not in suites:
            cells.append("—")
            continue
        v = suites[s]
        cells.append(_pct(v["success"]) + ("" if v["complete"] else f" ({v['n']} ep.)"))
    all_full = all(s in suites and suites[s]["complete"] for s in SUITES)
    avg = sum(suites[s]["success"] for s in SUITES) / len(SUITES) if all_full else None
    cells.append(_pct(avg))
    lines.append(f"| PixelVLA `{model}` (measured) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "A measured cell marked (N ep.) covers a subset of the suite's 10 tasks x 50 initial states; the",
        "average is given only when all four suites are complete.",
    ]
    if config:
        lines += ["", "Run: " + ", ".join(f"{k}={v}" for k, v in config.items())]
    for s, v in suites.items():
        lines += ["", f"### {s}: {_pct(v['success'])}% ({v['successes']}/{v['n']})", ""]
        lines += [
            "| task | instruction | target | success | episodes | mean steps | s/episode |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for tid, t in v["tasks"].items():
            lines.append(
                f"| {tid} | {t['task']} | {t['target']} | {_pct(t['success'])}% | {t['n']} | "
                f"{t['mean_steps']:.0f} | {t['mean_wall_s']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def write_reports(
    out: Path, *, model: str, config: Mapping[str, Any] | None = None, name: str = "results"
) -> tuple[Path, Path]:
    summary = summarize(read_episodes(out / "episodes.jsonl"))
    summary["model"] = model
    if config:
        summary["config"] = dict(config)
    js, md = out / f"{name}.json", out / f"{name}.md"
    tmp = js.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    tmp.replace(js)
    tmp = md.with_suffix(".md.tmp")
    tmp.write_text(markdown(summary, model=model, config=config), encoding="utf-8")
    tmp.replace(md)
    return js, md
