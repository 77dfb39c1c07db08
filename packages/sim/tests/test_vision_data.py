"""Labelled frames for vision pretraining: every object's pixels carry its colour-and-kind class,
the hand and containers theirs, depth is metric, and the file round-trips without pickles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pixelvla_sim import vision_data as vd
from pixelvla_sim.robot import SimRobot


def test_labels_follow_the_exact_segmentation() -> None:
    with SimRobot(image_size=128, cameras=("front",)) as robot:
        robot.reset(3, "place")
        labels = vd.label_map(robot)
        for o in robot.scene.objects:
            mask = robot.object_mask(o.name)
            assert mask.any() and (labels[mask] == vd.object_class(o.colour, o.kind)).all(), o
        assert (labels == vd.BOX).any() and (labels == vd.PLATE).any()  # place scenes have both
        assert (labels == vd.HAND).any()  # the hand at home is in view
        depth = vd.depth_map(robot)
        # The front camera is ~0.64 m from the table centre: object pixels are metres away, nearer
        # than the far end of the table.
        some = robot.object_mask(robot.scene.objects[0].name)
        assert 0.3 < float(np.median(depth[some])) < 1.0


def test_generate_is_deterministic_and_loads_without_pickle(tmp_path: Path) -> None:
    cfg = vd.VisionDataConfig(out=tmp_path / "a", scenes=2, frames_per_scene=2, image_size=56)
    summary = vd.generate(cfg)
    vd.generate(vd.VisionDataConfig(out=tmp_path / "b", scenes=2, frames_per_scene=2, image_size=56))
    a, b = vd.load(tmp_path / "a"), vd.load(tmp_path / "b")
    assert summary["frames"] == 4 and a["images"].shape == (4, 56, 56, 3) and a["labels"].shape == (4, 56, 56)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # The hand moves between a scene's frames; the objects do not.
    assert not np.array_equal(a["labels"][0] == vd.HAND, a["labels"][1] == vd.HAND)
    assert int(a["labels"].max()) < len(vd.CLASSES) and int(a["labels"].max()) >= vd.FIRST_OBJECT
    with pytest.raises(ValueError, match="scenes"):
        vd.VisionDataConfig(out=tmp_path, scenes=0)
