"""Datasets by id, in the LeRobot v3.0 layout (pixelvla.data), plus studio annotations.

Datasets are <data-dir>/datasets/<id> and the datasets of the operator's --datasets-dir (see
ids.find_datasets): anything lerobot writes, image or video cameras. Frames are decoded here, on the
server, and kept in a byte-bounded LRU cache; a video miss decodes a window of the following frames
in the same pass, so scrubbing or a filmstrip costs one seek per window, not one per frame.

Datasets on disk are treated as immutable. Annotations drawn in the studio are stored beside them, in
<data-dir>/annotations/<dataset>/episode-<index>/v<NNNN>.json, one file per version, written atomically
and never overwritten (a version is created with an exclusive link, so two writers cannot both win).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import ApiError, Conflict, NotFound
from ..ids import annotations_root, dataset_dir, find_datasets


def _version_of(name: str) -> int | None:
    digits = name[1:-5]  # v0001.json
    return int(digits) if digits.isdigit() else None


class DatasetUnavailable(ApiError):
    status = 422
    code = "invalid_dataset"


class FrameCache:
    """Decoded frames (uint8 arrays) by key, least recently used evicted past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> np.ndarray | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], frame: np.ndarray) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = frame
            self._bytes += frame.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class Catalog:
    def __init__(
        self,
        settings: Settings,
        max_episodes: int = 16,
        frame_cache_bytes: int = 256 * 1024 * 1024,
        video_window: int = 16,
    ):
        self.settings = settings
        self._open: dict[str, tuple[float, Any]] = {}
        self._episodes: OrderedDict[tuple[str, float, int], Any] = OrderedDict()
        self._frames: OrderedDict[tuple[str, float, int, str], Any] = OrderedDict()
        self.frame_cache = FrameCache(frame_cache_bytes)
        self.video_window = max(1, video_window)
        self._decoding: dict[tuple[str, float, int, str], threading.Lock] = {}
        self._max = max_episodes
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        return list(find_datasets(self.settings))

    def open(self, dataset_id: str) -> Any:
        """The pixelvla.data LocalDataset, reopened when its info.json changes."""
        from pixelvla.data import DatasetError, open_dataset

        path = dataset_dir(self.settings, dataset_id)
        try:
            mtime = (path / "meta" / "info.json").stat().st_mtime
        except OSError as exc:
            raise NotFound(f"dataset {dataset_id!r} has no meta/info.json", code="unknown_dataset") from exc
        with self._lock:
            hit = self._open.get(dataset_id)
            if hit is not None and hit[0] == mtime:
                return hit[1]
        try:
            ds = open_dataset(path)
        except DatasetError as exc:
            raise DatasetUnavailable(
                f"dataset {dataset_id!r} cannot be read: {exc.message}", code=exc.code
            ) from exc
        with self._lock:
            self._open[dataset_id] = (mtime, ds)
        return ds

    def _mtime(self, dataset_id: str) -> float:
        return self._open[dataset_id][0]

    def episode(self, dataset_id: str, index: int) -> Any:
        from pixelvla.data import DatasetError

        ds = self.open(dataset_id)
        if not 0 <= index < ds.num_episodes:
            raise NotFound(
                f"episode {index} is not in dataset {dataset_id!r} ({ds.num_episodes} episodes)",
                code="unknown_episode",
            )
        key = (dataset_id, self._mtime(dataset_id), index)
        with self._lock:
            if key in self._episodes:
                self._episodes.move_to_end(key)
                return self._episodes[key]
        try:
            ep = ds.episode(index)
        except DatasetError as exc:
            raise DatasetUnavailable(exc.message, code=exc.code) from exc
        with self._lock:
            self._episodes[key] = ep
            while len(self._episodes) > self._max:
                self._episodes.popitem(last=False)
        return ep

    def frame(self, dataset_id: str, index: int, t: int, camera: str) -> np.ndarray:
        from pixelvla.data import DatasetError

        ep = self.episode(dataset_id, index)
        if not 0 <= t < ep.length:
            raise NotFound(f"frame {t} is not in episode {index} (length {ep.length})", code="unknown_frame")
        ds = self.open(dataset_id)
        if camera not in ds.cameras:
            raise NotFound(
                f"camera {camera!r} is not in dataset {dataset_id!r} ({ds.cameras})", code="unknown_camera"
            )
        key = (dataset_id, self._mtime(dataset_id), index, camera)
        hit = self.frame_cache.get((*key, t))
        if hit is not None:
            return hit
        with self._lock:
            decoding = self._decoding.setdefault(key, threading.Lock())
        # One decoder per episode camera at a time: the parallel requests of a filmstrip wait for the
        # window being decoded instead of each seeking the same video again.
        with decoding:
            hit = self.frame_cache.get((*key, t))
            if hit is not None:
                return hit
            frames = self._episode_frames(key, ep, camera)
            try:
                if ds.features[ds.camera_key(camera)]["dtype"] == "video":
                    span = list(range(t, min(ep.length, t + self.video_window)))
                    decoded = frames.get_many(span)
                else:
                    span, decoded = [t], [np.asarray(frames[t])]
            except DatasetError as exc:
                raise DatasetUnavailable(exc.message, code=exc.code) from exc
            for j, f in zip(span, decoded, strict=True):
                f.setflags(write=False)  # shared by every request that hits the cache
                self.frame_cache.put((*key, j), f)
        return decoded[0]

    def _episode_frames(self, key: tuple[str, float, int, str], ep: Any, camera: str) -> Any:
        from pixelvla.data import DatasetError

        with self._lock:
            frames = self._frames.get(key)
            if frames is not None:
                self._frames.move_to_end(key)
                return frames
        try:
            frames = ep.frames(camera)
        except DatasetError as exc:
            raise DatasetUnavailable(exc.message, code=exc.code) from exc
        with self._lock:
            self._frames[key] = frames
            while len(self._frames) > 4:
                self._frames.popitem(last=False)
        return frames

    def load_frame_ref(self, ref: Mapping[str, Any]) -> np.ndarray:
        """For the policy's frame_ref: {dataset, episode, frame, camera}."""
        from ..policy.codec import InvalidObservation

        dataset, episode, frame = ref.get("dataset"), ref.get("episode"), ref.get("frame")
        camera = ref.get("camera", "front")
        if not isinstance(dataset, str) or not isinstance(camera, str):
            raise InvalidObservation("frame_ref needs dataset (id) and camera strings")
        for name, v in (("episode", episode), ("frame", frame)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidObservation(f"frame_ref {name} must be an integer")
        return self.frame(dataset, int(episode), int(frame), camera)  # type: ignore[arg-type]

    def frame_size(self, dataset_id: str, index: int, camera: str) -> tuple[int, int]:
        """(H, W) of the camera's frames in an episode, read off its first frame (whatever shape
        info.json declares). Masks drawn on it must have exactly this size."""
        frame = self.frame(dataset_id, index, 0, camera)
        return int(frame.shape[0]), int(frame.shape[1])

    # ---- studio annotations ------------------------------------------------------------------------
    def _ann_dir(self, dataset_id: str, index: int) -> Path:
        return annotations_root(self.settings) / dataset_id / f"episode-{index:06d}"

    def annotation_versions(self, dataset_id: str, index: int) -> list[dict[str, Any]]:
        self.episode(dataset_id, index)  # validates ids
        folder = self._ann_dir(dataset_id, index)
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.glob("v*.json")):
            try:
                record = json.loads(p.read_text())
            except (OSError, ValueError, RecursionError):
                continue
            # Only what this server wrote: an object numbered as its file (a foreign or edited file
            # must not become "latest", nor turn the history into a 500).
            if isinstance(record, dict) and record.get("version") == _version_of(p.name):
                out.append(record)
        return out

    def add_annotation(
        self, dataset_id: str, index: int, record: dict[str, Any], base_version: int | None
    ) -> dict[str, Any]:
        versions = self.annotation_versions(dataset_id, index)
        latest = versions[-1]["version"] if versions else 0
        if base_version is not None and base_version != latest:
            raise Conflict(
                f"annotation changed since version {base_version} (latest is {latest}); reload and retry",
                code="annotation_conflict",
            )
        folder = self._ann_dir(dataset_id, index)
        folder.mkdir(parents=True, exist_ok=True)
        version = latest + 1
        record = {
            **record,
            "version": version,
            "created_at": time.time(),
            "dataset": dataset_id,
            "episode": index,
        }
        tmp = folder / f".tmp-{os.getpid()}-{threading.get_ident()}-{version}.json"
        tmp.write_text(json.dumps(record))
        try:
            os.link(tmp, folder / f"v{version:04d}.json")  # fails if another writer took this version
        except FileExistsError as exc:
            raise Conflict(
                f"another client saved version {version} first; reload and retry", code="annotation_conflict"
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return record
