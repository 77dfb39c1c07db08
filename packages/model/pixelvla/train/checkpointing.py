"""Training checkpoints: everything needed to resume (weights or adapters, optimizer, scheduler, RNG,
step, data position), each written atomically into checkpoints/step-XXXXXXXX with a `last` pointer.

A crash during a write leaves the previous checkpoint and the pointer untouched (the new folder is
built under a temporary name and renamed into place; the pointer is replaced atomically afterwards).
Loading never unpickles arbitrary objects: tensors come from safetensors, optimizer state through
torch.load(weights_only=True), the rest from JSON.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import PixelVLAError
from . import atomic

_STEP_DIR = re.compile(r"^step-(\d{8})$")


class CheckpointStateError(PixelVLAError):
    default_code = "invalid_training_checkpoint"


@dataclass
class TrainingState:
    step: int
    weights: dict[str, torch.Tensor]  # trainable (or all) parameters by name
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    sampler: dict[str, int]
    rng: dict[str, Any]
    extra: dict[str, Any]


class CheckpointManager:
    def __init__(self, run_dir: Path, keep: int = 2):
        self.dir = run_dir / "checkpoints"
        self.keep = keep

    def path_for(self, step: int) -> Path:
        return self.dir / f"step-{step:08d}"

    def save(self, state: TrainingState, *, _hook_after_weights: Any = None) -> Path:
        final = self.path_for(state.step)
        with atomic.staged_dir(final) as tmp:
            save_file(
                {k: v.detach().contiguous().cpu() for k, v in state.weights.items()},
                str(tmp / "model.safetensors"),
            )
            if _hook_after_weights is not None:  # lets tests simulate a crash mid-write
                _hook_after_weights()
            torch.save(
                {
                    "optimizer": state.optimizer,
                    "scheduler": state.scheduler,
                    "rng_tensors": _rng_tensors(state.rng),
                },
                tmp / "optimizer.pt",
            )
            meta = {
                "step": state.step,
                "sampler": state.sampler,
                "rng": _rng_plain(state.rng),
                "extra": state.extra,
            }
            (tmp / "state.json").write_text(json.dumps(meta))
        atomic.write_text(self.dir / "last", final.name + "\n")
        self._prune()
        return final

    def _prune(self) -> None:
        steps = sorted(self.complete_steps())
        for step in steps[: max(0, len(steps) - self.keep)]:
            shutil.rmtree(self.path_for(step), ignore_errors=True)

    def complete_steps(self) -> list[int]:
        if not self.dir.exists():
            return []
        out = []
        for p in self.dir.iterdir():
            m = _STEP_DIR.match(p.name)
            if m and (p / "state.json").exists():
                out.append(int(m.group(1)))
        return sorted(out)

    def last_path(self) -> Path | None:
        pointer = self.dir / "last"
        if pointer.exists():
            p = self.dir / pointer.read_text().strip()
            if _STEP_DIR.match(p.name) and (p / "state.json").exists():
                return p
        steps = self.complete_steps()  # pointer missing or stale: fall back to the newest complete one
        return self.path_for(steps[-1]) if steps else None

    def load(self, path: Path | None = None) -> TrainingState:
        path = path or self.last_path()
        if path is None:
            raise CheckpointStateError(f"no checkpoint to resume from in {self.dir}")
        try:
            weights = load_file(str(path / "model.safetensors"))
            blob = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
            meta = json.loads((path / "state.json").read_text())
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            raise CheckpointStateError(f"checkpoint {path} is unreadable: {exc}") from exc
        rng = {**meta["rng"], **blob["rng_tensors"]}
        return TrainingState(
            step=int(meta["step"]),
            weights=weights,
            optimizer=blob["optimizer"],
            scheduler=blob["scheduler"],
            sampler=meta["sampler"],
            rng=rng,
            extra=meta.get("extra", {}),
        )


def _rng_tensors(rng: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rng.items() if k in ("torch", "cuda")}


def _rng_plain(rng: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rng.items() if k not in ("torch", "cuda")}
