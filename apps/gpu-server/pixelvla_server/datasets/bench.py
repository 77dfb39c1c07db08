"""`python -m pixelvla_server.datasets.bench`: video dataset decoding speed, printed as JSON.

On a 480x640, 30 fps AV1 episode (lerobot's codec and settings, written by pixelvla.data):

- sequential: frames/s decoding the whole episode in one pass (what training does);
- random access: frames/s decoding single frames at random positions, each with its own seek;
- filmstrip: latency of GET .../frames/{t} (decode + JPEG) for every frame in filmstrip order
  through the real app, cold (empty frame cache) and warm (cached), p50/p95/max in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

H, W, FPS = 480, 640, 30


def _frames(n: int) -> list[np.ndarray]:
    """Camera-like content: smooth gradients, a moving blob and sensor noise (noise is what makes
    real footage expensive to decode; flat synthetic frames would flatter the decoder)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for t in range(n):
        cx, cy = W * (0.2 + 0.6 * t / n), H * 0.5
        blob = 120 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 60.0**2))
        img = np.stack([60 + 120 * x / W + blob, 50 + 100 * y / H, 90 + 0.5 * blob], -1)
        img += rng.normal(0, 6, img.shape).astype(np.float32)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _pct(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(s), 2),
        "p95_ms": round(1000 * s[min(len(s) - 1, int(0.95 * len(s)))], 2),
        "max_ms": round(1000 * s[-1], 2),
    }


def run(seconds: float, random_frames: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from pixelvla.data import EpisodeRecord, LeRobotWriter, open_dataset
    from pixelvla.data.video import decode_times, tolerance_s

    from ..app import create_app
    from ..config import Settings

    n = int(seconds * FPS)
    with tempfile.TemporaryDirectory(prefix="pixelvla-video-bench-") as tmp:
        root = Path(tmp) / "user" / "so101"
        joints = [f"j{i}" for i in range(6)]
        writer = LeRobotWriter(
            root, cameras={"front": (H, W)}, state_names=joints, action_names=joints, fps=FPS, video=True
        )
        frames = _frames(n)
        t0 = time.perf_counter()
        writer.write_episode(
            0,
            EpisodeRecord(
                frames={"front": frames},
                actions=np.zeros((n, 6), np.float32),
                states=np.zeros((n, 6), np.float32),
                task="bench",
            ),
        )
        writer.finalize()
        encode_s = time.perf_counter() - t0
        ds = open_dataset(root)
        ep = ds.episode(0)
        path = ep.info.videos["front"].path

        t0 = time.perf_counter()
        decoded = list(ep.frames("front"))
        seq_s = time.perf_counter() - t0
        mae = float(
            np.mean([np.abs(a.astype(np.float32) - b).mean() for a, b in zip(decoded, frames, strict=True)])
        )

        rng = np.random.default_rng(1)
        picks = rng.integers(0, n, random_frames)
        times = ep.info.videos["front"].from_timestamp + ep.timestamps.astype(np.float64)
        t0 = time.perf_counter()
        for i in picks:
            decode_times(path, [float(times[i])], tolerance_s(FPS))
        rand_s = time.perf_counter() - t0

        settings = Settings(
            device="cpu", data_dir=Path(tmp) / "data", datasets_dir=root.parent, load_model=False
        )
        with TestClient(create_app(settings)) as client:
            url = "/v1/datasets/so101/episodes/0/frames/{t}?camera=front&quality=80"
            cold: list[float] = []
            warm: list[float] = []
            for samples in (cold, warm):
                for t in range(n):
                    s = time.perf_counter()
                    r = client.get(url.format(t=t))
                    samples.append(time.perf_counter() - s)
                    if r.status_code != 200:
                        raise RuntimeError(f"frame {t}: HTTP {r.status_code} {r.text[:200]}")
    return {
        "episode": {
            "frames": n,
            "height": H,
            "width": W,
            "fps": FPS,
            "codec": "av1 (libsvtav1, crf 30, g 2)",
        },
        "encode_fps": round(n / encode_s, 1),
        "sequential_decode_fps": round(n / seq_s, 1),
        "random_access_decode_fps": round(random_frames / rand_s, 1),
        "decode_mae_0_255": round(mae, 3),
        "filmstrip_frame_cold": _pct(cold),
        "filmstrip_frame_warm": _pct(warm),
        "filmstrip_total_cold_s": round(sum(cold), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="episode length (default 5 s = 150 frames)")
    ap.add_argument("--random-frames", type=int, default=60)
    args = ap.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "video_dataset": run(args.seconds, args.random_frames),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
