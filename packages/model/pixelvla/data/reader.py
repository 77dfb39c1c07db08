"""Read LeRobotDataset v3.0 datasets from local disk: the whole format as lerobot writes it.

What varies between real datasets, and is handled here:

* cameras are ``image`` features (bytes in parquet) or ``video`` features (mp4, several episodes per
  file, located by ``videos/<key>/chunk_index|file_index|from_timestamp``), with any names and sizes;
* an episode is located by ``dataset_from_index``/``dataset_to_index`` in the data file named by its
  ``data/chunk_index|file_index``: any row-group layout, several episodes per file, several files;
* an episode's task comes from the episodes' ``tasks`` column, or (when an editing tool dropped it)
  from the data's ``task_index`` and ``meta/tasks.parquet``;
* state and action have any dimension (a dataset without a state feature has a (T, 0) state);
* stats may lack the q01..q99 quantiles (datasets converted from v2.1, older tools): they are then
  computed from the data, and :attr:`LocalDataset.notes` says so.

Metadata is read eagerly and validated; numeric columns of an episode are read when the episode is
opened; camera frames are decoded lazily. Any missing, unreadable or inconsistent file raises
:class:`DatasetError` naming that file.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from pixelvla.data import format as fmt
from pixelvla.data import video as vid
from pixelvla.data.format import DatasetError

log = logging.getLogger(__name__)

_REQUIRED_EPISODE_COLUMNS = (
    "episode_index",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
)
# lerobot's in-place edits (lerobot-edit-dataset without --new_root) move the original here.
BACKUP_SUFFIX = "_old"


def _read_parquet(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None)
    except FileNotFoundError as exc:
        raise DatasetError(f"missing dataset file {path}", code="dataset_not_found") from exc
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc


def load_episode_rows(root: Path, *, with_stats: bool = False) -> list[dict[str, Any]]:
    """Every row of meta/episodes/*/*.parquet, sorted by episode index; ``_file`` is the file it is
    in. The (many) stats columns are left out unless ``with_stats``."""
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise DatasetError(f"missing dataset files {root / 'meta' / 'episodes'}/chunk-*/file-*.parquet")
    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            names = pq.read_schema(path).names
        except FileNotFoundError as exc:
            raise DatasetError(f"missing dataset file {path}", code="dataset_not_found") from exc
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc
        missing = [c for c in _REQUIRED_EPISODE_COLUMNS if c not in names]
        if missing:
            raise DatasetError(f"corrupt dataset file {path}: missing columns {missing}")
        table = _read_parquet(path, [c for c in names if with_stats or not c.startswith("stats/")])
        for r in table.to_pylist():
            r["_file"] = path
            rows.append(r)
    rows.sort(key=lambda r: r["episode_index"])
    for i, r in enumerate(rows):
        if r["episode_index"] != i:
            raise DatasetError(
                f"corrupt episode metadata in {root / 'meta' / 'episodes'}: episode {i} is missing"
            )
    return rows


def load_episode_stats(root: Path) -> list[dict[str, dict[str, np.ndarray]]]:
    """Per-episode stats (``stats/<feature>/<stat>`` columns) as {feature: {stat: array}}."""
    out: dict[int, dict[str, dict[str, np.ndarray]]] = {}
    for path in sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        table = _read_parquet(path)
        cols = [c for c in table.column_names if c.startswith("stats/")]
        for r in table.select(["episode_index", *cols]).to_pylist():
            stats: dict[str, dict[str, np.ndarray]] = {}
            for c in cols:
                feature, stat = c[len("stats/") : c.rindex("/")], c[c.rindex("/") + 1 :]
                if r[c] is not None:
                    stats.setdefault(feature, {})[stat] = np.asarray(r[c], dtype=np.float64)
            out[int(r["episode_index"])] = stats
    return [out[i] for i in sorted(out)]


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
class VideoRef:
    path: Path
    from_timestamp: float


@dataclass(frozen=True)
class EpisodeInfo:
    index: int
    length: int
    task: str
    data_file: Path
    from_index: int  # global frame index of the first frame
    to_index: int  # one past the last
    videos: Mapping[str, VideoRef] = field(default_factory=dict)  # camera -> its mp4 and start time


class Frames(fmt.FrameSequence):
    """A lazily decoded sequence of one ``image`` camera's frames (uint8 (H, W, 3))."""

    def __init__(self, blobs: list[bytes], source: Path, camera: str) -> None:
        self._blobs, self._source, self._camera = blobs, source, camera

    def __len__(self) -> int:
        return len(self._blobs)

    def _frame(self, i: int) -> np.ndarray:
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
        cols = [k for k in (fmt.STATE_KEY, fmt.ACTION_KEY) if k in dataset.features] + ["timestamp"]
        table = dataset._episode_table(info, cols)
        n = info.length
        self.actions = (
            _matrix(table, fmt.ACTION_KEY, info.data_file)
            if fmt.ACTION_KEY in dataset.features
            else np.zeros((n, 0), np.float32)
        )
        self.state = (
            _matrix(table, fmt.STATE_KEY, info.data_file)
            if fmt.STATE_KEY in dataset.features
            else np.zeros((n, 0), np.float32)
        )
        self.timestamps = table.column("timestamp").to_numpy().astype(np.float32)

    @property
    def annotation(self) -> dict[str, Any] | None:
        """The Pixel sidecar record (target_object, mask_rle, prompts, decisions, ...), if any."""
        return self.dataset.annotations.get(self.index)

    def frames(self, camera: str) -> Sequence[np.ndarray]:
        key = self.dataset.camera_key(camera)
        if self.dataset.features[key]["dtype"] == "video":
            ref = self.info.videos[camera]
            times = ref.from_timestamp + self.timestamps.astype(np.float64)
            return vid.VideoFrames(ref.path, times, vid.tolerance_s(self.dataset.fps), camera)
        column = self.dataset._episode_table(self.info, [key]).column(key).combine_chunks()
        if not pa.types.is_struct(column.type) or column.type.get_field_index("bytes") < 0:
            raise DatasetError(f"corrupt dataset file {self.info.data_file}: {key} is not an image column")
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
    if (
        pa.types.is_list(col.type)
        or pa.types.is_fixed_size_list(col.type)
        or pa.types.is_large_list(col.type)
    ):
        flat = col.flatten().to_numpy(zero_copy_only=False)
    else:
        flat = col.to_numpy(zero_copy_only=False)  # a 1-D feature stored as a scalar column
    if len(col) == 0 or flat.size % len(col):
        raise DatasetError(f"corrupt dataset file {path}: ragged column {key}")
    return np.asarray(flat, dtype=np.float32).reshape(len(col), -1)


class _DataFile:
    """A data parquet's ``index`` column and row-group boundaries, read once per file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.pf = pq.ParquetFile(path)
            self.index = self.pf.read(columns=["index"]).column("index").to_numpy()
        except FileNotFoundError as exc:
            raise DatasetError(f"missing dataset file {path}", code="dataset_not_found") from exc
        except (OSError, pa.ArrowException, KeyError) as exc:
            raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc
        sizes = [self.pf.metadata.row_group(g).num_rows for g in range(self.pf.num_row_groups)]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.sorted = bool(np.all(self.index[1:] >= self.index[:-1])) if len(self.index) else True

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Positions of the rows with lo <= index < hi."""
        if self.sorted:
            a, b = np.searchsorted(self.index, [lo, hi])
            return np.arange(a, b)
        return np.flatnonzero((self.index >= lo) & (self.index < hi))

    def read(self, positions: np.ndarray, columns: list[str]) -> pa.Table:
        if len(positions) == 0:
            return self.pf.schema_arrow.empty_table().select(columns)
        first, last = int(positions[0]), int(positions[-1])
        g0 = int(np.searchsorted(self.starts, first, side="right")) - 1
        g1 = int(np.searchsorted(self.starts, last, side="right")) - 1
        table = self.pf.read_row_groups(list(range(g0, g1 + 1)), columns=columns)
        return table.take(pa.array(positions - self.starts[g0]))


class LocalDataset:
    """A LeRobot v3.0 dataset on local disk, with the Pixel annotation sidecar."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        info_path = self.root / fmt.INFO_PATH
        if not info_path.is_file():
            raise DatasetError(
                f"no dataset at {self.root} ({fmt.INFO_PATH} not found)", code="dataset_not_found"
            )
        self.info: dict[str, Any] = fmt.read_json(info_path)
        version = self.info.get("codebase_version") if isinstance(self.info, dict) else None
        if version != fmt.CODEBASE_VERSION:
            raise DatasetError(f"{info_path}: codebase_version {version!r} is not {fmt.CODEBASE_VERSION!r}")
        try:
            self.fps = round(float(self.info["fps"]))
            self.features: dict[str, Any] = dict(self.info["features"])
            total = int(self.info["total_episodes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"corrupt dataset file {info_path}: {exc}") from exc
        if self.fps <= 0:
            raise DatasetError(f"corrupt dataset file {info_path}: fps must be positive")
        self._check_features(info_path)
        self._camera_keys = fmt.camera_keys(self.features)
        self.cameras = list(self._camera_keys)
        self.notes: list[str] = []  # what the reader had to work around (shown by the studio)
        self.tasks = load_tasks(self.root)
        rows = load_episode_rows(self.root)
        # info.json is written last by our writer; episodes beyond its count are an unfinished finalize.
        rows = rows[:total]
        if len(rows) != total:
            raise DatasetError(
                f"corrupt dataset: {info_path} lists {total} episodes, "
                f"{self.root / 'meta' / 'episodes'} has {len(rows)}"
            )
        self._files: dict[Path, _DataFile] = {}
        self.episodes: list[EpisodeInfo] = [self._episode_info(r) for r in rows]

    def _check_features(self, info_path: Path) -> None:
        for key, feat in self.features.items():
            if not isinstance(feat, Mapping) or "dtype" not in feat:
                raise DatasetError(f"corrupt dataset file {info_path}: feature {key!r} has no dtype")
            if feat["dtype"] not in fmt.KNOWN_DTYPES:
                raise DatasetError(
                    f"{info_path}: feature {key!r} has dtype {feat['dtype']!r}, which this reader does not "
                    f"know (known: {sorted(fmt.KNOWN_DTYPES)})",
                    code="unsupported_feature",
                )
        for key in ("timestamp", "index", "episode_index"):
            if key not in self.features:
                raise DatasetError(f"corrupt dataset file {info_path}: no {key!r} feature")
        if any(f["dtype"] == "video" for f in self.features.values()) and not self.info.get("video_path"):
            raise DatasetError(f"corrupt dataset file {info_path}: video features but no video_path")

    def _episode_info(self, r: dict[str, Any]) -> EpisodeInfo:
        path: Path = r["_file"]
        try:
            index, length = int(r["episode_index"]), int(r["length"])
            lo, hi = int(r["dataset_from_index"]), int(r["dataset_to_index"])
            data_file = self.root / str(self.info.get("data_path") or fmt.DATA_PATH).format(
                chunk_index=int(r["data/chunk_index"]), file_index=int(r["data/file_index"])
            )
            videos = {}
            for cam, key in self._camera_keys.items():
                if self.features[key]["dtype"] != "video":
                    continue
                videos[cam] = VideoRef(
                    self.root
                    / str(self.info["video_path"]).format(
                        video_key=key,
                        chunk_index=int(r[f"videos/{key}/chunk_index"]),
                        file_index=int(r[f"videos/{key}/file_index"]),
                    ),
                    float(r[f"videos/{key}/from_timestamp"]),
                )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DatasetError(
                f"corrupt dataset file {path}: episode {r.get('episode_index')}: {exc!r}"
            ) from exc
        if hi - lo != length:
            raise DatasetError(
                f"corrupt dataset file {path}: episode {index} spans {hi - lo} frames, length says {length}"
            )
        # Editing tools may drop `tasks`: then the data's task_index names it.
        tasks = r.get("tasks")
        task = str(tasks[0]) if tasks else self._task_from_data(data_file, lo, hi, index)
        return EpisodeInfo(index, length, task, data_file, lo, hi, videos)

    def _task_from_data(self, data_file: Path, lo: int, hi: int, index: int) -> str:
        df = self._data_file(data_file)
        rows = df.rows(lo, hi)
        if len(rows) == 0:
            raise DatasetError(f"corrupt dataset file {data_file}: episode {index} not found in it")
        try:
            ti = int(df.read(rows[:1], ["task_index"]).column(0)[0].as_py())
        except (pa.ArrowException, KeyError) as exc:
            raise DatasetError(f"corrupt dataset file {data_file}: no task_index: {exc}") from exc
        if not 0 <= ti < len(self.tasks):
            raise DatasetError(
                f"corrupt dataset file {data_file}: task_index {ti} not in {self.root / fmt.TASKS_PATH}"
            )
        return self.tasks[ti]

    def _data_file(self, path: Path) -> _DataFile:
        df = self._files.get(path)
        if df is None:
            df = self._files[path] = _DataFile(path)
        return df

    # ------------------------------------------------------------------ metadata

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return sum(e.length for e in self.episodes)

    def camera_key(self, camera: str) -> str:
        key = self._camera_keys.get(camera)
        if key is None:
            raise DatasetError(
                f"unknown camera {camera!r}; dataset has {self.cameras}", code="unknown_camera"
            )
        return key

    def camera_size(self, camera: str) -> tuple[int, int]:
        """(height, width) of a camera, from info.json."""
        feat = self.features[self.camera_key(camera)]
        shape = list(feat.get("shape") or [])
        names = list(feat.get("names") or [])
        if len(shape) == 3 and names[:1] == ["channels"]:
            return int(shape[1]), int(shape[2])  # channel-first shapes exist in converted datasets
        if len(shape) == 3:
            return int(shape[0]), int(shape[1])
        raise DatasetError(f"corrupt dataset file {self.root / fmt.INFO_PATH}: camera {camera} shape {shape}")

    def feature_dim(self, key: str) -> int:
        """Size of a vector feature (action, state), 0 when the dataset has none."""
        feat = self.features.get(key)
        if feat is None:
            return 0
        return int(np.prod(feat.get("shape") or [1]))

    def action_names(self) -> list[str] | None:
        """The action dimensions' names from info.json (None when absent or not one per dimension)."""
        feat = self.features.get(fmt.ACTION_KEY) or {}
        names = feat.get("names")
        if isinstance(names, dict):  # lerobot's older {"motors": [...]} form
            names = next(iter(names.values()), None)
        if isinstance(names, list) and len(names) == self.action_dim:
            return [str(n) for n in names]
        return None

    def gripper_dims(self) -> tuple[int, ...]:
        """Action dimensions that are a gripper: those named like one in info.json (``gripper``,
        SO-101's ``gripper.pos``), else the last one (our 7-D end-effector actions, most arms)."""
        found = tuple(i for i, n in enumerate(self.action_names() or []) if "gripper" in n.lower())
        if found:
            return found
        return (self.action_dim - 1,) if self.action_dim else ()

    @property
    def action_dim(self) -> int:
        return self.feature_dim(fmt.ACTION_KEY)

    @property
    def state_dim(self) -> int:
        return self.feature_dim(fmt.STATE_KEY)

    @cached_property
    def stats(self) -> dict[str, Any]:
        """meta/stats.json, with q01..q99 of the numeric features computed from the data where the
        file lacks them (or is missing); each such repair is recorded in :attr:`notes`."""
        path = self.root / fmt.STATS_PATH
        if path.is_file():
            stats = fmt.read_json(path)
            if not isinstance(stats, dict):
                raise DatasetError(f"corrupt dataset file {path}: expected an object")
        else:
            stats = {}
            self._note(f"{path} is missing; statistics computed from the data")
        need = [
            k
            for k in (fmt.ACTION_KEY, fmt.STATE_KEY)
            if k in self.features
            and not all(q in (stats.get(k) or {}) for q in ("min", "max", "mean", "std", *fmt.QUANTILE_KEYS))
        ]
        if need:
            computed = self.compute_numeric_stats(need)
            for k in need:
                stats[k] = {**computed[k], **(stats.get(k) or {})}
            if path.is_file():
                self._note(f"{path} has no quantiles for {need}; q01..q99 computed from the data")
        return stats

    def compute_numeric_stats(self, keys: Sequence[str]) -> dict[str, dict[str, list[float] | list[int]]]:
        """min/max/mean/std/count/q01..q99 of vector features over every frame of the dataset."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for _, columns in self._per_episode(keys):
            for k in keys:
                parts[k].append(columns[k])
        return {k: fmt.numeric_stats(np.concatenate(v)) for k, v in parts.items()}

    def _per_episode(self, keys: Sequence[str]) -> Iterator[tuple[EpisodeInfo, dict[str, np.ndarray]]]:
        """Every episode's vector columns, reading each data file once (not once per episode)."""
        by_file: dict[Path, list[EpisodeInfo]] = {}
        for ep in self.episodes:
            by_file.setdefault(ep.data_file, []).append(ep)
        for path, eps in by_file.items():
            df = self._data_file(path)
            try:
                table = df.pf.read(columns=list(keys))
            except (OSError, pa.ArrowException, KeyError) as exc:
                raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc
            whole = {k: _matrix(table, k, path) for k in keys}
            for ep in eps:
                rows = df.rows(ep.from_index, ep.to_index)
                if len(rows) != ep.length:
                    raise DatasetError(
                        f"corrupt dataset file {path}: episode {ep.index} has {len(rows)} rows, expected {ep.length}"
                    )
                yield ep, {k: v[rows] for k, v in whole.items()}

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            log.warning("%s", text)

    @cached_property
    def annotations(self) -> dict[int, dict[str, Any]]:
        """The Pixel sidecar by episode index.

        lerobot's editing tools do not carry meta/pixel_annotations.jsonl: an in-place edit leaves it
        in the backup ``<root>_old``, and deleting or merging renumbers episodes. Records carry an
        episode fingerprint (length + hash of its actions), so a record is kept on the episode whose
        content it was made for, wherever that episode now is, and dropped if that episode is gone.
        """
        records = read_annotation_lines(self.root)
        source = self.root / fmt.ANNOTATIONS_PATH
        if not records:
            backup = self.root.with_name(self.root.name + BACKUP_SUFFIX)
            if (backup / fmt.ANNOTATIONS_PATH).is_file():
                records = read_annotation_lines(backup)
                source = backup / fmt.ANNOTATIONS_PATH
        if not records:
            return {}
        if not any("fingerprint" in r for r in records.values()):
            return {i: a for i, a in records.items() if i < self.num_episodes}
        prints = self.fingerprints()
        where: dict[str, list[int]] = {}
        for i, own in enumerate(prints):
            where.setdefault(own, []).append(i)
        out: dict[int, dict[str, Any]] = {}
        moved = dropped = 0
        for i, rec in records.items():
            fp = rec.get("fingerprint")
            if fp is None:
                if i < self.num_episodes:
                    out[i] = rec
                continue
            if i < self.num_episodes and prints[i] == fp:
                out[i] = rec
            elif len(where.get(fp, [])) == 1:
                j = where[fp][0]
                out[j] = {**rec, "episode_index": j}
                moved += 1
            else:
                dropped += 1
        if moved or dropped or source.parent.parent != self.root:
            self._note(
                f"Pixel sidecar {source}: {len(out)} records matched by episode content"
                f" ({moved} renumbered, {dropped} without their episode)"
            )
        return out

    def fingerprints(self) -> list[str]:
        """:func:`pixelvla.data.format.episode_fingerprint` of every episode."""
        if fmt.ACTION_KEY not in self.features:
            return [f"{ep.length}:" for ep in self.episodes]
        out = {
            ep.index: fmt.episode_fingerprint(c[fmt.ACTION_KEY])
            for ep, c in self._per_episode([fmt.ACTION_KEY])
        }
        return [out[ep.index] for ep in self.episodes]

    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(q01, q99) of the actions, the normalisation bounds the model uses."""
        return self._quantile_bounds(fmt.ACTION_KEY)

    def state_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(q01, q99) of the proprioceptive state, the bounds a state-conditioned model scales with."""
        return self._quantile_bounds(fmt.STATE_KEY)

    def _quantile_bounds(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        if key not in self.features:
            raise DatasetError(
                f"{self.root / fmt.INFO_PATH}: the dataset has no {key!r} feature", code="no_feature"
            )
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
                f"episode {index} out of range: not in {self.root / 'meta' / 'episodes'} "
                f"(the dataset has episodes 0..{self.num_episodes - 1})",
                code="episode_not_found",
            )
        return Episode(self, self.episodes[int(index)])

    def _episode_table(self, info: EpisodeInfo, columns: list[str]) -> pa.Table:
        path = info.data_file
        df = self._data_file(path)
        rows = df.rows(info.from_index, info.to_index)
        if len(rows) != info.length:
            raise DatasetError(
                f"corrupt dataset file {path}: episode {info.index} has {len(rows)} rows "
                f"(index {info.from_index}..{info.to_index - 1}), expected {info.length}"
            )
        try:
            return df.read(rows, columns)
        except (OSError, pa.ArrowException, KeyError, IndexError) as exc:
            raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc


def open_dataset(root: str | Path) -> LocalDataset:
    """Open the LeRobot v3.0 dataset at ``root`` (raises DatasetError if missing or corrupt)."""
    return LocalDataset(root)
