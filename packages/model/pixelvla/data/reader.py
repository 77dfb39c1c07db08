"""Read LeRobotDataset v3.0 datasets (as written by :mod:`pixelvla.data.writer`) from local disk.

Metadata is read eagerly and validated; numeric columns of an episode are read when the episode
is opened; camera frames are decoded lazily, one frame at a time. Any unreadable or inconsistent
file raises :class:`DatasetError` naming that file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from pixelvla.data import format as fmt
from pixelvla.data.format import DatasetError

_REQUIRED_EPISODE_COLUMNS = (
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
)


def _read_parquet(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None)
    except FileNotFoundError as exc:
        raise DatasetError(f"missing dataset file {path}", code="dataset_not_found") from exc
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc


def load_episode_rows(root: Path) -> list[dict[str, Any]]:
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    rows: list[dict[str, Any]] = []
    for path in files:
        table = _read_parquet(path)
        missing = [c for c in _REQUIRED_EPISODE_COLUMNS if c not in table.column_names]
        if missing:
            raise DatasetError(f"corrupt dataset file {path}: missing columns {missing}")
        rows.extend(table.to_pylist())
    rows.sort(key=lambda r: r["episode_index"])
    for i, r in enumerate(rows):
        if r["episode_index"] != i:
            raise DatasetError(
                f"corrupt episode metadata in {root / 'meta' / 'episodes'}: episode {i} is missing"
            )
    return rows


def load_tasks(root: Path) -> list[str]:
    path = root / fmt.TASKS_PATH
    table = _read_parquet(path)
    if "task" not in table.column_names or "task_index" not in table.column_names:
        raise DatasetError(f"corrupt dataset file {path}: expected columns task, task_index")
    pairs = sorted(zip(table.column("task_index").to_pylist(), table.column("task").to_pylist(), strict=True))
    if [i for i, _ in pairs] != list(range(len(pairs))):
        raise DatasetError(f"corrupt dataset file {path}: task indices are not 0..N-1")
    return [t for _, t in pairs]


def read_annotation_lines(root: Path) -> dict[int, dict[str, Any]]:
    path = root / fmt.ANNOTATIONS_PATH
    out: dict[int, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out[int(rec["episode_index"])] = rec
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"corrupt dataset file {path}, line {lineno}: {exc}") from exc
    return out


@dataclass(frozen=True)
class EpisodeInfo:
    index: int
    length: int
    task: str
    data_file: Path
    from_index: int  # global frame index of the first frame
    to_index: int  # one past the last


class Frames(Sequence[np.ndarray]):
    """A lazily decoded sequence of one camera's frames (uint8 (H, W, 3))."""

    def __init__(self, blobs: list[bytes], source: Path, camera: str) -> None:
        self._blobs, self._source, self._camera = blobs, source, camera

    def __len__(self) -> int:
        return len(self._blobs)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...

    def __getitem__(self, i: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        blob = self._blobs[i]
        try:
            with Image.open(io.BytesIO(blob)) as im:
                return np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DatasetError(
                f"corrupt frame {i} of camera {self._camera} in {self._source}: {exc}"
            ) from exc


class Episode:
    def __init__(self, dataset: LocalDataset, info: EpisodeInfo) -> None:
        self.dataset = dataset
        self.info = info
        self.index = info.index
        self.length = info.length
        self.task = info.task
        table = dataset._episode_table(info, [fmt.STATE_KEY, fmt.ACTION_KEY, "timestamp"])
        self.actions = _matrix(table, fmt.ACTION_KEY, info.data_file)
        self.state = _matrix(table, fmt.STATE_KEY, info.data_file)
        self.timestamps = table.column("timestamp").to_numpy().astype(np.float32)

    @property
    def annotation(self) -> dict[str, Any] | None:
        """The Pixel sidecar record (target_object, mask_rle, prompts, decisions, ...), if any."""
        return self.dataset.annotations.get(self.index)

    def frames(self, camera: str) -> Frames:
        if camera not in self.dataset.cameras:
            raise DatasetError(
                f"unknown camera {camera!r}; dataset has {self.dataset.cameras}", code="unknown_camera"
            )
        key = fmt.image_key(camera)
        column = self.dataset._episode_table(self.info, [key]).column(key).combine_chunks()
        blobs = column.field("bytes").to_pylist()
        if any(b is None for b in blobs):
            raise DatasetError(
                f"corrupt dataset file {self.info.data_file}: missing image bytes for {camera}"
            )
        return Frames(blobs, self.info.data_file, camera)

    def frame(self, camera: str, t: int) -> np.ndarray:
        if not 0 <= t < self.length:
            raise DatasetError(f"frame {t} out of range for episode {self.index} (length {self.length})")
        return self.frames(camera)[t]


def _matrix(table: pa.Table, key: str, path: Path) -> np.ndarray:
    col = table.column(key).combine_chunks()
    flat = col.flatten().to_numpy()
    if len(col) == 0 or flat.size % len(col):
        raise DatasetError(f"corrupt dataset file {path}: ragged column {key}")
    return flat.reshape(len(col), -1).astype(np.float32)


class LocalDataset:
    """A LeRobot v3.0 dataset on local disk, with the Pixel annotation sidecar."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not (self.root / fmt.INFO_PATH).is_file():
            raise DatasetError(
                f"no dataset at {self.root} ({fmt.INFO_PATH} not found)", code="dataset_not_found"
            )
        self.info: dict[str, Any] = fmt.read_json(self.root / fmt.INFO_PATH)
        version = self.info.get("codebase_version") if isinstance(self.info, dict) else None
        if version != fmt.CODEBASE_VERSION:
            raise DatasetError(
                f"{self.root / fmt.INFO_PATH}: codebase_version {version!r} is not {fmt.CODEBASE_VERSION!r}"
            )
        try:
            self.fps = int(self.info["fps"])
            self.features: dict[str, Any] = dict(self.info["features"])
            total = int(self.info["total_episodes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"corrupt dataset file {self.root / fmt.INFO_PATH}: {exc}") from exc
        self.cameras = fmt.cameras_of(self.features)
        self.tasks = load_tasks(self.root)
        rows = load_episode_rows(self.root)
        # info.json is written last; episodes beyond its count belong to an unfinished finalize.
        rows = rows[:total]
        if len(rows) != total:
            raise DatasetError(
                f"corrupt dataset: {self.root / fmt.INFO_PATH} lists {total} episodes, metadata has {len(rows)}"
            )
        self.episodes: list[EpisodeInfo] = [
            EpisodeInfo(
                index=int(r["episode_index"]),
                length=int(r["length"]),
                task=str(r["tasks"][0]),
                data_file=self.root
                / str(self.info.get("data_path", fmt.DATA_PATH)).format(
                    chunk_index=int(r["data/chunk_index"]), file_index=int(r["data/file_index"])
                ),
                from_index=int(r["dataset_from_index"]),
                to_index=int(r["dataset_to_index"]),
            )
            for r in rows
        ]
        self._row_groups: dict[Path, dict[int, int]] = {}

    # ------------------------------------------------------------------ metadata

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return sum(e.length for e in self.episodes)

    @cached_property
    def stats(self) -> dict[str, Any]:
        stats = fmt.read_json(self.root / fmt.STATS_PATH)
        if not isinstance(stats, dict):
            raise DatasetError(f"corrupt dataset file {self.root / fmt.STATS_PATH}: expected an object")
        return stats

    @cached_property
    def annotations(self) -> dict[int, dict[str, Any]]:
        return {i: a for i, a in read_annotation_lines(self.root).items() if i < self.num_episodes}

    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(q01, q99) of the actions, the normalisation bounds the model uses."""
        return self._quantile_bounds(fmt.ACTION_KEY)

    def state_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(q01, q99) of the proprioceptive state, the bounds a state-conditioned model scales with."""
        return self._quantile_bounds(fmt.STATE_KEY)

    def _quantile_bounds(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            s = self.stats[key]
            return np.asarray(s["q01"], dtype=np.float32), np.asarray(s["q99"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(
                f"corrupt dataset file {self.root / fmt.STATS_PATH}: no {key} q01/q99"
            ) from exc

    # ------------------------------------------------------------------ episodes

    def __len__(self) -> int:
        return self.num_episodes

    def __iter__(self) -> Iterator[Episode]:
        for i in range(self.num_episodes):
            yield self.episode(i)

    def episode(self, index: int) -> Episode:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise DatasetError(f"episode index must be an integer, got {type(index).__name__}")
        if not 0 <= int(index) < self.num_episodes:
            raise DatasetError(
                f"episode {index} out of range (dataset has {self.num_episodes})", code="episode_not_found"
            )
        return Episode(self, self.episodes[int(index)])

    def _episode_table(self, info: EpisodeInfo, columns: list[str]) -> pa.Table:
        path = info.data_file
        groups = self._row_groups.get(path)
        try:
            pf = pq.ParquetFile(path)
            if groups is None:
                # Row groups are episodes: map each group's first global index to its position.
                first = pf.read(columns=["index"]).column("index")
                groups, offset = {}, 0
                for g in range(pf.num_row_groups):
                    groups[int(first[offset].as_py())] = g
                    offset += pf.metadata.row_group(g).num_rows
                self._row_groups[path] = groups
            if info.from_index not in groups:
                raise DatasetError(f"corrupt dataset file {path}: episode {info.index} not found in it")
            table = pf.read_row_group(groups[info.from_index], columns=columns)
        except FileNotFoundError as exc:
            raise DatasetError(f"missing dataset file {path}", code="dataset_not_found") from exc
        except (OSError, pa.ArrowException, KeyError, IndexError) as exc:
            raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc
        if table.num_rows != info.length:
            raise DatasetError(
                f"corrupt dataset file {path}: episode {info.index} has {table.num_rows} rows, expected {info.length}"
            )
        return table


def open_dataset(root: str | Path) -> LocalDataset:
    """Open the LeRobot v3.0 dataset at ``root`` (raises DatasetError if missing or corrupt)."""
    return LocalDataset(root)
