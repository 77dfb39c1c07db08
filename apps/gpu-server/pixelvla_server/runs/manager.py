"""The run queue: one job per device slot, a scheduler thread, and recovery after a server restart.

State lives in the registry; the manager only keeps handles of the runs it is watching. On start it
looks at every run the registry says is running: a live process with the same start time is adopted,
one that recorded an exit status is finished, anything else is marked failed ("lost"). Queued runs
simply stay queued and start when a slot frees. While the registry is damaged (read-only, see
registry.py) nothing is scheduled, recovered or changed: those requests get 503 registry_degraded.

A failed run's `error` says why in words: the typed error the run reported (`pixelvla: error [code]:
...` in its log, or its `failed` metrics event), or the signal that killed it (a native crash is
"killed by signal 11 (SIGSEGV)", not a bare -11).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ApiError, Conflict, NotFound
from ..ids import annotations_root, dataset_dir, is_bundle, model_dir, runs_root, written_models_root
from .metrics import tail_log
from .registry import STAGES, TERMINAL, RunRecord, RunRegistry
from .runner import JobHandle, Runner, RunSpec
from .wrap import WRAP_START, describe_exit

log = logging.getLogger("pixelvla_server.runs")


# Launch-request fields that the server fills in from ids; a client never sends them (they are paths).
SERVER_FIELDS = ("stage", "dataset", "init", "out_dir", "annotations")
# What a training run reads: the TrainConfig the server builds (pixelvla.train.loop.CONFIG_FILE, the
# file the run keeps and replays from). An eval run reads its launch request, EVAL_REQUEST.
TRAIN_CONFIG = "train_config.json"
EVAL_REQUEST = "config.json"


def check_overrides(stage: str, overrides: dict[str, Any]) -> None:
    """Typed 400 for overrides that name a server field, and for an eval run's overrides; a training
    run's are checked by building its TrainConfig (train_config)."""
    from pixelvla.errors import PixelVLAError

    bad = sorted(k for k in overrides if k in SERVER_FIELDS)
    if bad:
        raise ApiError(
            f"overrides may not set {', '.join(bad)}: the server sets them from the request's ids",
            code="invalid_overrides",
        )
    if stage != "eval":
        return
    from pixelvla.evaluation import config_from_overrides

    try:
        config_from_overrides(overrides)
    except PixelVLAError as exc:
        raise ApiError(str(exc), code="invalid_overrides") from exc


def train_config(
    settings: Settings,
    *,
    stage: str,
    dataset: str,
    base_checkpoint: str | None,
    overrides: dict[str, Any],
    out_dir: Path,
) -> Any:
    """The run's pixelvla.train.config.TrainConfig, built here from the launch request: the ids
    resolved to their folders (unknown_dataset / unknown_model otherwise), the studio's annotations
    of the dataset, then the overrides, validated by TrainConfig itself (a typed 400
    invalid_overrides). It is written as the run's train_config.json, the one file the run reads."""
    from pixelvla.errors import PixelVLAError
    from pixelvla.train.config import TrainConfig

    check_overrides(stage, overrides)
    values: dict[str, Any] = {
        "stage": stage,
        "dataset": str(dataset_dir(settings, dataset)),
        "out_dir": str(out_dir),
        "init": str(model_dir(settings, base_checkpoint)) if base_checkpoint else None,
        # the studio's drawn prompts for this dataset (merged into training data when present)
        "annotations": str(annotations_root(settings) / dataset),
        **overrides,
    }
    try:
        return TrainConfig.from_dict(values)
    except PixelVLAError as exc:
        raise ApiError(str(exc), code="invalid_overrides") from exc


def build_argv(template: str, values: dict[str, str]) -> list[str]:
    """Split the template first, then fill each word: values can never inject extra arguments."""
    out: list[str] = []
    for word in shlex.split(template):
        try:
            filled = word.format(**values)
        except (KeyError, IndexError) as exc:
            raise ApiError(
                f"run command template uses an unknown placeholder {exc}", code="bad_run_command", status=500
            ) from exc
        if filled:
            out.append(filled)
    return out


_ERROR_LINE = "pixelvla: error ["  # what `pixelvla` prints for a PixelVLAError before exiting 2
_TAIL_BYTES = 64 * 1024
MAX_ERROR_CHARS = 2000


def reported_error(run_dir: Path) -> str | None:
    """The reason the last attempt of a run gave for failing: the CLI's typed error line in log.txt,
    else the `error` of a `failed` event in metrics.jsonl (any exception of the training loop).
    Only what follows the attempt's start counts (log and metrics are appended across resumes)."""
    for line in reversed(tail_log(run_dir / "log.txt", 200)):
        if line.startswith(WRAP_START):
            break
        if line.startswith(_ERROR_LINE):
            return line[len("pixelvla: ") :].strip()[:MAX_ERROR_CHARS]
    try:
        with open(run_dir / "metrics.jsonl", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or rec.get("kind", "event") != "event":
            continue
        if rec.get("event") == "failed" and isinstance(rec.get("error"), str):
            return rec["error"][:MAX_ERROR_CHARS]
        if rec.get("event") in ("start", "resume"):
            break
    return None


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class RunManager:
    def __init__(self, settings: Settings, registry: RunRegistry, runner: Runner, slots: int):
        self.settings = settings
        self.registry = registry
        self.runner = runner
        self.slots = max(1, slots)
        self._active: dict[str, tuple[JobHandle, int]] = {}  # run id -> (handle, slot index)
        self._starting: dict[str, int] = {}  # run id -> slot, while the runner starts it (unlocked)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self, poll_s: float = 0.2) -> None:
        if self.registry.degraded:
            log.error("run registry damaged: runs are neither recovered nor scheduled")
        else:
            self.recover()
        self._thread = threading.Thread(target=self._loop, args=(poll_s,), name="run-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling. Running jobs keep going; a restarted server adopts them."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def recover(self) -> None:
        for rec in self.registry.find("running"):
            handle = JobHandle(rec.pid, rec.pid_start, rec.backend_job)
            state = self.runner.poll(handle, self.run_dir(rec.id))
            if state.phase == "running":
                log.info("adopted running run after restart", extra={"run": rec.id, "pid": rec.pid})
                with self._lock:
                    self._active[rec.id] = (handle, self._free_slot())
            else:
                self._finish(rec.id, state.exit_code, state.message or "the server restarted")

    # ---- requests --------------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return runs_root(self.settings) / run_id

    def create(
        self,
        *,
        stage: str,
        name: str | None,
        base_checkpoint: str | None,
        dataset: str | None,
        overrides: dict[str, Any],
    ) -> RunRecord:
        if stage not in STAGES:
            raise ApiError(f"stage {stage!r} is not one of {', '.join(STAGES)}", code="invalid_stage")
        self.registry.require_writable()  # 503 before anything else: nothing can be queued
        if base_checkpoint is None and stage != "base":
            raise ApiError(
                f"a {stage} run starts from a model: choose a base checkpoint",
                code="base_checkpoint_required",
            )
        if dataset is None and stage != "eval":
            raise ApiError(f"a {stage} run trains on a dataset: choose one", code="dataset_required")
        if base_checkpoint is not None:
            model_dir(self.settings, base_checkpoint)  # raises unknown_model
        if dataset is None:
            check_overrides(stage, overrides)  # an eval run
        else:
            dataset_dir(self.settings, dataset)  # raises unknown_dataset
            if stage != "eval":
                # The run's folder is named once it has an id; TrainConfig's checks do not read it.
                self._train_config(stage, dataset, base_checkpoint, overrides, runs_root(self.settings))
            else:
                check_overrides(stage, overrides)
        rec = self.registry.create(
            stage=stage, name=name, base_checkpoint=base_checkpoint, dataset=dataset, overrides=overrides
        )
        self.run_dir(rec.id).mkdir(parents=True, exist_ok=True)
        self._wake.set()
        return rec

    def _train_config(
        self, stage: str, dataset: str, base: str | None, overrides: dict[str, Any], out_dir: Path
    ) -> Any:
        return train_config(
            self.settings,
            stage=stage,
            dataset=dataset,
            base_checkpoint=base,
            overrides=overrides,
            out_dir=out_dir,
        )

    def get(self, run_id: str) -> RunRecord:
        rec = self.registry.get(run_id)
        if rec is None:
            raise NotFound(f"run {run_id!r} does not exist", code="unknown_run")
        return rec

    def cancel(self, run_id: str) -> RunRecord:
        self.registry.require_writable()  # a cancel that cannot be recorded would lose the run's state
        rec = self.get(run_id)
        if rec.status in TERMINAL:
            raise Conflict(f"run {run_id} already ended ({rec.status})", code="run_finished")
        if self.registry.update(run_id, expect="queued", status="cancelled", finished_at=time.time()):
            return self.get(run_id)
        with self._lock:
            entry = self._active.pop(run_id, None)
        if entry is not None:
            self.runner.cancel(entry[0])
        self.registry.update(run_id, status="cancelled", finished_at=time.time(), error="cancelled by user")
        self._wake.set()
        return self.get(run_id)

    def resume(self, run_id: str) -> RunRecord:
        self.registry.require_writable()
        rec = self.get(run_id)
        if rec.status not in ("failed", "cancelled"):
            raise Conflict(
                f"run {run_id} is {rec.status}; only failed or cancelled runs can be resumed",
                code="run_not_resumable",
            )
        self.registry.update(
            run_id, status="queued", resume=True, exit_code=None, error=None, finished_at=None, pid=None
        )
        self._wake.set()
        return self.get(run_id)

    def deployed_model_id(self, run_id: str) -> str:
        return f"run-{run_id}"

    def has_bundle(self, run_id: str) -> bool:
        return is_bundle(self.run_dir(run_id) / "bundle")

    def deploy(self, run_id: str) -> str:
        """Copy a finished run's bundle into the model registry (<data-dir>/models/run-<id>) and
        return its model id. The copy outlives the run folder; deploying twice reuses it."""
        rec = self.get(run_id)
        src = self.run_dir(run_id) / "bundle"
        if rec.status != "succeeded" or not is_bundle(src):
            raise Conflict(
                f"run {run_id} is {rec.status} and has no finished bundle to deploy",
                code="run_has_no_bundle",
            )
        model_id = self.deployed_model_id(run_id)
        dest = written_models_root(self.settings) / model_id
        if not is_bundle(dest):
            tmp = dest.with_name(f".{model_id}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp)
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
            log.info("run bundle added to the model registry", extra={"run": run_id, "model": model_id})
        return model_id

    def delete(self, run_id: str) -> None:
        self.registry.require_writable()
        rec = self.get(run_id)
        if rec.status in ("running", "queued"):
            raise Conflict(f"run {run_id} is {rec.status}; cancel it before deleting", code="run_active")
        self.registry.delete(run_id)
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # ---- scheduling ------------------------------------------------------------------------------
    def _loop(self, poll_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the scheduler must outlive one bad run
                log.exception("run scheduler tick failed")
            self._wake.wait(poll_s)
            self._wake.clear()

    def _free_slot(self) -> int:
        used = {slot for _, slot in self._active.values()} | set(self._starting.values())
        return next(i for i in range(self.slots + len(used) + 1) if i not in used)

    def tick(self) -> None:
        if self.registry.degraded:
            return  # read-only: a launch or a finish could not be recorded
        with self._lock:
            active = list(self._active.items())
        for run_id, (handle, _slot) in active:
            state = self.runner.poll(handle, self.run_dir(run_id))
            if state.phase != "running":
                with self._lock:
                    self._active.pop(run_id, None)
                self._finish(run_id, state.exit_code, state.message)
        for rec in self.registry.queued():
            with self._lock:
                if len(self._active) + len(self._starting) >= self.slots:
                    return
                slot = self._free_slot()
                self._starting[rec.id] = slot
            # Outside the lock: a runner may take a while to start a job (Ray retries submission
            # while its job agent starts), and cancel/requests must not wait on that.
            try:
                self._launch(rec, slot)
            finally:
                with self._lock:
                    self._starting.pop(rec.id, None)

    def _fail_launch(self, rec: RunRecord, error: str) -> None:
        self.registry.update(rec.id, expect="queued", status="failed", error=error, finished_at=time.time())
        log.error("run could not be launched", extra={"run": rec.id, "error": error})

    def _launch(self, rec: RunRecord, slot: int) -> None:
        run_dir = self.run_dir(rec.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        # The stored request is checked again as it is read: it was queued by an older server, or its
        # dataset / base model may have gone since. A typed reason in the run, not a stuck queue.
        try:
            ds = str(dataset_dir(self.settings, rec.dataset)) if rec.dataset else ""
            base = str(model_dir(self.settings, rec.base_checkpoint)) if rec.base_checkpoint else ""
            if rec.stage == "eval":
                check_overrides(rec.stage, rec.overrides)
                config_path = run_dir / EVAL_REQUEST
                write_json_atomic(
                    config_path,
                    {
                        "run_id": rec.id,
                        "stage": rec.stage,
                        "base_dir": base or None,
                        "overrides": rec.overrides,
                    },
                )
            else:
                if rec.dataset is None:
                    raise ApiError(f"a {rec.stage} run trains on a dataset", code="dataset_required")
                cfg = self._train_config(rec.stage, rec.dataset, rec.base_checkpoint, rec.overrides, run_dir)
                config_path = run_dir / TRAIN_CONFIG
                # A resumed run keeps the config it started with (its own record of the run).
                if not (rec.resume and config_path.exists()):
                    write_text_atomic(config_path, cfg.to_json() + "\n")
        except ApiError as exc:
            self._fail_launch(rec, f"the stored run request is no longer valid [{exc.code}]: {exc.message}")
            return
        argv = build_argv(
            self.settings.run_command,
            {
                "python": sys.executable,
                "stage": rec.stage,
                "run_dir": str(run_dir),
                "config": str(config_path),
                "dataset": ds,
                "base": base,
                "resume": "--resume" if rec.resume else "",
            },
        )
        env = {"PIXELVLA_RUN_ID": rec.id, "PIXELVLA_RUN_DIR": str(run_dir)}
        if self.settings.device != "cpu":
            env["CUDA_VISIBLE_DEVICES"] = str(slot)
        try:
            handle = self.runner.start(RunSpec(rec.id, argv, run_dir, env))
        except Exception as exc:
            log.exception("run failed to start", extra={"run": rec.id})
            self._fail_launch(rec, f"failed to start: {exc}")
            return
        if not self.registry.update(
            rec.id,
            expect="queued",
            status="running",
            started_at=time.time(),
            pid=handle.pid,
            pid_start=handle.pid_start,
            backend_job=handle.backend_job,
            attempts=rec.attempts + 1,
        ):
            self.runner.cancel(handle)  # cancelled or deleted between read and launch
            return
        with self._lock:
            self._active[rec.id] = (handle, slot)
        log.info("run started", extra={"run": rec.id, "argv": argv, "slot": slot})

    def _finish(self, run_id: str, exit_code: int | None, message: str | None) -> None:
        status = "succeeded" if exit_code == 0 else "failed"
        error = None
        if status == "failed":
            how = f"the run {describe_exit(exit_code)}" if exit_code is not None else None
            reasons = [reported_error(self.run_dir(run_id)), message, how]
            error = "; ".join(r for r in reasons if r) + "; see its log"
        self.registry.update(
            run_id, expect="running", status=status, exit_code=exit_code, error=error, finished_at=time.time()
        )
        log.info("run finished", extra={"run": run_id, "status": status, "exit_code": exit_code})
