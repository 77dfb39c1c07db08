"""`pixelvla-sim gen`: a real dataset, resumable, and safe to kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pixelvla import rle
from pixelvla.data import open_dataset
from pixelvla.prompts import prompts_from_json
from pixelvla_sim.cli import main
from pixelvla_sim.generate import GenConfig, generate

ARGS = ["--image-size", "64", "--cameras", "front", "--workers", "1", "--seed", "3"]


def test_gen_writes_an_annotated_dataset_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    assert (
        main(["gen", "--episodes", "3", "--out", str(out), "--tasks", "pick", "place_ambiguous", *ARGS]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes_total"] == 3 and summary["episodes_generated"] == 3
    assert 0.0 <= summary["annotation_reject_rate"] <= 1.0

    ds = open_dataset(out)
    assert ds.num_episodes == 3 and ds.cameras == ["front"]
    for i in range(3):
        ep = ds.episode(i)
        ann = ep.annotation
        assert ann is not None
        assert ann["source"]["task_name"] == ("pick", "place_ambiguous")[i % 2]
        assert ep.task.startswith("pick up" if i % 2 == 0 else "put the")
        assert ep.actions.shape == (ep.length, 7) and ep.state.shape == (ep.length, 8)
        assert ep.frames("front")[0].shape == (64, 64, 3)
        if ann["accepted"]:
            assert ann["target_object"] == ann["source"]["expert_target"]
            assert rle.decode(ann["mask_rle"]).shape == (64, 64)
            prompts_from_json(ann["prompts"])
        # The state's gripper command follows the recorded actions one step later.
        np.testing.assert_allclose(ep.state[1:, 6], ep.actions[:-1, 6])
    lo, hi = ds.action_bounds()
    assert lo.shape == hi.shape == (7,) and np.all(lo <= hi)

    # Rerun: nothing to do. Extend: only the new episode is generated.
    assert (
        main(["gen", "--episodes", "3", "--out", str(out), "--tasks", "pick", "place_ambiguous", *ARGS]) == 0
    )
    assert json.loads(capsys.readouterr().out)["episodes_generated"] == 0
    assert (
        main(["gen", "--episodes", "4", "--out", str(out), "--tasks", "pick", "place_ambiguous", *ARGS]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes_generated"] == 1 and summary["episodes_skipped_existing"] == 3
    assert open_dataset(out).num_episodes == 4


def test_gen_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gen", "--episodes", "1", "--out", str(tmp_path / "x"), "--tasks", "juggle"]) == 2
    assert "unknown task 'juggle'" in capsys.readouterr().err
    assert main(["gen", "--episodes", "1", "--out", str(tmp_path / "x"), "--seed", "-4"]) == 2
    assert "seed" in capsys.readouterr().err
    assert main(["gen", "--episodes", "1", "--out", str(tmp_path / "x"), "--camera-jitter", "0.3"]) == 2
    assert "camera_jitter must be in [0, 0.1]" in capsys.readouterr().err


def test_gen_with_camera_jitter_records_each_episodes_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "jit"
    argv = ["gen", "--episodes", "2", "--out", str(out), "--tasks", "pick", "--camera-jitter", "0.05", *ARGS]
    assert main(argv) == 0
    capsys.readouterr()
    ds = open_dataset(out)
    cams = [ds.episode(i).annotation["source"]["camera_models"]["front"] for i in range(2)]  # type: ignore[index]
    assert all(ds.episode(i).annotation["source"]["camera_jitter"] == 0.05 for i in range(2))  # type: ignore[index]
    # Each scene's own camera: the recorded poses differ.
    assert not np.allclose(cams[0]["world_to_camera"], cams[1]["world_to_camera"])


def test_killed_run_resumes_to_the_same_dataset(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pixelvla_sim.cli", "gen", "--episodes", "5", "--out", str(killed), *ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    staging = killed / ".staging"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not list(staging.glob("episode-000001")):
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (killed / "meta/info.json").exists(), "killed before finalize: no dataset yet"

    # Resume in-process, and generate a reference dataset without interruption.
    cfg = dict(episodes=5, seed=3, image_size=64, cameras=("front",))
    resumed = generate(GenConfig(out=killed, **cfg))  # type: ignore[arg-type]
    assert resumed["episodes_skipped_existing"] >= 2
    generate(GenConfig(out=tmp_path / "reference", **cfg))  # type: ignore[arg-type]

    a, b = open_dataset(killed), open_dataset(tmp_path / "reference")
    assert a.num_episodes == b.num_episodes == 5
    for i in range(5):
        ea, eb = a.episode(i), b.episode(i)
        np.testing.assert_array_equal(ea.actions, eb.actions)
        np.testing.assert_array_equal(ea.frames("front")[0], eb.frames("front")[0])
        assert ea.annotation == eb.annotation
    assert list(staging.iterdir()) == []  # packed episodes and half-written leftovers are gone


def test_gen_video_stores_av1_and_keeps_masks_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png, mp4 = tmp_path / "png", tmp_path / "mp4"
    for out, extra in ((png, []), (mp4, ["--video"])):
        assert main(["gen", "--episodes", "1", "--out", str(out), "--tasks", "pick", *ARGS, *extra]) == 0
    capsys.readouterr()
    a, b = open_dataset(png), open_dataset(mp4)
    assert b.features["observation.images.front"]["dtype"] == "video"
    assert list((mp4 / "videos" / "observation.images.front").rglob("*.mp4"))
    ea, eb = a.episode(0), b.episode(0)
    np.testing.assert_array_equal(ea.actions, eb.actions)
    assert ea.annotation["mask_rle"] == eb.annotation["mask_rle"]  # the sidecar, not the codec
    for t in (0, ea.length - 1):
        assert np.abs(ea.frames("front")[t].astype(float) - eb.frames("front")[t]).mean() < 4.0
