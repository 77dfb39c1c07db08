"""The Ray job backend (--runner ray) against a real local Ray head: the server's own RunManager and HTTP
routes, the fake trainer (tests/fixtures/fake_train.py) run as a Ray job, and Ray's job API as the only
channel between them. The head runs on this machine, so the run folders are shared as on a cluster
whose nodes mount the same storage.

The head is this module's own `ray start --head --block` in a new process group, bound to loopback
(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray pick 127.0.0.1 instead of the machine's address) with
its own temp dir and free ports; teardown signals that group only, never `ray stop` (which would stop
every Ray process on the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.job_submission")  # a guard only: the workspace's dev group installs ray

from fastapi.testclient import TestClient
from pixelvla_server.app import build_runner, create_app
from pixelvla_server.config import ConfigError, from_env
from pixelvla_server.runs.runner import RayJobRunner, RayUnavailable, RunSpec, process_start_time

OP = {"X-Operator-Token": "op"}
RAY = Path(sys.executable).with_name("ray")
HEAD_START_S = 120.0  # two busy cores: a cold head takes 15-40 s
RUN_S = 90.0  # a job's first worker imports Ray before the entrypoint starts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def start_head() -> Iterator[tuple[str, str]]:
    """A one-CPU Ray head with its dashboard (the job API); yields (job API URL, GCS address)."""
    # Ray's unix sockets live under the temp dir and must stay under ~107 characters: keep it short.
    temp = Path(tempfile.mkdtemp(prefix="pvray-", dir="/tmp"))
    dash = free_port()
    gcs = free_port()
    ports = {
        "--port": gcs,
        "--dashboard-port": dash,
        "--ray-client-server-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--runtime-env-agent-port": free_port(),
        "--metrics-export-port": free_port(),
    }
    argv = [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    argv += ["--dashboard-host", "127.0.0.1", "--include-dashboard", "true", "--num-cpus", "1"]
    argv += ["--disable-usage-stats", "--temp-dir", str(temp)]
    for flag, port in ports.items():
        argv += [flag, str(port)]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "OMP_NUM_THREADS": "1"}
    log = open(temp / "head.log", "wb")  # noqa: SIM115 (closed at teardown)
    head = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{dash}"
    try:
        wait_job_api(url, head, temp / "head.log")
        yield url, f"127.0.0.1:{gcs}"
    finally:
        stop_head(head)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """The module's head, shared by the run tests; yields the job API's URL."""
    with start_head() as (url, _gcs):
        yield url


def wait_job_api(url: str, head: subprocess.Popen[bytes], log: Path) -> None:
    from ray.job_submission import JobSubmissionClient

    deadline = time.monotonic() + HEAD_START_S
    while True:
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}:\n{log.read_text()[-4000:]}")
        try:
            JobSubmissionClient(url).list_jobs()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"the Ray job API at {url} did not come up: {exc}\n{log.read_text()[-4000:]}")
            time.sleep(1.0)


def stop_head(head: subprocess.Popen[bytes]) -> None:
    """SIGTERM the blocking `ray start`: it drains and stops every process it started (all in its own
    process group); whatever is left after 30 s is killed with the group."""
    if head.poll() is None:
        head.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(head.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=10)


@pytest.fixture(scope="module")
def client(
    ray_head: str, tmp_path_factory: pytest.TempPathFactory, run_settings: Any, registry_entries: Any
) -> Iterator[TestClient]:
    """The real app with the Ray backend chosen the way a user chooses it: settings, not a runner object."""
    root = tmp_path_factory.mktemp("ray-runs")
    registry_entries(root)
    app = create_app(run_settings(root, runner="ray", ray_address=ray_head))
    assert isinstance(app.state.studio.runs.runner, RayJobRunner)
    with TestClient(app) as c:
        yield c


def create(c: TestClient, overrides: dict[str, Any]) -> dict[str, Any]:
    body = {"stage": "stage1", "dataset": "d", "base_checkpoint": "m", "overrides": overrides}
    r = c.post("/v1/runs", json=body, headers=OP)
    assert r.status_code == 201, r.text
    return r.json()


def wait_status(c: TestClient, run_id: str, statuses: set[str], timeout: float = RUN_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = c.get(f"/v1/runs/{run_id}").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"run stuck in {body['status']}: {body}"
        time.sleep(0.1)


def ray_client(c: TestClient) -> Any:
    runner = c.app.state.studio.runs.runner  # type: ignore[attr-defined]
    assert isinstance(runner, RayJobRunner)
    return runner.client


def test_run_succeeds_as_a_ray_job_with_metrics(client):
    run = create(client, {"steps": 4, "checkpoint_every": 2})
    done = wait_status(client, run["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["exit_code"] == 0, done
    assert done["progress"] == {"step": 4, "total_steps": 4, "loss": 0.25, "samples_per_s": 100.0}
    assert done["checkpoints"] == ["step_2", "step_4"]
    page = client.get(f"/v1/runs/{run['id']}/metrics").json()
    assert [r["step"] for r in page["records"]] == [1, 2, 3, 4]
    # It really went through Ray: the job carries the run's id, and Ray holds the trainer's output.
    ray = ray_client(client)
    job = f"pixelvla-{run['id']}"
    assert str(ray.get_job_status(job)).endswith("SUCCEEDED")
    info = ray.get_job_info(job)
    assert info.driver_exit_code == 0
    assert info.runtime_env["env_vars"]["PIXELVLA_RUN_ID"] == run["id"]
    # The trainer's output is in the run folder, where the logs route reads it (as for local runs).
    logs = client.get(f"/v1/runs/{run['id']}/logs").json()["lines"]
    assert any("fake_train stage=stage1" in line for line in logs)


def test_crashing_run_fails_with_its_exit_code(client):
    # fake_train crashes (status 3) at TrainConfig's halt_after_steps, "stop early as if killed"
    run = create(client, {"halt_after_steps": 3, "steps": 6, "checkpoint_every": 2})
    failed = wait_status(client, run["id"], {"succeeded", "failed"})
    assert failed["status"] == "failed", failed
    assert str(ray_client(client).get_job_status(f"pixelvla-{run['id']}")).endswith("FAILED")
    # The trainer's own status (3), recorded by the wrapper in RUN/exit.json, not Ray's summary (1).
    assert failed["exit_code"] == 3 and "status 3" in failed["error"], failed
    steps = [r["step"] for r in client.get(f"/v1/runs/{run['id']}/metrics").json()["records"]]
    assert steps == [1, 2]


def test_long_run_can_be_cancelled(client):
    run = create(client, {"steps": 1000})  # 20 s at the fake's 0.02 s a step
    wait_status(client, run["id"], {"running"})
    metrics = Path(client.app.state.studio.runs.run_dir(run["id"])) / "metrics.jsonl"  # type: ignore[attr-defined]
    deadline = time.monotonic() + RUN_S
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):  # the trainer is stepping
        assert time.monotonic() < deadline, "the Ray job never started stepping"
        time.sleep(0.1)
    ray = ray_client(client)
    job = f"pixelvla-{run['id']}"
    log = "\n".join(client.get(f"/v1/runs/{run['id']}/logs").json()["lines"])
    pid = int(log.split("pid=")[1].split()[0])
    assert process_start_time(pid) is not None

    r = client.post(f"/v1/runs/{run['id']}/cancel", headers=OP)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    deadline = time.monotonic() + 30  # Ray sends SIGTERM, then SIGKILL after 3 s
    while not str(ray.get_job_status(job)).endswith("STOPPED") or process_start_time(pid) is not None:
        assert time.monotonic() < deadline, f"job {ray.get_job_status(job)}, trainer pid {pid} alive"
        time.sleep(0.2)
    stepped = metrics.read_text().count("\n")
    assert stepped < 400
    time.sleep(0.5)
    assert metrics.read_text().count("\n") == stepped  # nothing writes after the cancel
    assert client.get(f"/v1/runs/{run['id']}").json()["status"] == "cancelled"


# ---- selecting the backend: settings, CLI, and failing fast ----------------------------------------------


def test_runner_settings_from_env_and_flags(tmp_path):
    env = {"PIXELVLA_RUNNER": "ray", "PIXELVLA_RAY_ADDRESS": "http://head:8265"}
    s = from_env(env, data_dir=tmp_path)
    assert (s.runner, s.ray_address) == ("ray", "http://head:8265")
    assert from_env(env, runner="subprocess", data_dir=tmp_path).runner == "subprocess"
    assert from_env({}, data_dir=tmp_path).runner == "subprocess"
    with pytest.raises(ConfigError, match="--ray-address"):
        from_env({"PIXELVLA_RUNNER": "ray"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="not one of subprocess, ray"):
        from_env({"PIXELVLA_RUNNER": "slurm"}, data_dir=tmp_path)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELVLA_")}
    return subprocess.run(
        [sys.executable, "-m", "pixelvla_server", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_unreachable_ray_address_fails_fast(tmp_path, run_settings):
    url = closed_port_url()
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="cannot connect to the Ray job API"):
        build_runner(run_settings(tmp_path, runner="ray", ray_address=url))
    assert time.monotonic() - t0 < 10
    r = run_cli(
        *("--port", str(free_port()), "--device", "cpu", "--no-model", "--data-dir", str(tmp_path)),
        *("--runner", "ray", "--ray-address", url),
    )
    assert r.returncode == 2 and "cannot connect to the Ray job API" in r.stderr, r.stderr


def test_cli_runner_flags_are_checked():
    r = run_cli("--runner", "slurm")
    assert r.returncode == 2 and "invalid choice: 'slurm'" in r.stderr
    r = run_cli("--runner", "ray", "--port", str(free_port()), "--device", "cpu")
    assert r.returncode == 2 and "--ray-address" in r.stderr, r.stderr


# ---- submitting while the head's job agent is not up yet -------------------------------------------------


def test_submission_is_retried_until_the_job_agent_registers(tmp_path):
    """A fresh head whose job agent has not registered with it yet: the job API answers every
    submission "No available agent to submit job, please try again later". On a busy machine that
    lasts well past the moment the API answers, which is when the server (and this module's fixture)
    starts submitting. The condition is made to last here, on a real head, by taking the agent's
    address out of the head's GCS key-value store (where the agent writes it when it starts, and
    where the job API looks it up) until the runner has been refused, then putting it back.
    Nothing is timed: the test waits for the refusal, and the runner's bound decides the failure."""
    from ray._raylet import GcsClient
    from ray.job_submission import JobSubmissionClient

    key_prefix, namespace = b"DASHBOARD_AGENT_ADDR_NODE_ID_PREFIX:", b"dashboard"
    with start_head() as (url, gcs_address):
        gcs = GcsClient(address=gcs_address)
        deadline = time.monotonic() + HEAD_START_S
        while not (keys := gcs.internal_kv_keys(key_prefix, namespace)):  # the agent is still starting
            assert time.monotonic() < deadline, "the head's job agent never registered"
            time.sleep(0.2)
        (key,) = keys
        agent = gcs.internal_kv_get(key, namespace)
        gcs.internal_kv_del(key, False, namespace)

        def spec(name: str) -> RunSpec:
            (tmp_path / name).mkdir()
            return RunSpec(name, [sys.executable, "-c", "print('ran')"], tmp_path / name, {})

        # The agent never comes: a typed error once the bounded wait is spent (0 s: one try).
        never = RayJobRunner(JobSubmissionClient(url), submit_wait_s=0)
        with pytest.raises(RayUnavailable, match="job agent is not available") as e:
            never.start(spec("never"))
        assert e.value.code == "ray_unavailable" and never.submit_refusals == 1

        # The agent comes while the runner retries: the submission goes through.
        runner = RayJobRunner(JobSubmissionClient(url), submit_wait_s=HEAD_START_S)
        result: dict[str, Any] = {}

        def submit() -> None:
            try:
                result["handle"] = runner.start(spec("late"))
            except Exception as exc:  # reported by the assertions below
                result["error"] = exc

        thread = threading.Thread(target=submit)
        thread.start()
        deadline = time.monotonic() + HEAD_START_S
        while runner.submit_refusals == 0 and thread.is_alive():
            assert time.monotonic() < deadline, "the runner was never refused"
            time.sleep(0.1)
        gcs.internal_kv_put(key, agent, True, namespace)  # the agent has registered
        thread.join()
        assert "error" not in result, result
        assert runner.submit_refusals >= 1 and runner.submit_attempts == runner.submit_refusals + 1
        handle = result["handle"]
        assert handle.backend_job == "pixelvla-late"
        deadline = time.monotonic() + RUN_S
        while (state := runner.poll(handle, tmp_path / "late")).phase == "running":
            assert time.monotonic() < deadline, "the submitted job never finished"
            time.sleep(0.2)
        assert state.exit_code == 0 and "ran" in (tmp_path / "late" / "log.txt").read_text()
