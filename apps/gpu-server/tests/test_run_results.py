"""What the Runs page reads: an eval run's results as data (GET /v1/runs/{id}/eval), the eval
form's task / prompt-type choices and their validation, and logs with progress-bar redraws
collapsed."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pixelvla.evaluation import EpisodeResult, EvalConfig, EvalReport, write_report
from pixelvla_server.app import create_app
from pixelvla_server.runs.metrics import tail_log

OP = {"X-Operator-Token": "op"}


@pytest.fixture()
def client(tmp_path, run_settings, registry_entries):
    registry_entries(tmp_path)
    with TestClient(create_app(run_settings(tmp_path))) as c:
        yield c


def finished(c: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/v1/runs", json=body, headers=OP)
    assert r.status_code == 201, r.text
    run = r.json()
    deadline = time.monotonic() + 30
    while run["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
        run = c.get(f"/v1/runs/{run['id']}").json()
    return run


def test_eval_results_are_served_typed(client, tmp_path):
    run = finished(
        client,
        {"stage": "eval", "base_checkpoint": "m", "overrides": {"tasks": ["pick_ambiguous", "pick"]}},
    )
    url = f"/v1/runs/{run['id']}/eval"
    r = client.get(url)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_eval_result"

    # What `pixelvla run eval` writes, through the evaluation module's own writer.
    cfg = EvalConfig(tasks=("pick_ambiguous", "pick"), prompt_types=("none", "box"), episodes_per_cell=2)
    eps = [
        EpisodeResult(
            task=t,
            prompt_type=p,
            seed=1_000_000 + k,
            ambiguous=t.endswith("ambiguous"),
            success=(p == "box" and k == 0),
            steps=10,
        )
        for t in cfg.tasks
        for p in cfg.prompt_types
        for k in range(2)
    ]
    write_report(EvalReport(config=asdict(cfg), episodes=eps), tmp_path / "runs" / run["id"])
    body = client.get(url).json()
    assert body["tasks"] == ["pick_ambiguous", "pick"]  # the run's order, not alphabetical
    assert body["prompt_types"] == ["none", "box"]
    assert body["summary"]["cell"]["pick/box"] == {"success": 0.5, "n": 2}
    assert body["summary"]["overall"] == {"success": 0.25, "n": 8}
    assert isinstance(body["summary"]["overall"]["n"], int)
    assert len(body["episodes"]) == 8

    (tmp_path / "runs" / run["id"] / "eval.json").write_text('{"summary": {"overall": "x"}}')
    r = client.get(url)
    assert r.status_code == 500 and r.json()["error"]["code"] == "eval_unreadable"
    assert client.get("/v1/runs/nope/eval").json()["error"]["code"] == "unknown_run"


def test_eval_schema_offers_tasks_and_prompt_types(client):
    schema = client.get("/v1/runs/config-schema", params={"stage": "eval"}).json()
    tasks = schema["choices"]["tasks"]
    assert {"pick", "pick_ambiguous"} <= set(tasks["options"])
    assert set(tasks["default"]) <= set(tasks["options"])
    assert "none" in schema["choices"]["prompt_types"]["options"]
    assert client.get("/v1/runs/config-schema", params={"stage": "stage2"}).json()["choices"] == {}


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"tasks": ["pick", "fly"]}, "fly"),
        ({"tasks": []}, "empty"),
        ({"prompt_types": ["scribble"]}, "scribble"),
        ({"tasks": "pick"}, "list"),
    ],
)
def test_eval_lists_are_checked_before_queueing(client, overrides, says):
    r = client.post(
        "/v1/runs", json={"stage": "eval", "base_checkpoint": "m", "overrides": overrides}, headers=OP
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_overrides"
    assert says in r.json()["error"]["message"]
    assert client.get("/v1/runs").json()["runs"] == []


def test_log_lines_collapse_progress_bar_redraws(tmp_path):
    log = tmp_path / "log.txt"
    bar = "".join(f"\r eval {i}/50" for i in range(51))
    log.write_text(f"start\n{bar}\r\nwindows line\r\n\n\r eval 1/9\r eval 2/9")
    assert tail_log(log, 100) == ["start", " eval 50/50", "windows line", "", " eval 2/9"]
    assert tail_log(log, 2) == ["", " eval 2/9"]
