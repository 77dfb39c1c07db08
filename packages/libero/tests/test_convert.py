"""npz episodes (what the LIBERO-side generator writes) -> a LeRobot v3 dataset that the project's
reader and training batches accept, with the Pixel sidecar intact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pixelvla.data import DatasetError, open_dataset
from pixelvla_libero import convert, rle
from pixelvla_libero.prompts import sample_prompts


def _episode(out: Path, name: str, t: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = np.zeros((32, 32), bool)
    mask[10:20, 5:15] = True
    meta = {
        "suite": "libero_spatial",
        "task_id": seed,
        "init_state": 0,
        "task": f"pick up the black bowl {seed}",
        "annotation": {
            "accepted": True,
            "reason": None,
            "target_object": "akita_black_bowl_1",
            "camera": "front",
            "frame_index": 0,
            "mask_rle": rle.encode(mask),
            "prompts": sample_prompts(mask, rng),
            "decisions": [],
        },
    }
    np.savez_compressed(
        out / f"{name}.npz",
        front=rng.integers(0, 255, (t, 32, 32, 3), dtype=np.uint8),
        state=rng.normal(size=(t, 8)).astype(np.float32),
        action=rng.uniform(-1, 1, (t, 7)).astype(np.float32),
        meta=np.array(json.dumps(meta)),
    )


def test_convert_writes_a_dataset_the_project_reads_and_resumes(tmp_path: Path) -> None:
    src, dst = tmp_path / "npz", tmp_path / "ds"
    src.mkdir()
    _episode(src, "libero_spatial-t00-i00", 5, 0)
    _episode(src, "libero_spatial-t01-i00", 7, 1)
    assert convert.convert(src, dst) == 2
    ds = open_dataset(dst)
    assert ds.num_episodes == 2
    ep = ds.episode(1)
    assert ep.task == "pick up the black bowl 1"
    assert ep.actions.shape == (7, 7) and ep.state.shape == (7, 8)
    frames = np.stack(list(ep.frames("front")))
    with np.load(src / "libero_spatial-t01-i00.npz") as z:
        assert np.array_equal(frames, z["front"])  # PNG is lossless
    assert (
        ep.annotation is not None
        and ep.annotation["accepted"]
        and ep.annotation["mask_rle"]["size"] == [32, 32]
    )
    # a later episode that sorts first is appended; the first two keep their indices
    _episode(src, "libero_spatial-t00-i01", 4, 2)
    assert convert.convert(src, dst) == 3
    assert convert.convert(src, dst) == 3  # nothing new: nothing written
    ds = open_dataset(dst)
    assert [ds.episode(i).task for i in range(3)] == [f"pick up the black bowl {i}" for i in range(3)]


def test_convert_refuses_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError):
        convert.convert(tmp_path, tmp_path / "ds")
