"""Training checkpoints: everything needed to resume (weights or adapters, optimizer, scheduler, RNG,
step, data position), each written atomically into checkpoints/step-XXXXXXXX with a `last` pointer.

A crash during a write leaves the previous checkpoint and the pointer untouched (the new folder is
built under a temporary name and renamed into place; the pointer is replaced atomically afterwards).
Loading never unpickles arbitrary objects: tensors come from safetensors, optimizer state through
torch.load(weights_only=True), the rest from JSON. state.json records the sha256 of the two binary
files, so a damaged byte is found at load rather than trained on; any unreadable, damaged or
ill-shaped file is a CheckpointStateError naming it (never torch's advice to unpickle it).
"""

from __future__ import annotations

import hashlib
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
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "state.json"


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
                str(tmp / WEIGHTS_FILE),
            )
            if _hook_after_weights is not None:  # lets tests simulate a crash mid-write
                _hook_after_weights()
            torch.save(
                {
                    "optimizer": state.optimizer,
                    "scheduler": state.scheduler,
                    "rng_tensors": _rng_tensors(state.rng),
                },
                tmp / OPTIMIZER_FILE,
            )
            meta = {
                "step": state.step,
                "sampler": state.sampler,
                "rng": _rng_plain(state.rng),
                "extra": state.extra,
                "files": {name: _sha256(tmp / name) for name in (WEIGHTS_FILE, OPTIMIZER_FILE)},
            }
            (tmp / STATE_FILE).write_text(json.dumps(meta))
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
            if m and (p / STATE_FILE).exists():
                out.append(int(m.group(1)))
        return sorted(out)

    def last_path(self) -> Path | None:
        pointer = self.dir / "last"
        if pointer.exists():
            p = self.dir / pointer.read_text().strip()
            if _STEP_DIR.match(p.name) and (p / STATE_FILE).exists():
                return p
        steps = self.complete_steps()  # pointer missing or stale: fall back to the newest complete one
        return self.path_for(steps[-1]) if steps else None

    def load(self, path: Path | None = None) -> TrainingState:
        path = path or self.last_path()
        if path is None:
            raise CheckpointStateError(f"no checkpoint to resume from in {self.dir}")
        meta = _read_meta(path)
        for name, digest in meta.get("files", {}).items():  # absent in checkpoints written before
            try:
                actual = _sha256(path / name)
            except OSError as exc:
                raise _corrupt(path, name, f"it cannot be read ({exc.strerror or exc})") from exc
            if actual != digest:
                raise _corrupt(path, name, "its sha256 differs from the one recorded when it was written")
        try:
            weights = load_file(str(path / WEIGHTS_FILE))
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            raise _corrupt(path, WEIGHTS_FILE, f"it is not a readable safetensors file ({exc})") from exc
        try:
            blob = torch.load(path / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
        except Exception as exc:  # UnpicklingError, RuntimeError (zip), EOFError, KeyError, ...
            # torch's own message suggests weights_only=False, i.e. unpickling the file: never that.
            raise _corrupt(
                path, OPTIMIZER_FILE, f"it is not a readable torch archive of tensors ({type(exc).__name__})"
            ) from None
        if not isinstance(blob, dict) or not all(
            isinstance(blob.get(k), dict) for k in ("optimizer", "scheduler", "rng_tensors")
        ):
            raise _corrupt(path, OPTIMIZER_FILE, "it lacks the optimizer / scheduler / rng_tensors maps")
        rng = {**meta["rng"], **blob["rng_tensors"]}
        return TrainingState(
            step=meta["step"],
            weights=weights,
            optimizer=blob["optimizer"],
            scheduler=blob["scheduler"],
            sampler=meta["sampler"],
            rng=rng,
            extra=meta.get("extra", {}),
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _corrupt(path: Path, name: str, why: str) -> CheckpointStateError:
    return CheckpointStateError(
        f"checkpoint file {path / name} is corrupt and unreadable: {why}. Delete the folder {path} to resume from "
        "the checkpoint before it, or start the run afresh"
    )


def _read_meta(path: Path) -> dict[str, Any]:
    """state.json, with the fields load() relies on checked (a wrong type is corruption too)."""
    try:
        meta = json.loads((path / STATE_FILE).read_text())
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as exc:
        raise _corrupt(path, STATE_FILE, f"it is not readable JSON ({exc})") from exc
    ok = (
        isinstance(meta, dict)
        and isinstance(meta.get("step"), int)
        and not isinstance(meta.get("step"), bool)
        and isinstance(meta.get("sampler"), dict)
        and isinstance(meta.get("rng"), dict)
        and isinstance(meta.get("extra", {}), dict)
        and isinstance(meta.get("files", {}), dict)
        and all(isinstance(v, str) for v in meta.get("files", {}).values())
        and set(meta.get("files", {})) <= {WEIGHTS_FILE, OPTIMIZER_FILE}
    )
    if not ok:
        raise _corrupt(path, STATE_FILE, "it lacks the step / sampler / rng fields or has wrong types")
    return meta


def _rng_tensors(rng: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rng.items() if k in ("torch", "cuda")}


def _rng_plain(rng: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rng.items() if k not in ("torch", "cuda")}
