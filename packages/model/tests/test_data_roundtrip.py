"""LeRobot v3 writer/reader round trip, resumable staging, and statistics."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from pixelvla import rle
from pixelvla.data import DatasetError, EpisodeRecord, LeRobotWriter, open_dataset

CAMS = {"front": (24, 32), "wrist": (16, 16)}
STATE_NAMES = [f"s{i}" for i in range(8)]
ACTION_NAMES = [f"a{i}" for i in range(7)]


def make_writer(root: Path, **kw: object) -> LeRobotWriter:
    return LeRobotWriter(root, cameras=CAMS, state_names=STATE_NAMES, action_names=ACTION_NAMES, fps=10, **kw)  # type: ignore[arg-type]


def make_episode(seed: int, length: int | None = None, task: str | None = None) -> EpisodeRecord:
    rng = np.random.default_rng(seed)
    n = length or int(rng.integers(3, 9))
    mask = np.zeros((24, 32), dtype=bool)
    mask[5 : 10 + seed % 5, 3:12] = True
    return EpisodeRecord(
        frames={c: rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8) for c, (h, w) in CAMS.items()},
        actions=rng.normal(size=(n, 7)).astype(np.float32),
        states=rng.normal(size=(n, 8)).astype(np.float32),
        task=task or f"task {seed % 3}",
        annotation={
            "accepted": True,
            "target_object": f"obj{seed}",
            "mask_rle": dict(rle.encode(mask)),
            "prompts": [{"type": "point", "x": 0.2, "y": 0.3, "positive": True}],
            "decisions": [{"step": "first_close", "frame": 1}],
        },
        source={"seed": seed},
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_is_exact(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    episodes = [make_episode(i) for i in range(5)]
    for i, src in enumerate(episodes):
        w.write_episode(i, src)
    assert w.finalize() == 5

    ds = open_dataset(tmp_path)
    assert ds.num_episodes == 5 and ds.fps == 10 and ds.cameras == ["front", "wrist"]
    assert ds.num_frames == sum(len(e.actions) for e in episodes)
    assert ds.tasks == ["task 0", "task 1", "task 2"]
    for i, src in enumerate(episodes):
        ep = ds.episode(i)
        assert ep.task == src.task and ep.length == len(src.actions)
        np.testing.assert_array_equal(ep.actions, src.actions)
        np.testing.assert_array_equal(ep.state, src.states)
        np.testing.assert_allclose(ep.timestamps, np.arange(ep.length) / 10, atol=1e-6)
        for cam in CAMS:
            frames = ep.frames(cam)
            assert len(frames) == ep.length
            for t in range(ep.length):
                np.testing.assert_array_equal(frames[t], src.frames[cam][t])  # PNG is lossless
        ann = ep.annotation
        assert ann is not None and ann["target_object"] == f"obj{i}"
        assert ann["episode_index"] == i and ann["source"] == {"seed": i}
        assert ann["mask_rle"] == src.annotation["mask_rle"]  # type: ignore[index]


def test_stats_hold_quantiles_of_all_actions(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    episodes = [make_episode(i, length=20) for i in range(4)]
    for i, ep in enumerate(episodes):
        w.write_episode(i, ep)
    w.finalize()
    ds = open_dataset(tmp_path)
    actions = np.concatenate([e.actions for e in episodes]).astype(np.float64)
    lo, hi = ds.action_bounds()
    np.testing.assert_allclose(lo, np.quantile(actions, 0.01, axis=0), rtol=1e-5)
    np.testing.assert_allclose(hi, np.quantile(actions, 0.99, axis=0), rtol=1e-5)
    a = ds.stats["action"]
    assert set(a) >= {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
    assert a["count"] == [80]
    np.testing.assert_allclose(a["mean"], actions.mean(axis=0), rtol=1e-5, atol=1e-6)
    img = ds.stats["observation.images.front"]
    assert np.asarray(img["mean"]).shape == (3, 1, 1)
    assert 0.3 < float(np.mean(img["mean"])) < 0.7  # uniform random pixels in [0, 1]


def test_resume_appends_without_touching_written_files(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    for i in range(3):
        w.write_episode(i, make_episode(i))
    w.finalize()
    first = tmp_path / "data/chunk-000/file-000.parquet"
    digest = _sha(first)

    # A new writer (a new process) sees what exists and continues after it.
    w2 = make_writer(tmp_path)
    assert w2.has_episode(2) and not w2.has_episode(3)
    with pytest.raises(DatasetError, match="already written"):
        w2.write_episode(1, make_episode(1))
    # Staged out of order (parallel workers): episode 5 waits until 4 exists.
    w2.write_episode(5, make_episode(5))
    w2.write_episode(3, make_episode(3))
    assert w2.finalize() == 4
    assert open_dataset(tmp_path).num_episodes == 4
    assert w2.has_episode(5)  # still staged, not lost
    w2.write_episode(4, make_episode(4))
    assert w2.finalize() == 6

    assert _sha(first) == digest  # earlier data files are never rewritten
    ds = open_dataset(tmp_path)
    assert ds.num_episodes == 6
    files = sorted(p.name for p in (tmp_path / "data/chunk-000").iterdir())
    assert files == ["file-000.parquet", "file-001.parquet", "file-002.parquet"]
    for i in range(6):
        np.testing.assert_array_equal(ds.episode(i).actions, make_episode(i).actions)
    assert [
        json.loads(line)["episode_index"] for line in (tmp_path / "meta/pixel_annotations.jsonl").open()
    ] == list(range(6))
    assert w2.finalize() == 6  # idempotent


def test_a_crash_inside_staging_leaves_no_episode(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    w.write_episode(0, make_episode(0))
    # What a process killed mid-write leaves behind: a temporary folder, never an episode folder.
    junk = tmp_path / ".staging" / ".tmp-000001-dead"
    junk.mkdir()
    (junk / "data.parquet").write_bytes(b"PAR1 half a file")
    assert not w.has_episode(1)
    assert w.finalize() == 1
    assert open_dataset(tmp_path).num_episodes == 1
    assert not junk.exists()


def test_data_files_roll_over_at_the_size_limit(tmp_path: Path) -> None:
    w = make_writer(tmp_path, data_files_size_in_mb=0)  # every episode fills a file
    for i in range(3):
        w.write_episode(i, make_episode(i))
    w.finalize()
    assert len(list((tmp_path / "data/chunk-000").glob("file-*.parquet"))) == 3
    ds = open_dataset(tmp_path)
    np.testing.assert_array_equal(ds.episode(2).frames("wrist")[0], make_episode(2).frames["wrist"][0])


def test_bad_episodes_are_refused(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    ep = make_episode(0, length=4)
    bad_actions = EpisodeRecord(ep.frames, ep.actions[:, :6], ep.states, ep.task)
    bad_nan = EpisodeRecord(ep.frames, np.full_like(ep.actions, np.nan), ep.states, ep.task)
    bad_frames = EpisodeRecord({"front": ep.frames["front"]}, ep.actions, ep.states, ep.task)
    short = EpisodeRecord({**ep.frames, "front": ep.frames["front"][:2]}, ep.actions, ep.states, ep.task)
    wrong_dtype = EpisodeRecord(
        {**ep.frames, "wrist": np.asarray(ep.frames["wrist"]).astype(np.float32)},
        ep.actions,
        ep.states,
        ep.task,
    )
    no_task = EpisodeRecord(ep.frames, ep.actions, ep.states, "  ")
    for bad in (bad_actions, bad_nan, bad_frames, short, wrong_dtype, no_task):
        with pytest.raises(DatasetError):
            w.write_episode(0, bad)
    assert w.staged_indices() == []


def test_schema_mismatch_on_resume_changes_nothing(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    w.write_episode(0, make_episode(0))
    w.finalize()
    before = {p: _sha(p) for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(DatasetError) as info:
        LeRobotWriter(
            tmp_path, cameras={"front": (64, 64)}, state_names=STATE_NAMES, action_names=ACTION_NAMES
        )
    assert info.value.code == "dataset_schema_mismatch"
    assert {p: _sha(p) for p in tmp_path.rglob("*") if p.is_file()} == before


def test_reader_refuses_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no dataset"):
        open_dataset(tmp_path / "missing")
    w = make_writer(tmp_path)
    w.write_episode(0, make_episode(0, length=3))
    w.finalize()
    ds = open_dataset(tmp_path)
    with pytest.raises(DatasetError, match="out of range"):
        ds.episode(1)
    with pytest.raises(DatasetError):
        ds.episode("0")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="unknown camera"):
        ds.episode(0).frames("top")
    with pytest.raises(DatasetError, match="out of range"):
        ds.episode(0).frame("front", 3)
