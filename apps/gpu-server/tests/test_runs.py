"""Runs over HTTP against real processes (tests/fixtures/fake_train.py), a real SQLite registry, and restarts."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pixelvla_server.app import create_app
from pixelvla_server.runs.runner import JobHandle, RayJobRunner, RunSpec, process_start_time

OP = {"X-Operator-Token": "op"}


@pytest.fixture()
def client(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    with TestClient(create_app(run_settings(tmp_path))) as c:
        yield c


def wait_status(c: TestClient, run_id: str, statuses: set[str], timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = c.get(f"/v1/runs/{run_id}").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"run stuck in {body['status']}: {body}"
        time.sleep(0.05)


FAKE_TRAIN = Path(__file__).parent / "fixtures" / "fake_train.py"


def fake_command(*flags: str) -> str:
    """The fake trainer as the run command, with its own knobs (--step-s S, --bundle)."""
    return f"{{python}} {FAKE_TRAIN} --run-dir {{run_dir}} --config {{config}} {{resume}} {' '.join(flags)}"


def create(c: TestClient, *, crash_at: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A stage-1 run on dataset d from model m; crash_at: the fake exits 3 at that step (it reads
    TrainConfig's halt_after_steps, "stop early as if killed"). The fake checkpoints every 2 steps
    unless told otherwise (TrainConfig's default is 250)."""
    if crash_at is not None:
        overrides["halt_after_steps"] = crash_at
    overrides.setdefault("checkpoint_every", 2)
    body = {"stage": "stage1", "dataset": "d", "base_checkpoint": "m", "overrides": overrides}
    r = c.post("/v1/runs", json=body, headers=OP)
    assert r.status_code == 201, r.text
    return r.json()


def test_run_succeeds_with_metrics_checkpoints_and_logs(client, tmp_path):
    run = create(client, steps=4)
    assert run["status"] in ("queued", "running")
    done = wait_status(client, run["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["exit_code"] == 0 and done["attempts"] == 1
    assert done["progress"] == {"step": 4, "total_steps": 4, "loss": 0.25, "samples_per_s": 100.0}
    assert done["checkpoints"] == ["step_2", "step_4"]
    page = client.get(f"/v1/runs/{run['id']}/metrics").json()
    assert [r["step"] for r in page["records"]] == [1, 2, 3, 4]
    newer = client.get(f"/v1/runs/{run['id']}/metrics", params={"offset": page["next_offset"]}).json()
    assert newer["records"] == []
    # The server built the run's TrainConfig itself: ids resolved to folders, then the overrides.
    from pixelvla.train.config import TrainConfig

    cfg = TrainConfig.load(tmp_path / "runs" / run["id"] / "train_config.json")
    assert cfg.stage == "stage1" and cfg.steps == 4 and cfg.checkpoint_every == 2
    assert cfg.dataset == str(tmp_path / "datasets" / "d")
    assert cfg.init == str(tmp_path / "models" / "m")
    assert cfg.out_dir == str(tmp_path / "runs" / run["id"])
    assert cfg.annotations == str(tmp_path / "annotations" / "d")  # studio prompts join training
    assert not (tmp_path / "runs" / run["id"] / "config.json").exists()  # no second config to translate
    logs = client.get(f"/v1/runs/{run['id']}/logs").json()["lines"]
    assert any("fake_train stage=stage1" in line for line in logs)
    listed = client.get("/v1/runs", params={"status": "succeeded"}).json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]


def test_crash_then_resume_from_checkpoint(client):
    run = create(client, steps=6, crash_at=5)
    failed = wait_status(client, run["id"], {"succeeded", "failed"})
    assert failed["status"] == "failed" and failed["exit_code"] == 3
    assert "status 3" in failed["error"]
    r = client.post(f"/v1/runs/{run['id']}/resume", headers=OP)
    assert r.status_code == 200 and r.json()["resumed"] is True
    done = wait_status(client, run["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["attempts"] == 2
    steps = [r["step"] for r in client.get(f"/v1/runs/{run['id']}/metrics").json()["records"]]
    assert steps == [1, 2, 3, 4, 5, 6]  # resumed after the step-4 checkpoint, not from scratch
    assert (
        client.post(f"/v1/runs/{run['id']}/resume", headers=OP).json()["error"]["code"] == "run_not_resumable"
    )


def test_queue_runs_one_at_a_time_on_cpu_and_cancel(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    with TestClient(create_app(run_settings(tmp_path, run_command=fake_command("--step-s", "0.05")))) as c:
        _queue_and_cancel(c)


def _queue_and_cancel(client: TestClient) -> None:
    first = create(client, steps=400)
    second = create(client, steps=2)
    wait_status(client, first["id"], {"running"})
    time.sleep(0.5)
    assert client.get(f"/v1/runs/{second['id']}").json()["status"] == "queued"
    pid = running_pid(client, first["id"])
    r = client.post(f"/v1/runs/{first['id']}/cancel", headers=OP)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert process_start_time(pid) is None  # the process group is gone
    assert wait_status(client, second["id"], {"succeeded"})["status"] == "succeeded"
    r = client.post(f"/v1/runs/{first['id']}/cancel", headers=OP)
    assert r.status_code == 409 and r.json()["error"]["code"] == "run_finished"
    assert client.delete(f"/v1/runs/{first['id']}", headers=OP).status_code == 204
    assert client.get(f"/v1/runs/{first['id']}").status_code == 404


def running_pid(c: TestClient, run_id: str) -> int:
    db = sqlite3.connect(c.app.state.studio.settings.data_dir / "registry.sqlite")  # type: ignore[attr-defined]
    try:
        (pid,) = db.execute("SELECT pid FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        db.close()
    return int(pid)


def test_restart_adopts_orphans_marks_lost_and_restarts_queued(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    slow = fake_command("--step-s", "0.05")
    with TestClient(create_app(run_settings(tmp_path, run_command=slow))) as c:
        long = create(c, steps=30)
        queued = create(c, steps=2)
        wait_status(c, long["id"], {"running"})
        pid = running_pid(c, long["id"])
    # The server is down; the run goes on. Fake a second "running" row whose process is long gone.
    db = sqlite3.connect(tmp_path / "registry.sqlite")
    db.execute(
        "INSERT INTO runs (id, name, stage, overrides, status, created_at, pid, pid_start, attempts)"
        " VALUES ('ghost', 'ghost', 'stage1', '{}', 'running', 0, ?, 'nope', 1)",
        (os.getpid(),),  # a live pid with a different start time: a recycled pid, not our run
    )
    db.commit()
    db.close()
    assert process_start_time(pid) is not None
    registry_entries(tmp_path)
    with TestClient(create_app(run_settings(tmp_path))) as c:
        ghost = c.get("/v1/runs/ghost").json()
        assert ghost["status"] == "failed" and "vanished" in ghost["error"]
        assert c.get(f"/v1/runs/{long['id']}").json()["status"] == "running"  # adopted, not restarted
        done = wait_status(c, long["id"], {"succeeded", "failed"})
        assert done["status"] == "succeeded" and done["attempts"] == 1
        assert wait_status(c, queued["id"], {"succeeded"})["status"] == "succeeded"


def test_events_stream_metrics_then_final_status(client):
    run = create(client, steps=3)
    with client.stream("GET", f"/v1/runs/{run['id']}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert text.count("event: metrics") == 3
    assert text.rstrip().endswith("}") and '"status":"succeeded"' in text


def test_bad_inputs_are_typed(client, tmp_path):
    def post(body: dict[str, Any], headers: dict[str, str] = OP) -> tuple[int, str]:
        body = {"dataset": "d", "base_checkpoint": "m", **body}
        r = client.post("/v1/runs", json=body, headers=headers)
        return r.status_code, r.json()["error"]["code"]

    assert post({"stage": "nope"}) == (422, "validation_error")
    assert post({"stage": "stage1", "dataset": "../../etc"}) == (422, "validation_error")
    assert post({"stage": "stage1", "dataset": "missing"}) == (404, "unknown_dataset")
    assert post({"stage": "stage1", "base_checkpoint": "missing"}) == (404, "unknown_model")
    assert post({"stage": "stage1", "overrides": {"x": "y" * 20000}}) == (422, "validation_error")
    # overrides are checked against TrainConfig before anything is queued; paths are never taken
    assert post({"stage": "stage1", "overrides": {"stepz": 3}}) == (400, "invalid_overrides")
    assert post({"stage": "stage1", "overrides": {"steps": "many"}}) == (400, "invalid_overrides")
    assert post({"stage": "stage1", "overrides": {"precision": "fp8"}}) == (400, "invalid_overrides")
    assert post({"stage": "stage1", "overrides": {"dataset": "/etc"}}) == (400, "invalid_overrides")
    assert post({"stage": "stage1", "overrides": {"init": "/tmp/x"}}) == (400, "invalid_overrides")
    assert post({"stage": "stage2", "base_checkpoint": None}) == (400, "base_checkpoint_required")
    assert post({"stage": "base", "base_checkpoint": None, "dataset": None}) == (400, "dataset_required")
    assert post({"stage": "eval", "overrides": {"steps": 3}}) == (400, "invalid_overrides")
    assert post({"stage": "eval", "overrides": {"max_steps": "3"}}) == (400, "invalid_overrides")
    assert post({"stage": "eval", "overrides": {"episodes_per_cell": 0}}) == (400, "invalid_overrides")
    assert client.get("/v1/runs").json()["runs"] == []  # nothing was queued by the bad requests
    assert post({"stage": "stage1"}, headers={}) == (403, "operator_token_required")
    assert post({"stage": "stage1"}, headers={"X-Operator-Token": "wrong"}) == (
        403,
        "operator_token_required",
    )
    assert client.get("/v1/runs/nope").json()["error"]["code"] == "unknown_run"
    assert client.post("/v1/runs/nope/cancel", headers=OP).status_code == 404
    assert client.get("/v1/runs/nope/metrics").status_code == 404


def test_api_token_guards_everything_but_healthz(tmp_path, run_settings):
    s = run_settings(tmp_path, api_token="secret")
    with TestClient(create_app(s)) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/v1/runs")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.get("/v1/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/v1/runs", headers={"Authorization": "Bearer secret"}).status_code == 200


class FakeRayClient:
    """Stands in for the Ray cluster only: the adapter under test is RayJobRunner's translation."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}
        self.stopped: list[str] = []

    def submit_job(self, *, entrypoint: str, submission_id: str, runtime_env: dict[str, Any]) -> str:
        self.submitted.append({"entrypoint": entrypoint, "id": submission_id, "env": runtime_env})
        self.status[submission_id] = "PENDING"
        return submission_id

    def get_job_status(self, job_id: str) -> str:
        return f"JobStatus.{self.status[job_id]}"

    def stop_job(self, job_id: str) -> bool:
        self.stopped.append(job_id)
        self.status[job_id] = "STOPPED"
        return True


def test_ray_adapter_boundary(tmp_path):
    fake = FakeRayClient()
    ray = RayJobRunner(fake)
    spec = RunSpec(
        "r1", [sys.executable, "-m", "pixelvla", "train", "stage1", "--x", "a b"], tmp_path, {"K": "v"}, 2
    )
    handle = ray.start(spec)
    assert handle == JobHandle(backend_job="pixelvla-r1")
    wrap = f"{sys.executable} -m pixelvla_server.runs.wrap {tmp_path} --"
    command = "torchrun --nproc-per-node=2 -m pixelvla train stage1 --x 'a b'"
    assert fake.submitted[0]["entrypoint"] == f"{wrap} {command} >> {tmp_path / 'log.txt'} 2>&1"
    assert fake.submitted[0]["env"] == {"env_vars": {"K": "v"}}
    assert ray.poll(handle, tmp_path).phase == "running"
    fake.status["pixelvla-r1"] = "FAILED"
    assert ray.poll(handle, tmp_path).exit_code == 1
    (tmp_path / "exit.json").write_text('{"exit_code": 7}')
    assert ray.poll(handle, tmp_path).exit_code == 7  # the wrapper's record wins over Ray's summary
    fake.status["pixelvla-r1"] = "WEIRD"
    assert ray.poll(handle, tmp_path).phase == "lost"
    ray.cancel(handle)
    assert fake.stopped == ["pixelvla-r1"]


def test_progress_keeps_the_last_loss_after_the_done_event(tmp_path):
    """A finished run's last line is a "done" event with no loss; progress still shows the last loss."""
    import json as _json

    from pixelvla_server.runs.metrics import last_progress

    path = tmp_path / "metrics.jsonl"
    rows = [
        {"kind": "train", "step": 9, "total_steps": 10, "loss": 0.5, "samples_per_s": 3.0},
        {"kind": "train", "step": 10, "total_steps": 10, "loss": 0.25, "samples_per_s": 4.0},
        {"kind": "event", "event": "checkpoint", "step": 10, "total_steps": 10},
        {"kind": "event", "event": "done", "step": 10, "total_steps": 10},
    ]
    path.write_text("".join(_json.dumps(r) + "\n" for r in rows))
    prog = last_progress(path)
    assert prog is not None
    assert prog["step"] == 10 and prog["total_steps"] == 10
    assert prog["loss"] == 0.25 and prog["samples_per_s"] == 4.0
    path.write_text(_json.dumps({"kind": "event", "event": "start", "step": 0, "total_steps": 5}) + "\n")
    only_event = last_progress(path)
    assert only_event is not None and only_event["step"] == 0 and "loss" not in only_event


def test_config_schema_matches_train_config_and_validates(client):
    from pixelvla.train.config import TrainConfig

    schema = client.get("/v1/runs/config-schema").json()
    props = schema["properties"]
    defaults = TrainConfig(stage="base", dataset="-", out_dir="-")
    assert props["steps"]["type"] == "integer" and props["steps"]["default"] == defaults.steps
    assert props["lr"]["type"] == "number" and props["lr"]["default"] == defaults.lr
    assert props["precision"]["enum"] == ["auto", "fp32", "bf16"]
    assert props["tensorboard"]["type"] == "boolean"
    assert not set(props) & {"stage", "dataset", "init", "out_dir"}  # paths are not the client's
    # every default is accepted as an override, and a value past a limit is refused
    everything = {k: f["default"] for k, f in props.items()}
    assert create(client, **everything)["overrides"] == everything
    r = client.post(
        "/v1/runs",
        json={"stage": "stage2", "dataset": "d", "base_checkpoint": "m", "overrides": {"pixel_mask_drop": 2}},
        headers=OP,
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_overrides"
    ev = client.get("/v1/runs/config-schema", params={"stage": "eval"}).json()["properties"]
    assert ev["episodes_per_cell"]["type"] == "integer" and "steps" not in ev
    assert client.get("/v1/runs/config-schema", params={"stage": "nope"}).status_code == 422


def test_deploy_a_finished_run_serves_its_bundle(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    command = fake_command("--step-s", "0.05", "--bundle")
    with TestClient(create_app(run_settings(tmp_path, run_command=command))) as c:
        _deploy(c)


def _deploy(client: TestClient) -> None:
    unfinished = create(client, steps=400)
    wait_status(client, unfinished["id"], {"running"})
    r = client.post(f"/v1/runs/{unfinished['id']}/deploy", headers=OP)
    assert r.status_code == 409 and r.json()["error"]["code"] == "run_has_no_bundle"
    client.post(f"/v1/runs/{unfinished['id']}/cancel", headers=OP)

    run = create(client, steps=2)
    done = wait_status(client, run["id"], {"succeeded", "failed"}, timeout=120)
    assert done["status"] == "succeeded" and done["has_bundle"] is True
    assert client.post(f"/v1/runs/{run['id']}/deploy").status_code == 403
    r = client.post(f"/v1/runs/{run['id']}/deploy", headers=OP)
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["id"] == done["model"] == f"run-{run['id']}"
    assert client.get("/v1/policy/metadata").json()["id"] == meta["id"]
    models = client.get("/v1/models").json()
    assert models["loaded"] == meta["id"] and meta["id"] in [m["id"] for m in models["models"]]
    # the registry copy outlives the run
    assert client.delete(f"/v1/runs/{run['id']}", headers=OP).status_code == 204
    assert meta["id"] in [m["id"] for m in client.get("/v1/models").json()["models"]]
    assert client.post(f"/v1/runs/{run['id']}/deploy", headers=OP).status_code == 404


# ---- stored state that is damaged or wrong --------------------------------------------------------------


def test_random_bytes_registry_is_a_typed_startup_error_naming_the_file(tmp_path, run_settings):
    from pixelvla_server.config import ConfigError
    from pixelvla_server.runs.registry import RegistryUnreadable, RunRegistry

    path = tmp_path / "registry.sqlite"
    path.write_bytes(random.Random(0).randbytes(64 * 1024))
    with pytest.raises(RegistryUnreadable, match="move it aside") as e:
        RunRegistry(path)
    assert str(path) in str(e.value) and isinstance(e.value, ConfigError)
    with pytest.raises(RegistryUnreadable):
        create_app(run_settings(tmp_path))
    # The CLI's start-up path prints it as a configuration error, no traceback.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELVLA_")}
    argv = [sys.executable, "-m", "pixelvla_server", "--port", str(port), "--device", "cpu", "--no-model"]
    r = subprocess.run(
        [*argv, "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    assert r.returncode == 2, r.stderr
    assert f"the run registry {path} cannot be opened" in r.stderr and "move it aside" in r.stderr
    assert "Traceback" not in r.stderr, r.stderr


def _registry_with_runs(path: Path, n: int) -> list[str]:
    """n queued runs, each row ~3 KiB (one per 4 KiB page) carrying a marker to find its page by."""
    from pixelvla_server.runs.registry import RunRegistry

    reg = RunRegistry(path)
    ids = [
        reg.create(
            stage="stage1",
            name=f"run {i}",
            base_checkpoint="m",
            dataset="d",
            overrides={"extra": {"pad": f"<row {i:03d}>" + "x" * 3000}},
        ).id
        for i in range(n)
    ]
    reg.close()  # the last connection checkpoints the WAL into the file
    return ids


def _damage_page_holding(path: Path, marker: bytes) -> None:
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    page = data.index(marker) // page_size
    with open(path, "r+b") as f:
        f.seek(page * page_size)
        f.write(random.Random(1).randbytes(page_size))


def test_damaged_page_degrades_the_registry_read_only(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    path = tmp_path / "registry.sqlite"
    ids = _registry_with_runs(path, 30)
    _damage_page_holding(path, b"<row 015>")  # a table page in the middle of the file
    with TestClient(create_app(run_settings(tmp_path))) as c:
        health = c.get("/healthz").json()
        assert health["status"] == "degraded", health
        assert any(str(path) in p for p in health["problems"]), health
        r = c.post("/v1/runs", json={"stage": "stage1", "dataset": "d", "base_checkpoint": "m"}, headers=OP)
        assert r.status_code == 503 and r.json()["error"]["code"] == "registry_degraded", r.text
        # Reading what can be read: every run but the one on the damaged page, newest first.
        r = c.get("/v1/runs")
        assert r.status_code == 200, r.text
        listed = [run["id"] for run in r.json()["runs"]]
        assert listed == [i for i in reversed(ids) if i != ids[15]]
        assert c.get(f"/v1/runs/{ids[3]}").json()["id"] == ids[3]
        r = c.get(f"/v1/runs/{ids[15]}")
        assert r.status_code == 503 and r.json()["error"]["code"] == "registry_degraded"
        assert c.get("/v1/runs", params={"status": "queued"}).status_code == 200
        for action in ("cancel", "resume"):
            r = c.post(f"/v1/runs/{ids[3]}/{action}", headers=OP)
            assert r.status_code == 503, r.text
        assert c.delete(f"/v1/runs/{ids[3]}", headers=OP).status_code == 503
        # The queued runs are not launched from a registry that cannot record it.
        c.app.state.studio.runs.tick()  # type: ignore[attr-defined]
        assert not any((tmp_path / "runs" / i / "train_config.json").exists() for i in ids)
        assert c.get(f"/v1/runs/{ids[3]}").json()["status"] == "queued"


def test_a_run_killed_by_a_signal_says_so(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    crash = '{python} -c "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)" {run_dir}'
    with TestClient(create_app(run_settings(tmp_path, run_command=crash))) as c:
        run = create(c, steps=1)
        failed = wait_status(c, run["id"], {"succeeded", "failed"})
    assert failed["status"] == "failed" and failed["exit_code"] == -11, failed
    assert "killed by signal 11 (SIGSEGV)" in failed["error"], failed
    exit_record = json.loads((tmp_path / "runs" / run["id"] / "exit.json").read_text())
    assert exit_record["exit_code"] == -11 and exit_record["signal"] == "SIGSEGV"
    log = (tmp_path / "runs" / run["id"] / "log.txt").read_text()
    assert "killed by signal 11 (SIGSEGV)" in log  # the log says it too, not nothing


def test_stored_request_is_checked_again_at_launch(tmp_path, run_settings, registry_entries):
    """A queued row whose overrides the server would refuse today (an older server queued it, or the
    file was edited) fails with the typed reason instead of launching."""
    registry_entries(tmp_path)
    db = sqlite3.connect(tmp_path / "registry.sqlite")
    db.executescript(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, stage TEXT NOT NULL,"
        " base_checkpoint TEXT, dataset TEXT, overrides TEXT NOT NULL, status TEXT NOT NULL,"
        " created_at REAL NOT NULL, started_at REAL, finished_at REAL, pid INTEGER, pid_start TEXT,"
        " backend_job TEXT, exit_code INTEGER, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
        " resume INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO runs (id, name, stage, base_checkpoint, dataset, overrides, status, created_at)"
        " VALUES ('old', 'old', 'stage1', 'm', 'd', '{\"stepz\": 3}', 'queued', 0);"
    )
    db.close()
    with TestClient(create_app(run_settings(tmp_path))) as c:
        failed = wait_status(c, "old", {"succeeded", "failed"})
    assert failed["status"] == "failed" and "[invalid_overrides]" in failed["error"], failed
    assert "stepz" in failed["error"]


def test_a_damaged_run_config_is_a_typed_error_in_the_run(tmp_path, run_settings, registry_entries):
    """`pixelvla run` reading a damaged config file: a typed error line in the log (exit 2), which the
    run's error field carries, not a traceback and a bare status."""
    registry_entries(tmp_path)
    bad = tmp_path / "datasets" / "d" / "config.json"
    bad.write_bytes(b"\xff\xfe not json")
    command = "{python} -m pixelvla run {stage} --run-dir {run_dir} --config {dataset}/config.json"
    with TestClient(create_app(run_settings(tmp_path, run_command=command))) as c:
        failed = wait_status(c, create(c, steps=1)["id"], {"succeeded", "failed"}, timeout=300)
    assert failed["status"] == "failed" and failed["exit_code"] == 2, failed
    assert f"error [invalid_train_config]: cannot read --config {bad}" in failed["error"], failed


def _toy_dataset(root: Path) -> None:
    """A 2-episode LeRobot dataset (48 px frames, 8-D state) for the real trainer."""
    import numpy as np
    from pixelvla.data import EpisodeRecord, LeRobotWriter

    actions = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]
    w = LeRobotWriter(
        root, cameras={"front": (48, 48)}, state_names=[f"s{i}" for i in range(8)], action_names=actions
    )
    rng = np.random.default_rng(0)
    for i in range(2):
        frames = rng.integers(0, 255, (6, 48, 48, 3), dtype=np.uint8)
        act = rng.normal(0, 0.01, (6, 7)).astype(np.float32)
        act[:, 6] = (np.arange(6) > 2).astype(np.float32)
        states = rng.normal(size=(6, 8)).astype(np.float32)
        w.write_episode(i, EpisodeRecord(frames={"front": frames}, actions=act, states=states, task="pick"))
    w.finalize()


def test_the_real_trainer_runs_the_config_the_server_built(tmp_path, run_settings, registry_entries):
    """The default run command (`pixelvla run STAGE --config RUN/train_config.json`) trains from the
    file the server wrote, and nothing else: what the server builds is what the CLI reads."""
    registry_entries(tmp_path)
    _toy_dataset(tmp_path / "datasets" / "toy")
    from pixelvla.train.config import TrainConfig
    from pixelvla_server.config import Settings

    default = next(f.default for f in dataclasses.fields(Settings) if f.name == "run_command")
    settings = run_settings(tmp_path, run_command=default)
    with TestClient(create_app(settings)) as c:
        body = {
            "stage": "base",
            "dataset": "toy",
            "overrides": {"steps": 1, "batch_size": 2, "log_every": 1, "tensorboard": False, "seed": 3},
        }
        r = c.post("/v1/runs", json=body, headers=OP)
        assert r.status_code == 201, r.text
        done = wait_status(c, r.json()["id"], {"succeeded", "failed"}, timeout=600)
    assert done["status"] == "succeeded", done
    run_dir = tmp_path / "runs" / done["id"]
    cfg = TrainConfig.load(run_dir / "train_config.json")
    assert (cfg.stage, cfg.steps, cfg.batch_size, cfg.seed, cfg.init) == ("base", 1, 2, 3, None)
    assert cfg.dataset == str(tmp_path / "datasets" / "toy") and cfg.out_dir == str(run_dir)
    assert (run_dir / "bundle" / "manifest.json").exists()
    log = (run_dir / "log.txt").read_text()
    assert "train_config.json" in log  # the command the wrapper started names the file
