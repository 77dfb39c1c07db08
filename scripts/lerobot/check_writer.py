"""The other direction: real lerobot opens and edits what pixelvla.data's writer wrote.

Run by ``scripts/lerobot-fixtures.sh check`` in the lerobot side environment, with
packages/model on PYTHONPATH. For a PNG dataset and an AV1 (``video=True``) dataset written by
LeRobotWriter it checks, with lerobot 0.6.1:

* LeRobotDataset opens it: len, features, every item's action/state equal to what we wrote, frames
  equal (PNG) or close (AV1, mean absolute error < 4), delta_timestamps, a DataLoader batch;
* lerobot-edit-dataset delete_episodes and recompute_stats keep q01..q99 in meta/stats.json;
* the Pixel sidecar: delete_episodes does not carry meta/pixel_annotations.jsonl; after an in-place
  delete, pixelvla.data finds it in lerobot's backup (<root>_old) and maps each record onto its
  renumbered episode by content.

Prints one JSON line per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from pixelvla.data import EpisodeRecord, LeRobotWriter, open_dataset

H, W, FPS = 48, 64, 30
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def frame(e: int, t: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.stack([40 + 150 * x / W + 20 * e, 60 + 120 * y / H, 100 + 60 * np.sin(t / 4 + e) + 0 * x], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def write(root: Path, video: bool) -> list[EpisodeRecord]:
    w = LeRobotWriter(
        root, cameras={"front": (H, W)}, state_names=JOINTS, action_names=JOINTS, fps=FPS,
        robot_type="so101_follower", video=video,
    )  # fmt: skip
    episodes = []
    for e, n in enumerate([9, 13, 11]):
        t = np.arange(n, dtype=np.float32)[:, None]
        ep = EpisodeRecord(
            frames={"front": [frame(e, i) for i in range(n)]},
            actions=(np.sin(t / 5 + np.arange(6)) + e).astype(np.float32),
            states=(np.cos(t / 5 + np.arange(6)) - e).astype(np.float32),
            task=["pick up the red cube", "put it in the bowl"][e % 2],
            annotation={"target_object": f"cube {e}", "accepted": True},
        )
        w.write_episode(e, ep)
        episodes.append(ep)
    w.finalize()
    return episodes


def ok(check: str, **kw: object) -> None:
    print(json.dumps({"check": check, "ok": True, **kw}), flush=True)


def edit(*args: str) -> None:
    exe = Path(sys.executable).with_name("lerobot-edit-dataset")
    subprocess.run([str(exe), *args], check=True, capture_output=True)


def has_quantiles(root: Path) -> bool:
    stats = json.loads((root / "meta" / "stats.json").read_text())
    return all(q in stats[k] for k in ("action", "observation.state") for q in ("q01", "q50", "q99"))


def check(kind: str, tmp: Path) -> None:
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    video = kind == "video"
    root = tmp / f"ours_{kind}"
    episodes = write(root, video)
    ds = LeRobotDataset(f"pixelvla/ours_{kind}", root=root, video_backend="pyav")
    assert len(ds) == sum(len(e.actions) for e in episodes), len(ds)
    assert ds.meta.total_episodes == 3
    assert set(ds.features) >= {"observation.images.front", "observation.state", "action"}
    assert ds.features["observation.images.front"]["dtype"] == ("video" if video else "image")
    worst = 0.0
    i = 0
    for e, ep in enumerate(episodes):
        for t in range(len(ep.actions)):
            item = ds[i]
            np.testing.assert_array_equal(item["action"].numpy(), ep.actions[t])
            np.testing.assert_array_equal(item["observation.state"].numpy(), ep.states[t])
            assert int(item["episode_index"]) == e and item["task"] == ep.task
            img = (item["observation.images.front"].numpy() * 255).round().transpose(1, 2, 0)
            err = float(np.abs(img - ep.frames["front"][t]).mean())
            worst = max(worst, err)
            i += 1
    assert worst < (4.0 if video else 1e-6), worst
    ok(f"{kind}: lerobot reads every item", items=len(ds), frame_mae=round(worst, 3))

    dt = {"action": [0.0, 1 / FPS, 2 / FPS], "observation.images.front": [-1 / FPS, 0.0]}
    ds_dt = LeRobotDataset(f"pixelvla/ours_{kind}", root=root, delta_timestamps=dt, video_backend="pyav")
    item = ds_dt[10]  # episode 1, frame 1
    np.testing.assert_array_equal(item["action"].numpy(), episodes[1].actions[1:4])
    assert tuple(item["observation.images.front"].shape) == (2, 3, H, W)
    loader = torch.utils.data.DataLoader(ds_dt, batch_size=4, shuffle=True, num_workers=0)
    batch = next(iter(loader))
    assert tuple(batch["action"].shape) == (4, 3, 6), batch["action"].shape
    ok(f"{kind}: delta_timestamps and a DataLoader batch", batch_action=list(batch["action"].shape))

    # lerobot's tools on our dataset: quantiles survive (they aggregate our per-episode stats).
    deleted = tmp / f"ours_{kind}_deleted"
    edit(
        "--repo_id", f"pixelvla/ours_{kind}", "--root", str(root), "--new_repo_id",
        f"pixelvla/ours_{kind}_deleted", "--new_root", str(deleted),
        "--operation.type", "delete_episodes", "--operation.episode_indices", "[0]",
    )  # fmt: skip
    assert has_quantiles(deleted), "delete_episodes lost the quantiles"
    assert not (deleted / "meta" / "pixel_annotations.jsonl").exists()
    ours = open_dataset(deleted)
    assert ours.num_episodes == 2 and ours.action_bounds()[0].shape == (6,)
    ok(f"{kind}: delete_episodes keeps q01..q99 (and drops the sidecar)")

    recomputed = tmp / f"ours_{kind}_recomputed"
    edit(
        "--repo_id", f"pixelvla/ours_{kind}", "--root", str(root), "--new_root", str(recomputed),
        "--operation.type", "recompute_stats",
    )  # fmt: skip
    assert has_quantiles(recomputed), "recompute_stats lost the quantiles"
    open_dataset(recomputed).action_bounds()
    ok(f"{kind}: recompute_stats keeps q01..q99")

    # In place: lerobot moves the original (with our sidecar) to <root>_old and writes anew.
    inplace = tmp / f"ours_{kind}_inplace"
    shutil.copytree(root, inplace)
    edit(
        "--repo_id", f"pixelvla/ours_{kind}_inplace", "--root", str(inplace), "--new_root", str(inplace),
        "--operation.type", "delete_episodes", "--operation.episode_indices", "[1]",
    )  # fmt: skip
    restored = open_dataset(inplace)
    got = {i: a["target_object"] for i, a in restored.annotations.items()}
    assert got == {0: "cube 0", 1: "cube 2"}, got
    assert (inplace.with_name(inplace.name + "_old") / "meta" / "pixel_annotations.jsonl").is_file()
    assert not (inplace / "meta" / "pixel_annotations.jsonl").exists()
    ok(f"{kind}: sidecar restored after an in-place delete_episodes", annotations=got, notes=restored.notes)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lerobot-check-") as t:
        for kind in ("image", "video"):
            check(kind, Path(t))
    print(json.dumps({"check": "all", "ok": True}))


if __name__ == "__main__":
    main()
