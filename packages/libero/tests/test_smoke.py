"""LIBERO for real: LIBERO's own environment (installed through scripts/venv.sh when missing,
cached after), a libero_spatial task, and the tiny model answering over the policy stream of a
live GPU server. A few steps, not a benchmark run: it proves the pieces meet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pixelvla_libero import host
from pixelvla_libero.tasks import TASKS
from pixelvla_server.config import Settings
from pixelvla_server.live import serve, wait_model

# The first run on a fresh machine downloads LIBERO's wheels (~1 GB with the assets); later runs reuse
# the environment (a stamp holds the lock's hash) and take one env build plus a few steps.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def libero_python() -> Path:
    return host.libero_python()


def _episodes(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines() if line.strip()]


def test_targets_of_the_real_bddl_files(libero_python: Path) -> None:
    proc = subprocess.run(
        [str(libero_python), "-m", "pixelvla_libero.targets", *TASKS],
        env=host.harness_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {(r["suite"], r["task_id"]): r for r in map(json.loads, proc.stdout.splitlines())}
    assert all(rows["libero_spatial", i]["target"] == "akita_black_bowl_1" for i in range(10))
    assert rows["libero_goal", 0]["target"] == "wooden_cabinet_1"  # open the middle drawer
    assert rows["libero_goal", 7]["target"] == "flat_stove_1"  # turn on the stove
    assert rows["libero_10", 4]["target"] == "porcelain_mug_1"  # the white mug, not the plate listed first
    # The studio's task picker reads a static copy of the instructions (no LIBERO needed to list them).
    real = {s: tuple(r["task"] for k, r in sorted(rows.items()) if k[0] == s) for s in TASKS}
    assert real == TASKS


def test_a_few_steps_over_the_wire_and_resume(libero_python: Path, tmp_path: Path) -> None:
    from pixelvla.checkpoint import make_random_tiny_bundle

    make_random_tiny_bundle(tmp_path / "models" / "tiny", seed=0)
    out = tmp_path / "eval"
    settings = Settings(
        device="cpu", data_dir=tmp_path / "data", models_dir=tmp_path / "models", model="tiny"
    )
    args = dict(
        tasks=["0"], init_states=["0", "1"], extra=["--max-steps", "4", "--prompt-type", "mask", "--quiet"]
    )
    with serve(settings) as server:
        wait_model(server.app)
        result = host.run_harness(libero_python, host.harness_args(server.url, "libero_spatial", out, **args))
        rec, second = _episodes(out)
        # Two episodes on one env: the second comes after a hard reset, which once left the renderer
        # drawing noise (the old render context freed GL objects of the new one) and the mask empty.
        assert second["init_state"] == 1 and isinstance(second["mask_area_px"], int)
        assert second["mask_area_px"] > 20
        assert rec["suite"] == "libero_spatial" and rec["task_id"] == 0 and rec["init_state"] == 0
        assert rec["steps"] == 4 and rec["success"] is False and rec["error"] is None
        assert rec["policy_calls"] == 1  # one 8-action chunk covers 4 steps
        assert rec["target"] == "akita_black_bowl_1" and rec["prompt_type"] == "mask"
        assert isinstance(rec["mask_area_px"], int) and rec["mask_area_px"] > 20  # the bowl is in view
        assert result["overall"] == {"n": 2, "successes": 0, "success": 0.0}
        summary = json.loads((out / "results.json").read_text())
        assert summary["suites"]["libero_spatial"]["tasks"]["0"]["n"] == 2
        assert "| PixelVLA `tiny-random-0` (measured) | 0.0 (2 ep.) |" in (out / "results.md").read_text()

        # A rerun skips the finished episode (no environment is built) ...
        host.run_harness(libero_python, host.harness_args(server.url, "libero_spatial", out, **args))
        assert len(_episodes(out)) == 2
        # ... and refuses to mix another configuration into the same results.
        other = {**args, "extra": ["--max-steps", "5", "--quiet"]}
        with pytest.raises(Exception, match="harness failed"):
            host.run_harness(libero_python, host.harness_args(server.url, "libero_spatial", out, **other))


def test_the_expert_demonstrates_a_spatial_task_into_a_dataset(libero_python: Path, tmp_path: Path) -> None:
    """LIBERO side: the scripted expert solves libero_spatial task 0 from official state 0 and writes
    an npz; project side: the converter makes a dataset whose sidecar marks the bowl."""
    from pixelvla import rle as project_rle
    from pixelvla.data import open_dataset
    from pixelvla_libero import convert

    src = tmp_path / "npz"
    cmd = [str(libero_python), "-m", "pixelvla_libero.generate", "--suite", "libero_spatial"]
    cmd += ["--tasks", "0", "--init-states", "0", "--out", str(src)]
    proc = subprocess.run(cmd, env=host.harness_env(), capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.splitlines()[-1]) == {"attempted": 1, "succeeded": 1}
    (attempt,) = [json.loads(x) for x in (src / "attempts.jsonl").read_text().splitlines()]
    assert attempt["success"] and attempt["steps"] < 220  # within the protocol's limit
    assert convert.convert(src, tmp_path / "ds") == 1
    ep = open_dataset(tmp_path / "ds").episode(0)
    assert ep.task.startswith("pick up the black bowl between the plate and the ramekin")
    assert ep.actions.shape == (attempt["steps"], 7) and ep.state.shape == (attempt["steps"], 8)
    assert set(np.unique(ep.actions[:, 6])) == {-1.0, 1.0}  # it opened and closed the gripper
    ann = ep.annotation
    assert ann is not None and ann["accepted"] and ann["target_object"] == "akita_black_bowl_1"
    assert project_rle.area(ann["mask_rle"]) > 20
    assert {p["type"] for p in ann["prompts"]} == {"point", "line", "box", "mask"}
