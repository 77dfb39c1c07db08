"""Run metrics: one JSON object per line in metrics.jsonl (the server tails it) plus TensorBoard events.

Schema (version 1). Every line has "kind" and "time" (unix seconds).
- kind "train": step (1-based count of optimizer steps done), total_steps, epoch, loss, l1, l1_per_dim
  (dict over ACTION_DIMS), lr (first param group), lrs (per group name), grad_norm, samples_per_s,
  step_time_s, data_time_s, mem_mb (peak RSS on CPU, peak allocated on CUDA).
- kind "event": event in {"start", "resume", "checkpoint", "done", "failed", "cancelled"}, step, total_steps,
  plus event fields (path for checkpoints, error for failures).
- kind "eval": step, plus the evaluation summary fields.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

METRICS_SCHEMA_VERSION = 1
ACTION_DIMS = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
TRAIN_KEYS = (
    "step",
    "total_steps",
    "epoch",
    "loss",
    "l1",
    "l1_per_dim",
    "lr",
    "lrs",
    "grad_norm",
    "samples_per_s",
    "step_time_s",
    "data_time_s",
    "mem_mb",
)
EVENTS = ("start", "resume", "checkpoint", "done", "failed", "cancelled")


class MetricsLog:
    def __init__(self, run_dir: Path, *, tensorboard: bool = True, enabled: bool = True):
        self.path = run_dir / "metrics.jsonl"
        self.enabled = enabled
        self._tb: Any = None
        if enabled:
            run_dir.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def _append(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"kind": record.pop("kind"), "time": round(time.time(), 3), **record}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
            f.flush()

    def train(self, **fields: Any) -> None:
        missing = [k for k in TRAIN_KEYS if k not in fields]
        if missing:
            raise ValueError(f"train metrics missing {missing}")
        self._append({"kind": "train", **fields})
        if self._tb is not None:
            step = int(fields["step"])
            for key in ("loss", "l1", "grad_norm", "samples_per_s", "step_time_s", "data_time_s", "mem_mb"):
                self._tb.add_scalar(f"train/{key}", float(fields[key]), step)
            for name, lr in fields["lrs"].items():
                self._tb.add_scalar(f"lr/{name}", float(lr), step)
            for dim, v in fields["l1_per_dim"].items():
                self._tb.add_scalar(f"l1/{dim}", float(v), step)

    def event(self, event: str, **fields: Any) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        self._append({"kind": "event", "event": event, **fields})
        if self._tb is not None:
            self._tb.flush()

    def eval(self, **fields: Any) -> None:
        self._append({"kind": "eval", **fields})

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All complete lines of a metrics file (a half-written last line from a crash is skipped)."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
