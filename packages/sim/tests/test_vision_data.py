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


def test_grounding_queries_name_what_the_scene_has_in_the_tasks_grammar(tmp_path: Path) -> None:
    """Each frame's queries: an instruction as the tasks write it, the classes its object phrase
    names (one object, every object of a kind, or none for an object the scene lacks) and the
    container it names; the classes are those of the frame's own labels."""
    from pixelvla_sim.tasks import sample_episode

    vd.generate(vd.VisionDataConfig(out=tmp_path, scenes=6, frames_per_scene=2, image_size=56))
    queries, labels = vd.load_queries(tmp_path), vd.load(tmp_path)["labels"]
    assert len(queries) == 12 and all(len(q) == vd.QUERIES_PER_FRAME for q in queries)
    kinds = {"one": 0, "kind": 0, "absent": 0, "place": 0}
    for frame, qs in zip(labels[::2], queries[::2], strict=True):  # the hand at home: nothing hidden
        present = set(np.unique(frame).tolist())
        for q in qs:
            words = q["instruction"].split()
            assert q["instruction"].startswith(("pick up the ", "put the ")), q
            if q["target"] is not None:
                kinds["place"] += 1
                assert q["target"] in present and words[-1] == vd.CLASSES[q["target"]]
                assert words[-3] == ("in" if words[-1] == "box" else "on")
            if not q["object"]:
                kinds["absent"] += 1
                named = " ".join(words[3:5] if words[0] == "pick" else words[2:4])
                assert vd.CLASSES.index(named) not in present, q
            elif any(vd.CLASSES[c] in q["instruction"] for c in q["object"]):  # by colour and kind
                kinds["one"] += 1
                assert len(q["object"]) == 1 and q["object"][0] in present
            else:  # by kind alone: every object of that kind
                kinds["kind"] += 1
                kind = vd.CLASSES[q["object"][0]].split()[1]
                assert all(c in present and vd.CLASSES[c].endswith(kind) for c in q["object"])
                assert f"the {kind}" in q["instruction"]
    assert kinds["one"] and kinds["kind"] and kinds["place"]
    # The episodes' own instructions come from the same grammar.
    _, task = sample_episode(5, "place")
    assert task.instruction.startswith("put the ") and task.instruction.split()[-1] in ("box", "plate")
