"""A corrupt dataset file is a DatasetError that names the file; nothing written is lost."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pixelvla.data import DatasetError, EpisodeRecord, LeRobotWriter, open_dataset

CAMS = {"front": (16, 16)}


def _writer(root: Path) -> LeRobotWriter:
    return LeRobotWriter(root, cameras=CAMS, state_names=list("abcdefgh"), action_names=list("abcdefg"))


def _episode(seed: int) -> EpisodeRecord:
    rng = np.random.default_rng(seed)
    return EpisodeRecord(
        frames={"front": rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)},
        actions=rng.normal(size=(4, 7)).astype(np.float32),
        states=rng.normal(size=(4, 8)).astype(np.float32),
        task="pick up the cube",
        annotation={"target_object": "obj0", "mask_rle": None, "prompts": [], "decisions": []},
    )


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    w = _writer(tmp_path)
    for i in range(2):
        w.write_episode(i, _episode(i))
    w.finalize()
    return tmp_path


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "relpath",
    ["meta/info.json", "meta/tasks.parquet", "meta/episodes/chunk-000/file-000.parquet"],
)
def test_corrupt_metadata_names_the_file(dataset: Path, relpath: str) -> None:
    _truncate(dataset / relpath)
    with pytest.raises(DatasetError) as info:
        open_dataset(dataset)
    assert relpath in str(info.value)


def test_corrupt_data_file_names_the_file(dataset: Path) -> None:
    ds = open_dataset(dataset)  # metadata is fine; the damage shows when frames are read
    _truncate(dataset / "data/chunk-000/file-000.parquet")
    with pytest.raises(DatasetError, match=re.escape("data/chunk-000/file-000.parquet")):
        ds.episode(0)


def test_corrupt_sidecar_line_names_file_and_line(dataset: Path) -> None:
    path = dataset / "meta/pixel_annotations.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n{not json\n")
    ds = open_dataset(dataset)
    with pytest.raises(DatasetError, match=r"pixel_annotations.jsonl, line 2"):
        _ = ds.annotations


def test_corrupt_stats_names_the_file(dataset: Path) -> None:
    (dataset / "meta/stats.json").write_text("{")
    with pytest.raises(DatasetError, match=re.escape("meta/stats.json")):
        open_dataset(dataset).action_bounds()


def test_corrupt_frame_bytes_name_the_file(dataset: Path) -> None:
    path = dataset / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    col = table.column("observation.images.front").combine_chunks()
    blobs = col.field("bytes").to_pylist()
    blobs[0] = b"\x89PNG garbage"
    bad = pa.StructArray.from_arrays([pa.array(blobs, pa.binary()), col.field("path")], fields=list(col.type))
    table = table.set_column(
        table.schema.get_field_index("observation.images.front"), "observation.images.front", bad
    )
    pq.write_table(table, path, row_group_size=4)
    frames = open_dataset(dataset).episode(0).frames("front")
    with pytest.raises(DatasetError, match=r"corrupt frame 0 of camera front in .*file-000\.parquet"):
        frames[0]


def test_wrong_version_is_refused(dataset: Path) -> None:
    info = dataset / "meta/info.json"
    info.write_text(info.read_text().replace('"v3.0"', '"v2.1"'))
    with pytest.raises(DatasetError, match="codebase_version"):
        open_dataset(dataset)


def test_finalize_over_corrupt_metadata_keeps_staged_episodes(dataset: Path) -> None:
    w = _writer(dataset)
    w.write_episode(2, _episode(2))
    _truncate(dataset / "meta/episodes/chunk-000/file-000.parquet")
    with pytest.raises(DatasetError, match=re.escape("meta/episodes/chunk-000/file-000.parquet")):
        w.finalize()
    assert w.staged_indices() == [2]  # the finished episode is still there
    assert (dataset / "data/chunk-000/file-000.parquet").stat().st_size > 0


def test_a_corrupt_staged_episode_stops_packing_cleanly(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.write_episode(0, _episode(0))
    w.write_episode(1, _episode(1))
    _truncate(tmp_path / ".staging/episode-000001/data.parquet")
    with pytest.raises(DatasetError, match=re.escape("episode-000001")):
        w.finalize()
    # No half-packed data file, no metadata claiming anything, both staged episodes kept.
    assert list(tmp_path.glob("data/**/*.parquet")) == []
    assert list(tmp_path.glob("data/**/.*")) == []
    assert not (tmp_path / "meta/info.json").exists()
    assert w.staged_indices() == [0, 1]
