"""Conformance with the LeRobotDataset v3.0 layout as LeRobot documents and reads it.

The `lerobot` package itself cannot be installed in this workspace (every release with the v3.0
format pins torch < 2.12 or needs Python >= 3.12; the workspace runs torch 2.15 on Python 3.11),
so this test checks what LeRobot's loader relies on, file by file:

- meta/info.json: codebase_version "v3.0", fps, robot_type, totals, splits, chunks_size,
  data_path / video_path templates, features with dtype/shape/names.
- meta/tasks.parquet: read by ``pandas.read_parquet``; the task string is the index ("task").
- meta/episodes/chunk-*/file-*.parquet: episode_index, tasks, length, data/chunk_index,
  data/file_index, dataset_from_index, dataset_to_index.
- data/: one column per feature; images as struct<bytes, path> (``datasets.Image``); float
  vectors as lists; indices contiguous; timestamp = frame_index / fps.
- meta/stats.json: per feature min/max/mean/std/count (+ quantiles q01..q99).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pixelvla.data import EpisodeRecord, LeRobotWriter

CAMS = {"front": (32, 32), "wrist": (32, 32)}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("v3")
    w = LeRobotWriter(
        root,
        cameras=CAMS,
        state_names=[f"s{i}" for i in range(8)],
        action_names=[f"a{i}" for i in range(7)],
        fps=10,
    )
    rng = np.random.default_rng(0)
    for i, n in enumerate([5, 3, 6]):
        w.write_episode(
            i,
            EpisodeRecord(
                frames={c: rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8) for c in CAMS},
                actions=rng.normal(size=(n, 7)).astype(np.float32),
                states=rng.normal(size=(n, 8)).astype(np.float32),
                task=["pick up the cube", "put the cube in the box"][i % 2],
            ),
        )
    w.finalize()
    return root


def test_info_json(root: Path) -> None:
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["fps"] == 10 and isinstance(info["robot_type"], str)
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 14, 2)
    assert info["splits"] == {"train": "0:3"}
    assert info["chunks_size"] == 1000
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert "video_path" in info  # None: no video features
    feats = info["features"]
    assert feats["observation.images.front"] == {
        "dtype": "image",
        "shape": [32, 32, 3],
        "names": ["height", "width", "channels"],
    }
    assert feats["observation.state"]["dtype"] == "float32" and feats["observation.state"]["shape"] == [8]
    assert feats["action"]["dtype"] == "float32" and len(feats["action"]["names"]) == 7
    for key in ("frame_index", "episode_index", "index", "task_index"):
        assert feats[key] == {"dtype": "int64", "shape": [1], "names": None}
    assert feats["timestamp"]["dtype"] == "float32"


def test_tasks_parquet_has_the_task_as_pandas_index(root: Path) -> None:
    table = pq.read_table(root / "meta/tasks.parquet")
    pandas_meta = json.loads(table.schema.metadata[b"pandas"])
    assert pandas_meta["index_columns"] == ["task"]
    assert table.column("task").to_pylist() == ["pick up the cube", "put the cube in the box"]
    assert table.column("task_index").to_pylist() == [0, 1]
    assert table.schema.field("task_index").type == pa.int64()


def test_episodes_metadata(root: Path) -> None:
    files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
    assert [f.relative_to(root).as_posix() for f in files] == ["meta/episodes/chunk-000/file-000.parquet"]
    rows = pq.read_table(files[0]).to_pylist()
    assert [r["episode_index"] for r in rows] == [0, 1, 2]
    assert [r["length"] for r in rows] == [5, 3, 6]
    assert [r["tasks"] for r in rows] == [
        ["pick up the cube"],
        ["put the cube in the box"],
        ["pick up the cube"],
    ]
    assert [(r["dataset_from_index"], r["dataset_to_index"]) for r in rows] == [(0, 5), (5, 8), (8, 14)]
    for r in rows:
        path = root / f"data/chunk-{r['data/chunk_index']:03d}/file-{r['data/file_index']:03d}.parquet"
        assert path.is_file()
        assert r["stats/action/count"] == [r["length"]]


def test_data_files_match_the_features(root: Path) -> None:
    info = json.loads((root / "meta/info.json").read_text())
    paths = sorted(root.glob("data/chunk-*/file-*.parquet"))
    assert all(
        re.fullmatch(r"data/chunk-\d{3}/file-\d{3}\.parquet", p.relative_to(root).as_posix()) for p in paths
    )
    table = pa.concat_tables(pq.read_table(p) for p in paths)
    assert set(table.column_names) == set(info["features"])
    img_type = table.schema.field("observation.images.front").type
    assert img_type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert table.schema.field("action").type == pa.list_(pa.float32(), 7)  # datasets.Sequence(length=7)
    assert table.schema.field("observation.state").type == pa.list_(pa.float32(), 8)
    assert table.column("index").to_pylist() == list(range(14))
    ep = np.array(table.column("episode_index").to_pylist())
    fi = np.array(table.column("frame_index").to_pylist())
    assert ep.tolist() == [0] * 5 + [1] * 3 + [2] * 6
    assert fi.tolist() == [*range(5), *range(3), *range(6)]
    np.testing.assert_allclose(table.column("timestamp").to_numpy(), fi / 10, atol=1e-6)
    assert table.column("task_index").to_pylist() == [0] * 5 + [1] * 3 + [0] * 6
    png = table.column("observation.images.front").combine_chunks().field("bytes")[0].as_py()
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (32, 32) and im.mode == "RGB"


def test_stats_json(root: Path) -> None:
    stats = json.loads((root / "meta/stats.json").read_text())
    for key in ("action", "observation.state"):
        s = stats[key]
        for name in ("min", "max", "mean", "std", "q01", "q10", "q50", "q90", "q99"):
            assert len(s[name]) == (7 if key == "action" else 8), (key, name)
        assert s["count"] == [14]
        assert np.all(np.asarray(s["q01"]) <= np.asarray(s["q99"]))
    img = stats["observation.images.wrist"]
    for name in ("min", "max", "mean", "std"):
        assert np.asarray(img[name]).shape == (3, 1, 1)
