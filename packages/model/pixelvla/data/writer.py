"""Write LeRobotDataset v3.0 datasets, one durable episode at a time.

Writing has two phases so that a killed process never leaves half an episode and never loses a
finished one:

1. :meth:`LeRobotWriter.write_episode` stages one episode as ``.staging/episode-NNNNNN/`` (its
   frames as parquet plus a small JSON), built in a temporary folder and renamed into place, so a
   staged episode either exists completely or not at all. Workers may stage in parallel.
2. :meth:`LeRobotWriter.finalize` packs the staged episodes that continue the dataset's episode
   numbering into *new* data files, rewrites the (small) metadata files atomically, and only then
   deletes what it packed. Existing data files are never rewritten. Running it again after a
   crash repairs the metadata; it is idempotent.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from pixelvla.data import format as fmt
from pixelvla.data import video as vid
from pixelvla.data.format import DatasetError

_IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_STAT_KEYS = fmt.STAT_KEYS
_NUMERIC_KEYS = (fmt.STATE_KEY, fmt.ACTION_KEY, *fmt.INDEX_KEYS)


@dataclass
class EpisodeRecord:
    """One episode to write. Frame t is what the robot saw before taking action t."""

    frames: Mapping[str, Sequence[np.ndarray] | np.ndarray]  # camera -> T x uint8 (H, W, 3)
    actions: np.ndarray  # (T, A) float32
    states: np.ndarray  # (T, S) float32
    task: str
    annotation: Mapping[str, Any] | None = None  # the Pixel sidecar record (see README)
    source: Mapping[str, Any] = field(default_factory=dict)  # provenance, e.g. seed and task name


def _hf_features(cameras: Sequence[str], state_dim: int, action_dim: int) -> dict[str, Any]:
    """The ``huggingface`` schema metadata that ``datasets`` (and so lerobot) reads the columns by."""

    def vector(n: int) -> dict[str, Any]:
        return {"feature": {"dtype": "float32", "_type": "Value"}, "length": n, "_type": "List"}

    out: dict[str, Any] = {fmt.image_key(c): {"_type": "Image"} for c in cameras}
    out[fmt.STATE_KEY] = vector(state_dim)
    out[fmt.ACTION_KEY] = vector(action_dim)
    out["timestamp"] = {"dtype": "float32", "_type": "Value"}
    for key in ("frame_index", "episode_index", "index", "task_index"):
        out[key] = {"dtype": "int64", "_type": "Value"}
    return {"info": {"features": out}}


def data_schema(cameras: Sequence[str], state_dim: int, action_dim: int) -> pa.Schema:
    """Arrow types as Hugging Face ``datasets`` writes LeRobot features: a float32 vector of shape
    (D,) is ``Sequence(length=D)``, i.e. a fixed-size list; an image is ``struct<bytes, path>``.
    ``cameras`` are the image (not video) cameras: video frames live in mp4 files."""
    fields = [pa.field(fmt.image_key(c), _IMAGE_TYPE) for c in cameras]
    fields += [
        pa.field(fmt.STATE_KEY, pa.list_(pa.float32(), state_dim)),
        pa.field(fmt.ACTION_KEY, pa.list_(pa.float32(), action_dim)),
        pa.field("timestamp", pa.float32()),
        pa.field("frame_index", pa.int64()),
        pa.field("episode_index", pa.int64()),
        pa.field("index", pa.int64()),
        pa.field("task_index", pa.int64()),
    ]
    meta = {b"huggingface": json.dumps(_hf_features(cameras, state_dim, action_dim)).encode()}
    return pa.schema(fields, metadata=meta)


def encode_png(frame: np.ndarray, compress_level: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def _fixed_list(values: np.ndarray) -> pa.FixedSizeListArray:
    v = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), v.shape[1])


def _tasks_table(tasks: Sequence[str]) -> pa.Table:
    """meta/tasks.parquet as pandas would write it: the task string is the (named) index.

    LeRobot reads this file with ``pandas.read_parquet`` and looks tasks up by index, so the pandas
    metadata that marks ``task`` as the index is part of the format, not decoration.
    """
    table = pa.table(
        {"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(list(tasks), pa.string())}
    )
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def _stat_list(name: str, values: Any) -> list[Any]:
    # LeRobot stores counts as integers and every other statistic as floats.
    return [int(v) for v in values] if name == "count" else [float(v) for v in values]


def _image_stat(name: str, values: Any) -> list[Any]:
    # Image stats are channel-first (3, 1, 1) in the episodes parquet, as lerobot writes them.
    flat = np.asarray(values).reshape(-1)
    return [int(v) for v in flat] if name == "count" else [[[float(v)]] for v in flat]


class _DataFileSink:
    """Appends episodes (one row group each) to new data files, starting the next file once one
    passes the size limit. Each file is written under a temporary name and renamed when complete;
    on an error the unfinished file is discarded."""

    def __init__(self, root: Path, schema: pa.Schema, first_file: int, limit_bytes: int) -> None:
        self.root, self.schema, self.file_no, self.limit = root, schema, first_file, limit_bytes
        self._stack: contextlib.ExitStack | None = None
        self._writer: pq.ParquetWriter | None = None
        self._bytes = 0

    def write(self, table: pa.Table) -> int:
        """Write one episode; returns the linear number of the file it went into."""
        if self._writer is None:
            chunk, file = divmod(self.file_no, fmt.CHUNKS_SIZE)
            self._stack = contextlib.ExitStack()
            tmp = self._stack.enter_context(
                fmt.atomic_path(self.root / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file))
            )
            self._writer = pq.ParquetWriter(tmp, self.schema)
            self._bytes = 0
        used = self.file_no
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self._bytes += table.nbytes
        if self._bytes >= self.limit:
            self._commit()
            self.file_no += 1
        return used

    def _commit(self) -> None:
        if self._writer is not None and self._stack is not None:
            self._writer.close()
            self._stack.close()  # renames the finished file into place
        self._writer, self._stack = None, None

    def __enter__(self) -> _DataFileSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self._commit()
            return
        if self._writer is not None:
            self._writer.close()
        if self._stack is not None:
            self._stack.__exit__(exc_type, exc, tb)  # atomic_path deletes the temporary file
        self._writer, self._stack = None, None


class LeRobotWriter:
    """Create (or resume) a dataset at ``root``.

    ``video=True`` stores camera frames as AV1 mp4 (lerobot's default codec and settings), one file
    per camera per episode, instead of PNG in parquet: far smaller, lossy (a mean absolute error of a
    few levels in 255), which is why masks are never taken from frames but kept in the sidecar.

    Resuming checks that the schema on disk matches the one requested and raises DatasetError
    otherwise, rather than mixing incompatible episodes.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        cameras: Mapping[str, tuple[int, int]],
        state_names: Sequence[str],
        action_names: Sequence[str],
        fps: int = 10,
        robot_type: str = "pixelvla_sim_gripper",
        png_compress_level: int = 1,
        data_files_size_in_mb: int = fmt.DATA_FILES_SIZE_IN_MB,
        video: bool = False,
    ) -> None:
        self.root = Path(root)
        self.cameras = list(cameras)
        self.image_sizes = dict(cameras)
        self.state_dim = len(state_names)
        self.action_dim = len(action_names)
        self.fps = int(fps)
        self.robot_type = robot_type
        self.png_compress_level = png_compress_level
        self.data_files_size_in_mb = data_files_size_in_mb
        self.video = bool(video)
        self.features = fmt.make_features(cameras, state_names, action_names)
        if self.video:
            for cam, (h, w) in self.image_sizes.items():
                feat = self.features[fmt.image_key(cam)]
                feat["dtype"] = "video"
                feat["info"] = vid.encoder_info(h, w, self.fps)
        self.image_cameras = [] if self.video else list(self.cameras)
        self.schema = data_schema(self.image_cameras, self.state_dim, self.action_dim)
        info_path = self.root / fmt.INFO_PATH
        if info_path.exists():
            info = fmt.read_json(info_path)
            if info.get("features") != self.features or info.get("fps") != self.fps:
                raise DatasetError(
                    f"{self.root} already holds a dataset with a different schema or fps; "
                    "choose another folder (nothing was changed)",
                    code="dataset_schema_mismatch",
                )
        (self.root / fmt.STAGING_DIR).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ staging

    def _staged_dir(self, index: int) -> Path:
        return self.root / fmt.STAGING_DIR / f"episode-{index:06d}"

    def staged_indices(self) -> list[int]:
        out = []
        for p in (self.root / fmt.STAGING_DIR).glob("episode-*"):
            if p.is_dir() and p.name[8:].isdigit():
                out.append(int(p.name[8:]))
        return sorted(out)

    def finalized_count(self) -> int:
        info_path = self.root / fmt.INFO_PATH
        return int(fmt.read_json(info_path)["total_episodes"]) if info_path.exists() else 0

    def has_episode(self, index: int) -> bool:
        return index < self.finalized_count() or self._staged_dir(index).is_dir()

    def write_episode(self, index: int, episode: EpisodeRecord) -> None:
        """Stage episode ``index`` atomically (it appears whole or not at all)."""
        if index < 0:
            raise DatasetError(f"episode index must be >= 0, got {index}")
        if self.has_episode(index):
            raise DatasetError(f"episode {index} is already written in {self.root}", code="episode_exists")
        table, image_stats = self._episode_table(episode)
        staging = self.root / fmt.STAGING_DIR
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{index:06d}-", dir=staging))
        try:
            pq.write_table(table, tmp / "data.parquet")
            if self.video:
                for cam in self.cameras:
                    vid.encode_av1(tmp / f"{cam}.mp4", list(episode.frames[cam]), self.fps)
            meta = {
                "task": episode.task,
                "length": table.num_rows,
                "image_stats": image_stats,
                "annotation": dict(episode.annotation) if episode.annotation is not None else None,
                "source": dict(episode.source),
            }
            (tmp / "episode.json").write_text(json.dumps(meta), encoding="utf-8")
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            os.rename(tmp, self._staged_dir(index))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _episode_table(self, ep: EpisodeRecord) -> tuple[pa.Table, dict[str, Any]]:
        actions = np.asarray(ep.actions, dtype=np.float32)
        states = np.asarray(ep.states, dtype=np.float32)
        if actions.ndim != 2 or actions.shape[1] != self.action_dim or len(actions) == 0:
            raise DatasetError(f"actions must have shape (T>0, {self.action_dim}), got {actions.shape}")
        n = len(actions)
        if states.shape != (n, self.state_dim):
            raise DatasetError(f"states must have shape ({n}, {self.state_dim}), got {states.shape}")
        if not (np.isfinite(actions).all() and np.isfinite(states).all()):
            raise DatasetError("actions and states must be finite")
        if not isinstance(ep.task, str) or not ep.task.strip():
            raise DatasetError("task must be a non-empty string")
        if set(ep.frames) != set(self.cameras):
            raise DatasetError(f"frames must hold cameras {self.cameras}, got {sorted(ep.frames)}")
        columns: dict[str, pa.Array] = {}
        image_stats: dict[str, Any] = {}
        for cam in self.cameras:
            frames = ep.frames[cam]
            h, w = self.image_sizes[cam]
            if len(frames) != n:
                raise DatasetError(f"camera {cam} has {len(frames)} frames for {n} actions")
            for f in frames:
                if f.dtype != np.uint8 or f.shape != (h, w, 3):
                    raise DatasetError(
                        f"camera {cam} frames must be uint8 ({h}, {w}, 3), got {f.dtype} {f.shape}"
                    )
            if not self.video:
                pngs = [encode_png(f, self.png_compress_level) for f in frames]
                columns[fmt.image_key(cam)] = pa.StructArray.from_arrays(
                    [pa.array(pngs, pa.binary()), pa.array([None] * n, pa.string())], fields=list(_IMAGE_TYPE)
                )
            # Every 4th frame at every 4th pixel is plenty for normalisation statistics.
            image_stats[fmt.image_key(cam)] = fmt.image_stats([f[::4, ::4] for f in frames[::4]])
        columns[fmt.STATE_KEY] = _fixed_list(states)
        columns[fmt.ACTION_KEY] = _fixed_list(actions)
        columns["timestamp"] = pa.array(np.arange(n, dtype=np.float32) / np.float32(self.fps), pa.float32())
        columns["frame_index"] = pa.array(np.arange(n), pa.int64())
        # Filled in when the episode is packed (they depend on what precedes it).
        for key in ("episode_index", "index", "task_index"):
            columns[key] = pa.array(np.zeros(n, dtype=np.int64), pa.int64())
        return pa.table(columns, schema=self.schema), image_stats

    # ------------------------------------------------------------------ packing

    def finalize(self) -> int:
        """Pack staged episodes into the v3 layout; returns the dataset's episode count.

        Call it only while no other writer is staging into this folder.
        """
        from pixelvla.data.reader import load_episode_rows, load_tasks, read_annotation_lines

        root = self.root
        rows = load_episode_rows(root, with_stats=True) if (root / fmt.INFO_PATH).exists() else []
        for r in rows:
            r.pop("_file", None)
        tasks = load_tasks(root) if (root / fmt.TASKS_PATH).exists() else []
        annotations = read_annotation_lines(root) if (root / fmt.ANNOTATIONS_PATH).exists() else {}
        total = len(rows)
        staged = set(self.staged_indices())
        todo: list[int] = []
        while total + len(todo) in staged:
            todo.append(total + len(todo))
        # Leftovers of writers killed mid-episode. finalize runs when no writer is active.
        for junk in (root / fmt.STAGING_DIR).glob(".tmp-*"):
            shutil.rmtree(junk, ignore_errors=True)
        # Episodes already packed (a crash after packing, before clean-up) are simply dropped.
        for stale in sorted(i for i in staged if i < total):
            shutil.rmtree(self._staged_dir(stale), ignore_errors=True)

        if todo:
            first_file = 1 + max(
                (r["data/chunk_index"] * fmt.CHUNKS_SIZE + r["data/file_index"] for r in rows), default=-1
            )
            frame_cursor = rows[-1]["dataset_to_index"] if rows else 0
            task_ids = {t: i for i, t in enumerate(tasks)}
            limit = self.data_files_size_in_mb * 1024 * 1024
            next_video = {
                cam: 1
                + max(
                    (
                        r[f"videos/{fmt.image_key(cam)}/chunk_index"] * fmt.CHUNKS_SIZE
                        + r[f"videos/{fmt.image_key(cam)}/file_index"]
                        for r in rows
                        if f"videos/{fmt.image_key(cam)}/file_index" in r
                    ),
                    default=-1,
                )
                for cam in (self.cameras if self.video else [])
            }
            with _DataFileSink(root, self.schema, first_file, limit) as sink:
                for ep_index in todo:
                    meta, table = self._read_staged(ep_index)
                    task = meta["task"]
                    if task not in task_ids:
                        task_ids[task] = len(tasks)
                        tasks.append(task)
                    n = table.num_rows
                    for key, values in (
                        ("episode_index", np.full(n, ep_index)),
                        ("index", np.arange(frame_cursor, frame_cursor + n)),
                        ("task_index", np.full(n, task_ids[task])),
                    ):
                        table = table.set_column(
                            table.schema.get_field_index(key), key, pa.array(values, pa.int64())
                        )
                    file_no = sink.write(table)
                    row = self._episode_row(ep_index, task, n, file_no, frame_cursor, table, meta)
                    for cam, number in next_video.items():
                        row.update(self._place_video(ep_index, cam, number, n))
                        next_video[cam] = number + 1
                    rows.append(row)
                    if meta.get("annotation") is not None or meta.get("source"):
                        actions = table.column(fmt.ACTION_KEY).combine_chunks().flatten().to_numpy()
                        annotations[ep_index] = {
                            "episode_index": ep_index,
                            "task": task,
                            **(meta.get("annotation") or {}),
                            "source": meta.get("source", {}),
                            # lets a reader find this episode again after lerobot's tools renumber it
                            "fingerprint": fmt.episode_fingerprint(actions.reshape(n, -1)),
                        }
                    frame_cursor += n

        if todo or not (root / fmt.INFO_PATH).exists():
            self._write_meta(rows, tasks, annotations)
        for ep_index in todo:
            shutil.rmtree(self._staged_dir(ep_index), ignore_errors=True)
        return len(rows)

    def _place_video(self, ep_index: int, cam: str, number: int, n: int) -> dict[str, Any]:
        """Move a staged episode's mp4 into videos/<key>/chunk-c/file-f.mp4 (a new file, never an
        existing one); returns its episodes-parquet columns."""
        key = fmt.image_key(cam)
        chunk, file = divmod(number, fmt.CHUNKS_SIZE)
        dest = self.root / fmt.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
        src = self._staged_dir(ep_index) / f"{cam}.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            os.chmod(src, 0o666 & ~fmt._UMASK)
            os.replace(src, dest)
        elif not dest.is_file():  # a crash after moving it, before info.json: it is already there
            raise DatasetError(f"corrupt staged episode {self._staged_dir(ep_index)}: no {cam}.mp4")
        return {
            f"videos/{key}/chunk_index": chunk,
            f"videos/{key}/file_index": file,
            f"videos/{key}/from_timestamp": 0.0,
            f"videos/{key}/to_timestamp": n / self.fps,
        }

    def _read_staged(self, index: int) -> tuple[dict[str, Any], pa.Table]:
        d = self._staged_dir(index)
        try:
            meta = json.loads((d / "episode.json").read_text(encoding="utf-8"))
            table = pq.read_table(d / "data.parquet", schema=self.schema)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DatasetError(f"corrupt staged episode {d}: {exc}") from exc
        return meta, table

    def _episode_row(
        self,
        ep_index: int,
        task: str,
        n: int,
        file_no: int,
        start: int,
        table: pa.Table,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        chunk, file = divmod(file_no, fmt.CHUNKS_SIZE)
        row: dict[str, Any] = {
            "episode_index": ep_index,
            "tasks": [task],
            "length": n,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": 0,
        }
        # Stats of every feature with q01..q99, as lerobot's compute_episode_stats writes them: its
        # tools rebuild meta/stats.json by aggregating these, so what is missing here is lost there.
        for key in _NUMERIC_KEYS:
            col = table.column(key).combine_chunks()
            flat = col.flatten() if pa.types.is_fixed_size_list(col.type) else col
            stats = fmt.numeric_stats(flat.to_numpy().astype(np.float64).reshape(n, -1))
            for s in _STAT_KEYS:
                row[f"stats/{key}/{s}"] = _stat_list(s, stats[s])
        for key, stats in meta["image_stats"].items():
            for s in _STAT_KEYS:
                if s in stats:  # episodes staged by an older writer have no image quantiles
                    row[f"stats/{key}/{s}"] = _image_stat(s, stats[s])
        return row

    def _write_meta(
        self, rows: list[dict[str, Any]], tasks: list[str], annotations: dict[int, dict[str, Any]]
    ) -> None:
        root = self.root
        if rows:
            keys = list(dict.fromkeys(k for r in rows for k in r))  # rows of older writers have fewer
            table = pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in keys})
            with fmt.atomic_path(root / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0)) as tmp:
                pq.write_table(table, tmp)
        with fmt.atomic_path(root / fmt.TASKS_PATH) as tmp:
            pq.write_table(_tasks_table(tasks), tmp)
        lines = "".join(json.dumps(annotations[i]) + "\n" for i in sorted(annotations))
        fmt.write_text_atomic(root / fmt.ANNOTATIONS_PATH, lines)
        fmt.write_json_atomic(root / fmt.STATS_PATH, self._stats(rows))
        total_frames = rows[-1]["dataset_to_index"] if rows else 0
        info = {
            "codebase_version": fmt.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(rows),
            "total_frames": total_frames,
            "total_tasks": len(tasks),
            "chunks_size": fmt.CHUNKS_SIZE,
            "data_files_size_in_mb": self.data_files_size_in_mb,
            "video_files_size_in_mb": fmt.VIDEO_FILES_SIZE_IN_MB,
            "fps": self.fps,
            "splits": {"train": f"0:{len(rows)}"},
            "data_path": fmt.DATA_PATH,
            "video_path": fmt.VIDEO_PATH if self.video else None,
            "features": self.features,
        }
        # info.json goes last: it is what makes the new episodes count.
        fmt.write_json_atomic(root / fmt.INFO_PATH, info)

    def _stats(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        if not rows:
            return {}
        files = sorted({(r["data/chunk_index"], r["data/file_index"]) for r in rows})
        numeric: dict[str, list[np.ndarray]] = {k: [] for k in _NUMERIC_KEYS}
        for chunk, file in files:
            path = self.root / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file)
            try:
                t = pq.read_table(path, columns=list(numeric))
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(f"corrupt data file {path}: {exc}") from exc
            for key in _NUMERIC_KEYS:
                col = t.column(key).combine_chunks()
                flat = col.flatten() if pa.types.is_fixed_size_list(col.type) else col
                numeric[key].append(flat.to_numpy().reshape(len(col), -1))
        stats: dict[str, Any] = {k: fmt.numeric_stats(np.concatenate(v)) for k, v in numeric.items()}
        for cam in self.cameras:
            key = fmt.image_key(cam)
            parts = [
                {
                    s: np.asarray(r[f"stats/{key}/{s}"]).reshape(-1 if s == "count" else 3).tolist()
                    for s in _STAT_KEYS
                    if r.get(f"stats/{key}/{s}") is not None
                }
                for r in rows
            ]
            stats[key] = fmt.merge_image_stats(parts)
        return stats
