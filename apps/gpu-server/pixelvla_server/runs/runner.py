"""Backends that execute a run: a local subprocess (the embedded default) and Ray job submission.

Both take the same RunSpec and report the same JobState, so the queue does not care where a run goes.
The local runner launches `python -m pixelvla_server.runs.wrap -- <command>`: the wrapper runs the command
in its own process group and writes exit.json atomically when it ends. That file, plus the pid and the
process start time from /proc, lets a restarted server tell a still-running orphan from a finished run
or a recycled pid.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from ..errors import ApiError

log = logging.getLogger("pixelvla_server.runs")

JobPhase = Literal["running", "exited", "lost"]


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    argv: list[str]
    run_dir: Path
    env: dict[str, str]
    nproc: int = 1


@dataclass(frozen=True)
class JobHandle:
    pid: int | None = None
    pid_start: str | None = None
    backend_job: str | None = None


@dataclass(frozen=True)
class JobState:
    phase: JobPhase
    exit_code: int | None = None
    message: str | None = None


class Runner(Protocol):
    name: str

    def start(self, spec: RunSpec) -> JobHandle: ...
    def poll(self, handle: JobHandle, run_dir: Path) -> JobState: ...
    def cancel(self, handle: JobHandle) -> None: ...


def process_start_time(pid: int) -> str | None:
    """Kernel start time of `pid` in clock ticks since boot (field 22 of /proc/pid/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    state = fields[0]
    if state == "Z":  # a zombie has exited; it only waits for its parent to reap it
        return None
    return fields[19]


def read_exit(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / "exit.json").read_text())["exit_code"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wrapped_argv(spec: RunSpec) -> list[str]:
    """The command both backends execute: the run's argv (under torchrun when nproc > 1) inside
    `pixelvla_server.runs.wrap`, which records the exit status in RUN/exit.json."""
    argv = spec.argv
    if spec.nproc > 1 and argv[:2] == [sys.executable, "-m"]:
        argv = ["torchrun", f"--nproc-per-node={spec.nproc}", "-m", *argv[2:]]
    return [sys.executable, "-m", "pixelvla_server.runs.wrap", str(spec.run_dir), "--", *argv]


class SubprocessRunner:
    name = "subprocess"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, spec: RunSpec) -> JobHandle:
        spec.run_dir.mkdir(parents=True, exist_ok=True)
        (spec.run_dir / "exit.json").unlink(missing_ok=True)  # from an earlier attempt
        argv = wrapped_argv(spec)
        with open(spec.run_dir / "log.txt", "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=spec.run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **spec.env},
                start_new_session=True,  # own process group: cancel reaches the whole tree
            )
        self._children[proc.pid] = proc
        return JobHandle(pid=proc.pid, pid_start=process_start_time(proc.pid))

    def poll(self, handle: JobHandle, run_dir: Path) -> JobState:
        assert handle.pid is not None
        child = self._children.get(handle.pid)
        if child is not None:
            code = child.poll()
            if code is None:
                return JobState("running")
            del self._children[handle.pid]
            recorded = read_exit(run_dir)
            return JobState("exited", recorded if recorded is not None else code)
        # Not our child: a run adopted after a server restart. Trust pid only with the same start time.
        alive = process_start_time(handle.pid)
        if alive is not None and alive == handle.pid_start:
            return JobState("running")
        code = read_exit(run_dir)
        if code is not None:
            return JobState("exited", code)
        return JobState("lost", None, "the run's process vanished without recording an exit status")

    def cancel(self, handle: JobHandle) -> None:
        if handle.pid is None:
            return
        if handle.pid not in self._children and process_start_time(handle.pid) != handle.pid_start:
            return  # the pid now belongs to someone else
        try:
            os.killpg(handle.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            child = self._children.get(handle.pid)
            if child is not None and child.poll() is not None:
                break
            if child is None and process_start_time(handle.pid) is None:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(handle.pid, signal.SIGKILL)


class JobSubmissionClientLike(Protocol):
    """The subset of ray.job_submission.JobSubmissionClient this backend uses."""

    def submit_job(self, *, entrypoint: str, submission_id: str, runtime_env: dict[str, Any]) -> str: ...
    def get_job_status(self, job_id: str) -> Any: ...
    def stop_job(self, job_id: str) -> bool: ...


class RayUnavailable(ApiError):
    """Ray's job API kept refusing submissions (its job agent never came up) for the whole wait."""

    status = 503
    code = "ray_unavailable"


# What Ray's job API answers (HTTP 500) while the head's job agent has not registered yet, e.g. for
# the first seconds after `ray start --head` on a busy machine. Nothing was created: safe to resend.
AGENT_STARTING = "No available agent to submit job"


def agent_starting(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and AGENT_STARTING in str(exc)


class RayJobRunner:
    """Submits runs to an existing Ray cluster. The run folder must be on storage the cluster shares.

    `ray` comes with the server's `ray` extra (installed by `npm start` / `npm test`); pass a client
    built with `ray.job_submission.JobSubmissionClient(address)` or use `RayJobRunner.connect(address)`.
    Each job runs the command under `pixelvla_server.runs.wrap` with its output appended to RUN/log.txt,
    so logs and the exit status live in the run folder as for local runs.

    While the head's job agent starts, Ray refuses submissions ("No available agent to submit job,
    please try again later", after waiting 10 s itself). start() then retries with exponential
    backoff (first_delay_s, doubling, at most max_delay_s between tries) for at most submit_wait_s in
    all, and raises RayUnavailable (the run fails with that reason) if the agent never answers. Other
    errors are not retried: a submission that may have reached the cluster is never sent twice.
    """

    name = "ray"
    _PHASES: ClassVar[dict[str, JobPhase]] = {
        "PENDING": "running",
        "RUNNING": "running",
        "SUCCEEDED": "exited",
        "FAILED": "exited",
        "STOPPED": "exited",
    }

    def __init__(
        self,
        client: JobSubmissionClientLike,
        *,
        submit_wait_s: float = 120.0,
        first_delay_s: float = 0.5,
        max_delay_s: float = 8.0,
    ):
        if submit_wait_s < 0 or first_delay_s <= 0 or max_delay_s < first_delay_s:
            raise ValueError("need submit_wait_s >= 0 and 0 < first_delay_s <= max_delay_s")
        self.client = client
        self.submit_wait_s = submit_wait_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.submit_attempts = 0  # submissions sent, refusals included (for logs and tests)
        self.submit_refusals = 0  # of which Ray refused because its job agent was not up yet

    @classmethod
    def connect(cls, address: str, **retry: float) -> RayJobRunner:
        from ray.job_submission import JobSubmissionClient  # type: ignore[import-not-found]

        return cls(JobSubmissionClient(address), **retry)

    def _submit(self, **job: Any) -> str:
        deadline = time.monotonic() + self.submit_wait_s
        delay = self.first_delay_s
        tries = 0
        while True:
            tries += 1
            self.submit_attempts += 1
            try:
                return self.client.submit_job(**job)
            except Exception as exc:
                if not agent_starting(exc):
                    raise
                self.submit_refusals += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RayUnavailable(
                        f"Ray's job API refused the submission {tries} time(s) over "
                        f"{self.submit_wait_s:g} s because its job agent is not available ({exc}). "
                        "Check the head node (`ray status`, the dashboard_agent log); raise "
                        "PIXELVLA_RAY_SUBMIT_WAIT_S if the agent is just slow to start"
                    ) from exc
                pause = min(delay, left)
                log.warning(
                    "Ray job agent not available yet; retrying the submission",
                    extra={"job": job.get("submission_id"), "try": tries, "retry_in_s": round(pause, 2)},
                )
                time.sleep(pause)
                delay = min(delay * 2, self.max_delay_s)

    def start(self, spec: RunSpec) -> JobHandle:
        import shlex

        # The same wrapped command as the local runner, its output appended to RUN/log.txt (so the
        # server's /logs route works for Ray runs too); the exit status lands in RUN/exit.json.
        (spec.run_dir / "exit.json").unlink(missing_ok=True)  # from an earlier attempt
        log_path = shlex.quote(str(spec.run_dir / "log.txt"))
        job = self._submit(
            entrypoint=f"{shlex.join(wrapped_argv(spec))} >> {log_path} 2>&1",
            submission_id=f"pixelvla-{spec.run_id}",
            runtime_env={"env_vars": spec.env},
        )
        return JobHandle(backend_job=job)

    def poll(self, handle: JobHandle, run_dir: Path) -> JobState:
        assert handle.backend_job is not None
        raw = self.client.get_job_status(handle.backend_job)  # a JobStatus enum (str subclass) in Ray
        status = str(getattr(raw, "value", raw)).rsplit(".", 1)[-1].upper()
        phase = self._PHASES.get(status)
        if phase is None:
            return JobState("lost", None, f"Ray reports unknown job status {status!r}")
        if phase == "running":
            return JobState("running")
        recorded = read_exit(run_dir)
        code = recorded if recorded is not None else (0 if status == "SUCCEEDED" else 1)
        return JobState("exited", code, None if status != "STOPPED" else "stopped on the Ray cluster")

    def cancel(self, handle: JobHandle) -> None:
        if handle.backend_job is not None:
            self.client.stop_job(handle.backend_job)
