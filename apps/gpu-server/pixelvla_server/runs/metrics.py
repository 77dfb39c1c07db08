"""Reading what a run writes: metrics.jsonl (one JSON object per line), log.txt, checkpoints/.

Only complete lines count: a writer may be halfway through the last one. A line that is not a JSON
object is skipped (and counted) rather than failing the whole read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_LINE_BYTES = 64 * 1024


def read_metrics(path: Path, offset: int = 0, limit: int = 1000) -> tuple[list[dict[str, Any]], int, int]:
    """Records from byte `offset`: (records, next_offset, skipped_lines)."""
    records: list[dict[str, Any]] = []
    skipped = 0
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            while len(records) < limit:
                line = f.readline(MAX_LINE_BYTES + 1)
                if not line or not line.endswith(b"\n"):
                    break  # end of file, or a partial line still being written
                offset += len(line)
                try:
                    obj = json.loads(line)
                except ValueError:
                    skipped += 1
                    continue
                if isinstance(obj, dict):
                    records.append(obj)
                else:
                    skipped += 1
    except FileNotFoundError:
        pass
    return records, offset, skipped


def last_progress(path: Path) -> dict[str, Any] | None:
    """Step and total from the newest record that has a step; loss, throughput and the rest from the
    newest record that has a loss (the last line of a finished run is a "done" event without one).
    Reads only the file's tail."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 16 * 1024))
            tail = f.read().split(b"\n")
    except FileNotFoundError:
        return None
    latest: dict[str, Any] | None = None
    for line in reversed(tail):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("step"), int):
            continue
        if latest is None:
            latest = obj
        if isinstance(obj.get("loss"), int | float):
            return {
                **obj,
                "step": latest["step"],
                "total_steps": latest.get("total_steps", obj.get("total_steps")),
            }
    return latest


def collapse_redraws(line: str) -> str:
    """What a terminal shows for a line that redraws itself: a progress bar (tqdm) writes every
    update after a carriage return on the same line, so only the text after the last one counts."""
    parts = [p for p in line.rstrip("\r").split("\r") if p != ""]
    return parts[-1] if parts else ""


def tail_log(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a log, split at newlines only and with redraws collapsed: 500
    carriage-return updates of one progress bar are one line, its latest state."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out = [collapse_redraws(line) for line in data.split("\n")]
    if out and out[-1] == "":
        out.pop()  # the text ended with a newline
    return out[-lines:]


def list_checkpoints(run_dir: Path) -> list[str]:
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    # Only finished checkpoints: writers stage them under a temporary name (".tmp-*" or "*.tmp") and rename.
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.endswith(".tmp") and not p.name.startswith(".")
    )
