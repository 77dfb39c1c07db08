"""Write the LeRobot compatibility fixtures with real lerobot (run by scripts/lerobot-fixtures.sh).

Every fixture is a small LeRobotDataset v3.0 written or edited by lerobot itself, so pixelvla.data's
reader is tested against the files lerobot really produces (not against our idea of them):

    so101_image          image features (PNG in parquet), 2 cameras of different sizes, 6-D state/action
    so101_video          the same episodes as AV1 video (lerobot's default), several episodes per mp4
    so101_video_h264     h264 video, tiny file limits: one data/video file per episode (chunk/file indices)
    so101_video_deleted  lerobot-edit-dataset delete_episodes [1] of so101_video (row groups rewritten)
    merged_video         lerobot-edit-dataset merge of so101_video and a second dataset
    image_to_video       lerobot-edit-dataset convert_image_to_video of so101_image (no `tasks` column)

Beside each, ``<name>.expected.json`` holds what the dataset must decode to, read back *through lerobot*
(LeRobotDataset.__getitem__): per episode the task, length, every action and state; per checked frame
the source image (PNG, base64), and the mean and sha256 of lerobot's own decoded frame.

Frames are smooth synthetic images (gradient + moving blob) so a lossy codec stays close to the
source; each frame's state[5] carries a unique id so an edited dataset's frames can be traced back
to the source image that produced them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

FPS = 30
CAMERAS = {"front": (48, 64), "wrist": (24, 32)}
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
TASKS = ["pick up the red cube", "put the cube in the bowl"]
SOURCES: dict[int, np.ndarray] = {}  # frame uid -> {camera: frame}


def synth_frame(uid: int, h: int, w: int) -> np.ndarray:
    """A smooth frame (codec-friendly) that differs per uid: gradient + a moving Gaussian blob."""
    ep, t = divmod(uid, 1000)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 150 * x / w + 10 * (ep % 5)
    g = 60 + 120 * y / h
    b = 100 + 60 * np.sin(t / 4.0 + ep)
    cx, cy = (0.2 + 0.6 * ((t * 0.07 + ep * 0.3) % 1.0)) * w, (0.3 + 0.2 * (ep % 3)) * h
    blob = 90 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (0.12 * w) ** 2))
    img = np.stack([r + blob, g - 0.5 * blob, b + 0.3 * blob], axis=-1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def features(video: bool) -> dict:
    out: dict = {
        f"observation.images.{cam}": {
            "dtype": "video" if video else "image",
            "shape": (h, w, 3),
            "names": ["height", "width", "channels"],
        }
        for cam, (h, w) in CAMERAS.items()
    }
    out["observation.state"] = {"dtype": "float32", "shape": (6,), "names": JOINTS}
    out["action"] = {"dtype": "float32", "shape": (6,), "names": JOINTS}
    return out


def write_source(root: Path, *, video: bool, tag: int, lengths: list[int], **kwargs) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset.create(
        f"pixelvla/fixture-{root.name}",
        fps=FPS,
        features=features(video),
        root=root,
        robot_type="so101_follower",
        use_videos=video,
        **kwargs,
    )
    for e, n in enumerate(lengths):
        ep_uid = tag * 10 + e
        for t in range(n):
            uid = ep_uid * 1000 + t
            phase = t / FPS
            state = np.array(
                [np.sin(phase + e), np.cos(phase), 0.5 * phase, -0.2 * e, 0.1 * t, uid], np.float32
            )
            action = np.array(
                [
                    np.sin(phase + e + 0.1),
                    np.cos(phase + 0.1),
                    0.5 * phase + 0.02,
                    -0.2 * e,
                    0.1 * t + 0.1,
                    t % 2,
                ],
                np.float32,
            )
            frame = {"observation.state": state, "action": action, "task": TASKS[(e + tag) % 2]}
            for cam, (h, w) in CAMERAS.items():
                img = synth_frame(uid, h, w)
                SOURCES.setdefault(uid, {})[cam] = img
                frame[f"observation.images.{cam}"] = img
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()


def edit(*args: str) -> None:
    exe = Path(sys.executable).with_name("lerobot-edit-dataset")
    subprocess.run([str(exe), *args], check=True)


def png_b64(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def expected(root: Path) -> dict:
    """What the dataset decodes to, read through lerobot itself."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(f"pixelvla/fixture-{root.name}", root=root, video_backend="pyav")
    meta = ds.meta
    episodes = []
    for ep in range(meta.total_episodes):
        row = meta.episodes[ep]
        start, end = int(row["dataset_from_index"]), int(row["dataset_to_index"])
        actions, states, frames = [], [], []
        items = [ds[i] for i in range(start, end)]
        for item in items:
            actions.append(item["action"].numpy().tolist())
            states.append(item["observation.state"].numpy().tolist())
        n = end - start
        for t in sorted({0, n // 2, n - 1}):
            item = items[t]
            uid = round(float(item["observation.state"][5]))
            for cam in CAMERAS:
                if cam == "wrist" and t != n // 2:
                    continue
                lr = (item[f"observation.images.{cam}"].numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
                lr = lr.transpose(1, 2, 0)
                frames.append(
                    {
                        "frame": t,
                        "camera": cam,
                        "source_png": png_b64(SOURCES[uid][cam]),
                        "lerobot_mean": lr.reshape(-1, 3).mean(axis=0).tolist(),
                        "lerobot_sha256": hashlib.sha256(np.ascontiguousarray(lr).tobytes()).hexdigest(),
                    }
                )
        episodes.append(
            {
                "index": ep,
                "length": n,
                "task": items[0]["task"],
                "actions": actions,
                "states": states,
                "frames": frames,
            }
        )
    stats = meta.stats
    return {
        "lerobot_version": __import__("lerobot").__version__,
        "fps": meta.fps,
        "num_episodes": meta.total_episodes,
        "num_frames": meta.total_frames,
        "cameras": sorted(k.split(".", 2)[2] for k in meta.camera_keys),
        "video": bool(meta.video_keys),
        "action_q01": np.asarray(stats["action"]["q01"]).tolist(),
        "action_q99": np.asarray(stats["action"]["q99"]).tolist(),
        "episodes": episodes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lerobot-fixtures-") as tmp_s:
        tmp = Path(tmp_s)
        made: dict[str, Path] = {}
        made["so101_image"] = tmp / "so101_image"
        write_source(made["so101_image"], video=False, tag=0, lengths=[12, 16, 20])
        made["so101_video"] = tmp / "so101_video"
        write_source(made["so101_video"], video=True, tag=0, lengths=[12, 16, 20])
        from lerobot.configs.video import RGBEncoderConfig

        made["so101_video_h264"] = tmp / "so101_video_h264"
        write_source(
            made["so101_video_h264"],
            video=True,
            tag=1,
            lengths=[10, 14, 9],
            rgb_encoder=RGBEncoderConfig(vcodec="h264", crf=18),
            data_files_size_in_mb=0.0001,
            video_files_size_in_mb=0.0001,
        )
        second = tmp / "second_video"
        write_source(second, video=True, tag=2, lengths=[11, 13])

        made["so101_video_deleted"] = tmp / "so101_video_deleted"
        edit(
            "--repo_id", "pixelvla/fixture-so101_video", "--root", str(made["so101_video"]),
            "--new_repo_id", "pixelvla/fixture-so101_video_deleted", "--new_root", str(made["so101_video_deleted"]),
            "--operation.type", "delete_episodes", "--operation.episode_indices", "[1]",
        )  # fmt: skip
        made["merged_video"] = tmp / "merged_video"
        edit(
            "--new_repo_id", "pixelvla/fixture-merged_video", "--new_root", str(made["merged_video"]),
            "--operation.type", "merge",
            "--operation.repo_ids", "['pixelvla/fixture-so101_video', 'pixelvla/fixture-second_video']",
            "--operation.roots", f"['{made['so101_video']}', '{second}']",
        )  # fmt: skip
        made["image_to_video"] = tmp / "image_to_video"
        edit(
            "--repo_id", "pixelvla/fixture-so101_image", "--root", str(made["so101_image"]),
            "--new_repo_id", "pixelvla/fixture-image_to_video", "--new_root", str(made["image_to_video"]),
            "--operation.type", "convert_image_to_video", "--operation.num_workers", "1",
        )  # fmt: skip

        for name, root in made.items():
            exp = expected(root)
            dest = out / name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(root, dest, ignore=shutil.ignore_patterns("images", ".cache"))
            for p in dest.rglob("*"):
                p.chmod(0o755 if p.is_dir() else 0o644)
            (out / f"{name}.expected.json").write_text(json.dumps(exp, indent=1) + "\n")
            print(f"[fixtures] {name}: {exp['num_episodes']} episodes, {exp['num_frames']} frames")


if __name__ == "__main__":
    main()
