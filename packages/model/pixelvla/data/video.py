"""Video features of LeRobot v3.0 datasets: decode (and encode) camera frames stored as mp4.

A v3 video file holds several episodes back to back; ``meta/episodes`` gives each episode's
``videos/<key>/from_timestamp``, and frame t of the episode is the video frame shown at
``from_timestamp + timestamp[t]`` (the data parquet's ``timestamp`` column). This module decodes
exactly like lerobot's PyAV path: seek to the keyframe at or before the first wanted time, decode
forward, and take for each wanted time the nearest decoded frame, which must lie within a tolerance
(else the file and the metadata disagree, a :class:`DatasetError`, never a silent wrong frame).

Any codec PyAV (FFmpeg) decodes works: AV1 (libdav1d), h264, hevc, ffv1, ... Encoding uses lerobot's
defaults (libsvtav1, yuv420p, GOP 2, CRF 30), so what :mod:`pixelvla.data.writer` writes with
``video=True`` is what ``lerobot-record`` would have written.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from pixelvla.data.format import DatasetError, FrameSequence

# lerobot's encoder defaults (lerobot.configs.video.VideoEncoderConfig), recorded in info.json.
AV1_CODEC = "libsvtav1"
DEFAULT_PIX_FMT = "yuv420p"
DEFAULT_GOP = 2
DEFAULT_CRF = 30
DEFAULT_PRESET = 12

_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError, ValueError, IndexError)


def tolerance_s(fps: float) -> float:
    """How far a decoded frame may sit from the wanted time: under half a frame period, so the
    nearest frame is never ambiguous, and well above timestamp rounding (float32 in parquet)."""
    return 0.4 / float(fps)


def _open(path: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"missing video file {path}", code="dataset_not_found")
    try:
        container = av.open(str(path))
    except _AV_ERRORS as exc:
        raise DatasetError(f"corrupt video file {path}: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise DatasetError(f"corrupt video file {path}: no video stream")
    return container


def decode_times(path: Path, times: Sequence[float], tol: float) -> list[np.ndarray]:
    """RGB uint8 (H, W, 3) frames of ``path`` shown at ``times`` (seconds), in the order asked.

    One seek and one forward pass cover all of ``times``, so asking for a whole episode at once is
    as cheap as decoding it sequentially.
    """
    if len(times) == 0:
        return []
    want = np.asarray(times, dtype=np.float64)
    first, last = float(want.min()), float(want.max())
    got_t: list[float] = []
    got_f: list[np.ndarray] = []
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base if stream.time_base is not None else Fraction(1, 1_000_000)
        # Land on the keyframe at or before `first` (one tick of margin, as lerobot does).
        container.seek(max(round(first / tb) - 1, 0), backward=True, any_frame=False, stream=stream)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            ts = float(frame.pts * tb)
            if ts < first - tol:
                continue  # frames between the keyframe and the first wanted one
            got_t.append(ts)
            got_f.append(frame.to_ndarray(format="rgb24"))
            if ts >= last:
                break
    except _AV_ERRORS as exc:
        raise DatasetError(f"corrupt video file {path}: {exc}") from exc
    finally:
        container.close()
    if not got_f:
        raise DatasetError(
            f"video file {path} has no frame in [{first:.4f}, {last:.4f}] s (episode past the video's end?)"
        )
    loaded = np.asarray(got_t)
    idx = np.abs(want[:, None] - loaded[None, :]).argmin(axis=1)
    off = np.abs(loaded[idx] - want)
    if (off > tol).any():
        bad = float(want[int(off.argmax())])
        raise DatasetError(
            f"video file {path} has no frame within {tol * 1000:.1f} ms of {bad:.4f} s "
            f"(nearest {float(loaded[idx[int(off.argmax())]]):.4f} s): metadata and video disagree"
        )
    return [got_f[i] for i in idx]


class VideoFrames(FrameSequence):
    """One camera's frames of one episode, decoded lazily from its mp4 (uint8 (H, W, 3)).

    Iterating decodes the episode in one pass; indexing decodes one frame (seek to the previous
    keyframe, then forward). Recently decoded frames are kept, so stepping frame by frame does not
    seek again for each one.
    """

    def __init__(
        self, path: Path, times: np.ndarray, tol: float, camera: str, *, window: int = 8, keep: int = 64
    ) -> None:
        self.path, self._times, self._tol, self._camera = path, np.asarray(times, np.float64), tol, camera
        self._window, self._keep = max(1, window), max(1, keep)
        self._cache: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._times)

    def _frame(self, i: int) -> np.ndarray:
        n = len(self)
        with self._lock:
            hit = self._cache.get(i)
        if hit is not None:
            return hit
        # Decode a short window ahead too: scrubbing forward then finds its next frames ready.
        span = list(range(i, min(n, i + self._window)))
        frames = decode_times(self.path, self._times[span].tolist(), self._tol)
        with self._lock:
            for j, f in zip(span, frames, strict=True):
                self._cache[j] = f
            while len(self._cache) > self._keep:
                self._cache.pop(next(iter(self._cache)))
        return frames[0]

    def get_many(self, indices: Sequence[int]) -> list[np.ndarray]:
        if not indices:
            return []
        return decode_times(self.path, self._times[list(indices)].tolist(), self._tol)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(decode_times(self.path, self._times.tolist(), self._tol))


def encoder_info(height: int, width: int, fps: int) -> dict[str, Any]:
    """The ``info`` block lerobot records for a video feature it encoded with its defaults."""
    return {
        "video.height": height,
        "video.width": width,
        "video.codec": "av1",
        "video.pix_fmt": DEFAULT_PIX_FMT,
        "video.fps": fps,
        "video.channels": 3,
        "has_audio": False,
        "video.g": DEFAULT_GOP,
        "video.crf": DEFAULT_CRF,
        "video.preset": DEFAULT_PRESET,
        "video.fast_decode": 0,
        "video.video_backend": "pyav",
        "video.extra_options": {},
        "is_depth_map": False,
    }


def encode_av1(path: Path, frames: Sequence[np.ndarray], fps: int) -> None:
    """Encode RGB uint8 frames as an AV1 mp4 the way lerobot does (libsvtav1, yuv420p, g=2, crf=30).

    Frame t gets pts t/fps, so the episode's timestamps are t/fps from 0.
    """
    if len(frames) == 0:
        raise DatasetError("cannot encode an empty video")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise DatasetError(f"AV1 (yuv420p) needs even frame sizes, got {h}x{w}")
    # SVT-AV1 prints its whole configuration to stderr at every encoder start unless told not to;
    # an operator's own SVT_LOG setting wins.
    os.environ.setdefault("SVT_LOG", "1")
    options = {
        "g": str(DEFAULT_GOP),
        "crf": str(DEFAULT_CRF),
        "preset": str(DEFAULT_PRESET),
        "svtav1-params": "fast-decode=0:lp=1",
    }
    policy = os.sched_getscheduler(0)
    try:
        with av.open(str(path), "w", format="mp4") as out:
            stream: Any = out.add_stream(AV1_CODEC, rate=int(fps), options=options)
            stream.pix_fmt = DEFAULT_PIX_FMT
            stream.width, stream.height = w, h
            for f in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    except _AV_ERRORS as exc:
        raise DatasetError(f"could not encode video {path}: {exc}") from exc
    finally:
        # Run as root, SVT-AV1 switches the calling thread to SCHED_FIFO (real time) and leaves it so:
        # every later child process inherits it, and two real-time busy processes on two cores starve
        # the machine (seen: the test suite hung). Put the caller's policy back.
        if os.sched_getscheduler(0) != policy:
            os.sched_setscheduler(0, policy, os.sched_param(0))
