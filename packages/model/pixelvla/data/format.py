"""The LeRobotDataset v3.0 layout as lerobot writes it (and this project reads and writes it).

On disk (``root/``)::

    meta/info.json                                  schema (features), fps, robot type, path templates, totals
    meta/stats.json                                 per-feature min/max/mean/std/count and q01..q99
    meta/tasks.parquet                              task string (pandas index "task") -> task_index
    meta/episodes/chunk-{c:03d}/file-{f:03d}.parquet one row per episode: length, tasks, where its data
                                                    and videos are (chunk/file indices, from_timestamp),
                                                    per-episode stats
    meta/pixel_annotations.jsonl                    the Pixel sidecar: one JSON line per episode
    data/chunk-{c:03d}/file-{f:03d}.parquet         frames: action, state, indices, ``image`` features
    videos/<key>/chunk-{c:03d}/file-{f:03d}.mp4     ``video`` features, several episodes back to back

An episode is the rows ``dataset_from_index <= index < dataset_to_index`` of its data file, in any
row-group layout (lerobot's editing tools rewrite files with one group for many episodes). A camera is
an ``image`` feature (PNG/JPEG bytes in a ``struct<bytes, path>`` column, what Hugging Face
``datasets.Image`` stores) or a ``video`` feature (mp4, decoded by :mod:`pixelvla.data.video`). Our writer
uses PNG by default: lossless, a frame decodes on its own; ``video=True`` writes AV1 like lerobot.
Masks never depend on the frame codec: they live in the annotation sidecar as RLE.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from pixelvla.errors import PixelVLAError

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 500
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
ANNOTATIONS_PATH = "meta/pixel_annotations.jsonl"
STAGING_DIR = ".staging"

IMAGE_KEY_PREFIX = "observation.images."
STATE_KEY = "observation.state"
ACTION_KEY = "action"
INDEX_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)
CAMERA_DTYPES = ("image", "video")
# Every dtype lerobot 0.6 writes into info.json features. Anything else is refused at open.
NUMERIC_DTYPES = frozenset(
    (
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "bool",
    )
)
KNOWN_DTYPES = NUMERIC_DTYPES | {"image", "video", "string", "language", "audio"}


class DatasetError(PixelVLAError):
    """A dataset on disk is missing, corrupt, or not what the caller asked for."""

    default_code = "invalid_dataset"


# --------------------------------------------------------------------------- features


class FrameSequence(Sequence[np.ndarray]):
    """One camera's frames of one episode (uint8 (H, W, 3)), decoded when asked for.

    Subclasses give ``__len__`` and ``_frame(i)`` for ``0 <= i < len``; indexing (negative indices,
    slices, the range check) is done here once. ``get_many`` may be overridden to decode in one pass.
    """

    def _frame(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def get_many(self, indices: Sequence[int]) -> list[np.ndarray]:
        return [self[j] for j in indices]

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...

    def __getitem__(self, i: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(i, slice):
            return self.get_many(list(range(*i.indices(len(self)))))
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range ({n} frames)")
        return self._frame(i % n)


def image_key(camera: str) -> str:
    return IMAGE_KEY_PREFIX + camera


def make_features(
    cameras: Mapping[str, tuple[int, int]], state_names: Sequence[str], action_names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The ``features`` block of info.json (camera name -> (height, width))."""
    features: dict[str, dict[str, Any]] = {}
    for name, (h, w) in cameras.items():
        features[image_key(name)] = {
            "dtype": "image",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
        }
    features[STATE_KEY] = {"dtype": "float32", "shape": [len(state_names)], "names": list(state_names)}
    features[ACTION_KEY] = {"dtype": "float32", "shape": [len(action_names)], "names": list(action_names)}
    features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for key in ("frame_index", "episode_index", "index", "task_index"):
        features[key] = {"dtype": "int64", "shape": [1], "names": None}
    return features


def camera_name(key: str) -> str:
    """``observation.images.front`` -> ``front``; a camera key without that prefix (lerobot's
    single-camera datasets use ``observation.image``) keeps its whole key as its name."""
    return key[len(IMAGE_KEY_PREFIX) :] if key.startswith(IMAGE_KEY_PREFIX) else key


def camera_keys(features: Mapping[str, Any]) -> dict[str, str]:
    """camera name -> feature key, for every ``image`` or ``video`` feature."""
    return {
        camera_name(k): k
        for k, v in features.items()
        if isinstance(v, Mapping) and v.get("dtype") in CAMERA_DTYPES
    }


def cameras_of(features: Mapping[str, Any]) -> list[str]:
    return list(camera_keys(features))


def episode_fingerprint(actions: np.ndarray) -> str:
    """Identifies an episode by content (its float32 actions), not by its index, so the Pixel
    sidecar can follow an episode that an editing tool renumbered (deleted or merged episodes)."""
    a = np.ascontiguousarray(actions, dtype=np.float32)
    return f"{a.shape[0]}:" + hashlib.sha256(a.tobytes()).hexdigest()[:24]


# --------------------------------------------------------------------------- statistics


def numeric_stats(values: np.ndarray) -> dict[str, list[float] | list[int]]:
    """min/max/mean/std/count and the q01..q99 quantiles of (N, D) values, per dimension."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    out: dict[str, list[float] | list[int]] = {
        "min": v.min(axis=0).tolist(),
        "max": v.max(axis=0).tolist(),
        "mean": v.mean(axis=0).tolist(),
        "std": v.std(axis=0).tolist(),
        "count": [int(v.shape[0])],
    }
    qs = np.quantile(v, QUANTILES, axis=0)
    for q, row in zip(QUANTILES, qs, strict=True):
        out[f"q{round(q * 100):02d}"] = row.tolist()
    return out


def image_stats(frames: Sequence[np.ndarray]) -> dict[str, Any]:
    """Per-channel stats of uint8 frames scaled to [0, 1], shaped (3, 1, 1) like LeRobot's."""
    pixels = np.concatenate([np.asarray(f, dtype=np.float64).reshape(-1, 3) / 255.0 for f in frames])

    def c(x: np.ndarray) -> list[list[list[float]]]:
        return [[[float(v)]] for v in x]

    out: dict[str, Any] = {
        "min": c(pixels.min(axis=0)),
        "max": c(pixels.max(axis=0)),
        "mean": c(pixels.mean(axis=0)),
        "std": c(pixels.std(axis=0)),
        "count": [len(frames)],
    }
    for key, row in zip(QUANTILE_KEYS, np.quantile(pixels, QUANTILES, axis=0), strict=True):
        out[key] = c(row)
    return out


def merge_image_stats(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine per-episode image stats (count-weighted mean and pooled variance; quantiles are the
    count-weighted mean of the episodes' quantiles, as lerobot's aggregate_stats does)."""
    counts = np.array([p["count"][0] for p in parts], dtype=np.float64)
    means = np.array([np.asarray(p["mean"], dtype=np.float64).reshape(3) for p in parts])
    stds = np.array([np.asarray(p["std"], dtype=np.float64).reshape(3) for p in parts])
    total = counts.sum()
    mean = (means * counts[:, None]).sum(axis=0) / total
    var = ((stds**2 + (means - mean) ** 2) * counts[:, None]).sum(axis=0) / total
    mins = np.min([np.asarray(p["min"]).reshape(3) for p in parts], axis=0)
    maxs = np.max([np.asarray(p["max"]).reshape(3) for p in parts], axis=0)

    def c(x: np.ndarray) -> list[list[list[float]]]:
        return [[[float(v)]] for v in x]

    out: dict[str, Any] = {
        "min": c(mins),
        "max": c(maxs),
        "mean": c(mean),
        "std": c(np.sqrt(var)),
        "count": [int(total)],
    }
    for key in QUANTILE_KEYS:
        if all(key in p for p in parts):
            q = np.array([np.asarray(p[key], dtype=np.float64).reshape(3) for p in parts])
            out[key] = c((q * counts[:, None]).sum(axis=0) / total)
    return out


# --------------------------------------------------------------------------- atomic files


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success it replaces ``path`` in one rename.

    A crash leaves either the old file or the new one, never half of either.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600; dataset files are shared (a server, lerobot, a colleague) like any
        # file this user writes, so give them the mode the umask grants a new file.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(f"missing dataset file {path}", code="dataset_not_found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"corrupt dataset file {path}: {exc}") from exc
