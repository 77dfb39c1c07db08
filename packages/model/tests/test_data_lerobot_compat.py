"""pixelvla.data reads what real lerobot 0.6.1 writes (fixtures from scripts/lerobot-fixtures.sh).

Each fixture under testdata/lerobot/ was written or edited by lerobot itself; ``<name>.expected.json``
holds what lerobot's own LeRobotDataset decodes it to. lerobot is not needed here.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pixelvla.data import DatasetError, open_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "testdata" / "lerobot"
NAMES = [
    "so101_image",
    "so101_video",
    "so101_video_h264",
    "so101_video_deleted",
    "merged_video",
    "image_to_video",
]


def expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text())


def png(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


@pytest.mark.parametrize("name", NAMES)
def test_fixture_decodes_to_what_lerobot_decodes(name: str) -> None:
    exp = expected(name)
    ds = open_dataset(FIXTURES / name)
    assert ds.num_episodes == exp["num_episodes"]
    assert ds.num_frames == exp["num_frames"]
    assert ds.fps == exp["fps"]
    assert sorted(ds.cameras) == exp["cameras"]
    assert ds.action_dim == 6 and ds.state_dim == 6  # SO-101 joints
    lo, hi = ds.action_bounds()
    np.testing.assert_allclose(lo, exp["action_q01"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hi, exp["action_q99"], rtol=1e-6, atol=1e-6)
    for e in exp["episodes"]:
        ep = ds.episode(e["index"])
        assert (ep.length, ep.task) == (e["length"], e["task"])
        np.testing.assert_array_equal(ep.actions, np.asarray(e["actions"], np.float32))
        np.testing.assert_array_equal(ep.state, np.asarray(e["states"], np.float32))
        for f in e["frames"]:
            img = ep.frames(f["camera"])[f["frame"]]
            src = png(f["source_png"])
            assert img.shape == src.shape and img.dtype == np.uint8
            if exp["video"]:
                assert np.abs(img.astype(float) - src).mean() < 4.0, (name, e["index"], f["frame"])
                # the same frame lerobot decoded, not a neighbour (neighbours differ by far more)
                np.testing.assert_allclose(img.reshape(-1, 3).mean(axis=0), f["lerobot_mean"], atol=0.5)
            else:
                np.testing.assert_array_equal(img, src)


@pytest.mark.parametrize("name", ["so101_video", "merged_video", "so101_video_h264"])
def test_video_sequential_and_random_access_agree(name: str) -> None:
    ds = open_dataset(FIXTURES / name)
    for ep in ds:
        frames = ep.frames("front")
        seq = list(frames)
        assert len(seq) == ep.length
        for t in (ep.length - 1, 0, ep.length // 2):
            np.testing.assert_array_equal(frames[t], seq[t])
        # each frame is its own (the synthetic frames differ frame to frame)
        assert all(np.abs(seq[t].astype(int) - seq[t + 1]).mean() > 0.2 for t in range(len(seq) - 1))


def test_tasks_from_task_index_when_the_episodes_have_no_tasks_column() -> None:
    path = next((FIXTURES / "image_to_video" / "meta" / "episodes").rglob("*.parquet"))
    assert "tasks" not in pq.read_schema(path).names  # what convert_image_to_video writes
    ds = open_dataset(FIXTURES / "image_to_video")
    assert [e.task for e in ds.episodes] == [e["task"] for e in expected("image_to_video")["episodes"]]


def test_several_episodes_in_one_row_group() -> None:
    ds = open_dataset(FIXTURES / "so101_video_deleted")
    data = pq.ParquetFile(ds.episodes[0].data_file)
    assert data.num_row_groups == 1 and data.metadata.num_rows == ds.num_frames
    assert [ds.episode(i).length for i in range(ds.num_episodes)] == [12, 20]


def copy(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def test_episode_that_does_not_exist(tmp_path: Path) -> None:
    ds = open_dataset(FIXTURES / "so101_video")
    with pytest.raises(DatasetError, match=r"episode 7 out of range: not in .*meta/episodes") as err:
        ds.episode(7)
    assert err.value.code == "episode_not_found"


def test_missing_video_file_names_it(tmp_path: Path) -> None:
    root = copy(tmp_path, "so101_video_h264")
    mp4 = root / "videos" / "observation.images.front" / "chunk-000" / "file-001.mp4"
    mp4.unlink()
    ds = open_dataset(root)
    np.asarray(ds.episode(0).frames("front")[0])  # other files still decode
    with pytest.raises(DatasetError, match=r"missing video file .*file-001.mp4"):
        ds.episode(1).frames("front")[0]
    with pytest.raises(DatasetError, match=r"file-001.mp4"):
        list(ds.episode(1).frames("front"))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_mp4_names_it(tmp_path: Path, damage: str) -> None:
    root = copy(tmp_path, "so101_video")
    mp4 = root / "videos" / "observation.images.front" / "chunk-000" / "file-000.mp4"
    data = mp4.read_bytes()
    mp4.write_bytes(b"\x00garbage" * 64 if damage == "garbage" else data[: len(data) // 3])
    ep = open_dataset(root).episode(2)
    with pytest.raises(DatasetError, match=r"file-000.mp4"):
        list(ep.frames("front"))


def test_unknown_feature_dtype_names_info_json(tmp_path: Path) -> None:
    root = copy(tmp_path, "so101_image")
    info = json.loads((root / "meta" / "info.json").read_text())
    info["features"]["observation.pointcloud"] = {"dtype": "pointcloud", "shape": [1024, 3], "names": None}
    (root / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(
        DatasetError, match=r"info\.json: feature 'observation.pointcloud' has dtype 'pointcloud'"
    ) as err:
        open_dataset(root)
    assert err.value.code == "unsupported_feature"


def test_metadata_pointing_past_the_video_is_an_error(tmp_path: Path) -> None:
    root = copy(tmp_path, "so101_video")
    path = next((root / "meta" / "episodes").rglob("*.parquet"))
    table = pq.read_table(path)
    col = "videos/observation.images.front/from_timestamp"
    values = table.column(col).to_pylist()
    values[2] += 5.0  # five seconds past the end of a 1.6 s video
    import pyarrow as pa

    table = table.set_column(table.schema.get_field_index(col), col, pa.array(values, pa.float64()))
    pq.write_table(table, path)
    with pytest.raises(DatasetError, match=r"file-000.mp4"):
        open_dataset(root).episode(2).frames("front")[0]


def test_stats_without_quantiles_are_computed_with_a_note(tmp_path: Path) -> None:
    root = copy(tmp_path, "so101_video")
    stats_path = root / "meta" / "stats.json"
    stats = json.loads(stats_path.read_text())
    for feat in stats.values():
        for q in ("q01", "q10", "q50", "q90", "q99"):
            feat.pop(q, None)
    stats_path.write_text(json.dumps(stats))
    ds = open_dataset(root)
    lo, hi = ds.action_bounds()
    actions = np.concatenate([ds.episode(i).actions for i in range(ds.num_episodes)])
    np.testing.assert_allclose(lo, np.quantile(actions, 0.01, axis=0), rtol=1e-5)
    np.testing.assert_allclose(hi, np.quantile(actions, 0.99, axis=0), rtol=1e-5)
    assert ds.state_bounds()[0].shape == (6,)
    assert any("quantiles" in n for n in ds.notes)


def test_missing_stats_file_is_computed(tmp_path: Path) -> None:
    root = copy(tmp_path, "so101_image")
    (root / "meta" / "stats.json").unlink()
    ds = open_dataset(root)
    assert ds.action_bounds()[0].shape == (6,)
    assert any("missing" in n for n in ds.notes)


def test_gripper_dims_come_from_the_action_names(tmp_path: Path) -> None:
    assert open_dataset(FIXTURES / "so101_video").gripper_dims() == (5,)  # SO-101: 6 joints, gripper last
    root = copy(tmp_path, "so101_image")
    info = json.loads((root / "meta" / "info.json").read_text())
    info["features"]["action"]["names"] = ["gripper", "a", "b", "c", "d", "e"]
    (root / "meta" / "info.json").write_text(json.dumps(info))
    assert open_dataset(root).gripper_dims() == (0,)
    info["features"]["action"]["names"] = None
    (root / "meta" / "info.json").write_text(json.dumps(info))
    assert open_dataset(root).gripper_dims() == (5,)
