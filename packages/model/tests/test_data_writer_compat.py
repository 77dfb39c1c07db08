"""What our writer writes is what lerobot writes: stats with quantiles for every feature, the
``huggingface`` schema metadata, readable file modes, optional AV1 video; and the Pixel sidecar
follows its episodes through lerobot-style renumbering (scripts/lerobot-fixtures.sh check runs the
same against real lerobot)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from pixelvla.data import EpisodeRecord, LeRobotWriter, open_dataset

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
H, W = 48, 64
ALL_FEATURES = [
    "observation.images.front",
    "observation.state",
    "action",
    "timestamp",
    "frame_index",
    "episode_index",
    "index",
    "task_index",
]
QUANTILES = ["q01", "q10", "q50", "q90", "q99"]


def frame(e: int, t: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.stack(
        [40 + 150 * x / W + 20 * e, 60 + 120 * y / H, np.full_like(x, 100 + 60 * np.sin(t / 4 + e))], -1
    )
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def episode(e: int, n: int) -> EpisodeRecord:
    t = np.arange(n, dtype=np.float32)[:, None]
    return EpisodeRecord(
        frames={"front": [frame(e, i) for i in range(n)]},
        actions=(np.sin(t / 5 + np.arange(6)) + e).astype(np.float32),
        states=(np.cos(t / 5 + np.arange(6)) - e).astype(np.float32),
        task=["pick up the red cube", "put it in the bowl"][e % 2],
        annotation={"target_object": f"cube {e}", "accepted": True},
    )


def write(root: Path, lengths: list[int], *, video: bool, skip: tuple[int, ...] = ()) -> list[EpisodeRecord]:
    w = LeRobotWriter(
        root, cameras={"front": (H, W)}, state_names=JOINTS, action_names=JOINTS, fps=30, video=video
    )
    written = []
    for e, n in enumerate(lengths):
        if e in skip:
            continue
        ep = episode(e, n)
        w.write_episode(len(written), ep)
        written.append(ep)
    w.finalize()
    return written


@pytest.mark.parametrize("video", [False, True])
def test_stats_for_every_feature_with_quantiles(tmp_path: Path, video: bool) -> None:
    write(tmp_path, [9, 12], video=video)
    stats = json.loads((tmp_path / "meta" / "stats.json").read_text())
    for key in ALL_FEATURES:
        assert set(stats[key]) >= {"min", "max", "mean", "std", "count", *QUANTILES}, key
    assert np.asarray(stats["observation.images.front"]["q50"]).shape == (3, 1, 1)
    table = pq.read_table(next((tmp_path / "meta" / "episodes").rglob("*.parquet")))
    for key in ALL_FEATURES:
        for s in ["min", "max", "mean", "std", "count", *QUANTILES]:
            assert f"stats/{key}/{s}" in table.column_names, (key, s)
    # channel-first (3, 1, 1) image stats, as lerobot's compute_episode_stats leaves them
    assert np.asarray(table.column("stats/observation.images.front/q99")[0].as_py()).shape == (3, 1, 1)


def test_data_parquet_has_the_huggingface_features(tmp_path: Path) -> None:
    write(tmp_path, [5], video=False)
    meta = pq.read_schema(tmp_path / "data" / "chunk-000" / "file-000.parquet").metadata
    features = json.loads(meta[b"huggingface"])["info"]["features"]
    assert features["observation.images.front"] == {"_type": "Image"}
    assert features["action"] == {
        "feature": {"dtype": "float32", "_type": "Value"},
        "length": 6,
        "_type": "List",
    }
    assert features["index"] == {"dtype": "int64", "_type": "Value"}


def test_files_are_readable_by_others_as_the_umask_allows(tmp_path: Path) -> None:
    write(tmp_path, [5, 6], video=True)
    mask = os.umask(0)
    os.umask(mask)
    want = 0o666 & ~mask
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".mp4" for p in files) and any(p.name == "info.json" for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == want, p


def test_video_storage_is_av1_and_decodes_close_to_the_frames(tmp_path: Path) -> None:
    written = write(tmp_path, [9, 14, 7], video=True)
    ds = open_dataset(tmp_path)
    assert ds.features["observation.images.front"]["dtype"] == "video"
    assert ds.features["observation.images.front"]["info"]["video.codec"] == "av1"
    assert "observation.images.front" not in pq.read_schema(ds.episodes[0].data_file).names
    for i, rec in enumerate(written):
        ep = ds.episode(i)
        np.testing.assert_array_equal(ep.actions, rec.actions)
        frames = list(ep.frames("front"))
        assert len(frames) == len(rec.actions)
        for got, want in zip(frames, rec.frames["front"], strict=True):
            assert np.abs(got.astype(float) - want).mean() < 4.0
        np.testing.assert_array_equal(ep.frames("front")[len(frames) - 1], frames[-1])
        path = ep.info.videos["front"].path
        with av.open(str(path)) as c:
            assert c.streams.video[0].codec_context.name in ("libdav1d", "av1", "libaom-av1")
    # the sidecar (masks live there, exact, whatever the frame codec) is untouched by video storage
    assert ds.episode(1).annotation["target_object"] == "cube 1"


def test_video_dataset_resumes_into_new_video_files(tmp_path: Path) -> None:
    w = LeRobotWriter(
        tmp_path, cameras={"front": (H, W)}, state_names=JOINTS, action_names=JOINTS, fps=30, video=True
    )
    w.write_episode(0, episode(0, 6))
    w.finalize()
    first = sorted((tmp_path / "videos").rglob("*.mp4"))
    before = [p.read_bytes() for p in first]
    w = LeRobotWriter(
        tmp_path, cameras={"front": (H, W)}, state_names=JOINTS, action_names=JOINTS, fps=30, video=True
    )
    w.write_episode(1, episode(1, 8))
    w.finalize()
    assert [p.read_bytes() for p in first] == before  # written files are never rewritten
    ds = open_dataset(tmp_path)
    assert ds.episode(1).info.videos["front"].path != ds.episode(0).info.videos["front"].path
    assert np.abs(ds.episode(1).frames("front")[3].astype(float) - frame(1, 3)).mean() < 4.0


def test_sidecar_follows_episodes_renumbered_by_an_in_place_delete(tmp_path: Path) -> None:
    """lerobot-edit-dataset delete_episodes in place moves the dataset to <root>_old and writes the
    kept episodes, renumbered, without the sidecar (what scripts/lerobot/check_writer.py sees)."""
    root = tmp_path / "ds"
    write(root, [5, 7, 6], video=False)
    shutil.move(root, tmp_path / "ds_old")
    write(root, [5, 7, 6], video=False, skip=(1,))
    (root / "meta" / "pixel_annotations.jsonl").unlink()
    ds = open_dataset(root)
    assert {i: a["target_object"] for i, a in ds.annotations.items()} == {0: "cube 0", 1: "cube 2"}
    assert ds.episode(1).annotation["episode_index"] == 1
    assert any("renumbered" in n for n in ds.notes)


def test_sidecar_record_without_its_episode_is_dropped(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write(root, [5, 7, 6], video=False)
    sidecar = (root / "meta" / "pixel_annotations.jsonl").read_text()
    shutil.rmtree(root)
    write(root, [5, 7, 6], video=False, skip=(0,))  # merged/deleted: episode 0's content is gone
    (root / "meta" / "pixel_annotations.jsonl").write_text(sidecar)  # copied over by a user
    ds = open_dataset(root)
    assert {i: a["target_object"] for i, a in ds.annotations.items()} == {0: "cube 1", 1: "cube 2"}
