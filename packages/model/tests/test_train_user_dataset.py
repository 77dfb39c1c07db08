"""Training on a dataset shaped like a user's, not our sim's: a 6-D SO-101 joint-space AV1 video
dataset with its own camera name. A fresh model takes its action and state widths from the dataset's
metadata, trains base then stage 2, and a checkpoint of another width is a typed error naming both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pixelvla import prompts as P
from pixelvla import rle
from pixelvla.checkpoint import load_bundle
from pixelvla.data import DatasetError, EpisodeRecord, LeRobotWriter, open_dataset
from pixelvla.train.config import TrainConfig
from pixelvla.train.loop import train
from pixelvla.train.metrics import read_metrics

SO101 = [
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
]
H, W, T = 48, 64, 10


def _episode(e: int) -> EpisodeRecord:
    y0, x0 = 10 + 4 * e, 12 + 6 * e
    frames = np.full((T, H, W, 3), 50, np.uint8)
    frames[:, y0 : y0 + 12, x0 : x0 + 12] = (200, 60, 40)
    mask = np.zeros((H, W), bool)
    mask[y0 : y0 + 12, x0 : x0 + 12] = True
    t = np.arange(T, dtype=np.float32)[:, None]
    joints = (np.sin(t / 4 + np.arange(6)) * 40 + 10 * e).astype(np.float32)  # degrees, absolute
    return EpisodeRecord(
        frames={"top": frames},
        actions=joints,
        states=joints - 1.0,
        task="pick up the red block",
        annotation={
            "accepted": True,
            "target_object": "block",
            "mask_rle": dict(rle.encode(mask)),
            "prompts": P.prompts_to_json([P.Box(x0 / W, y0 / H, (x0 + 12) / W, (y0 + 12) / H)]),
            "decisions": [],
        },
    )


@pytest.fixture(scope="module")
def so101(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user") / "so101_pick"
    w = LeRobotWriter(
        root,
        cameras={"top": (H, W)},
        state_names=SO101,
        action_names=SO101,
        fps=30,
        robot_type="so101_follower",
        video=True,
    )
    for e in range(2):
        w.write_episode(e, _episode(e))
    w.finalize()
    return root


def _cfg(dataset: Path, out: Path, stage: str, **kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        stage=stage,
        dataset=str(dataset),
        out_dir=str(out),
        steps=2,
        batch_size=4,
        warmup_steps=1,
        log_every=1,
        checkpoint_every=2,
        tensorboard=False,
        seed=3,
    )
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_a_6d_so101_video_dataset_trains_base_then_stage2(so101: Path, tmp_path: Path) -> None:
    ds = open_dataset(so101)
    assert (ds.action_dim, ds.state_dim, ds.cameras, ds.gripper_dims()) == (6, 6, ["top"], (5,))
    base = train(_cfg(so101, tmp_path / "base", "base"), progress=False)
    bundle = load_bundle(base.bundle)
    assert bundle.model.config.action.action_dim == 6 and bundle.model.config.state_dim == 6
    assert bundle.normalizer.gripper_dims == (5,)
    s2 = train(_cfg(so101, tmp_path / "s2", "stage2", init=str(base.bundle)), progress=False)
    records = [r for r in read_metrics(s2.run_dir / "metrics.jsonl") if r.get("kind") == "train"]
    assert s2.bundle is not None and records and set(records[-1]["l1_per_dim"]) == set(SO101)
    assert np.isfinite(records[-1]["loss"])


def test_a_checkpoint_of_another_width_is_a_typed_error_naming_both(
    so101: Path, tmp_path: Path, sim_like_bundle: Path
) -> None:
    with pytest.raises(DatasetError, match=r"6-D.*7-D"):
        train(_cfg(so101, tmp_path / "bad", "stage1", init=str(sim_like_bundle)), progress=False)


@pytest.fixture(scope="module")
def sim_like_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pixelvla.checkpoint import make_random_tiny_bundle

    return make_random_tiny_bundle(tmp_path_factory.mktemp("tiny") / "random-tiny", seed=0)
