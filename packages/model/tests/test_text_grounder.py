"""The text grounder (pixelvla.text_grounder): its training targets, its place in a bundle (the
manifest lists it, the model_id changes with it, a corrupt file is refused) and how the policy uses
it: with nothing drawn a found object becomes the mask prompt, nothing found changes nothing, and a
drawn prompt wins while the grounding says whether the two agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from pixelvla import prompts as P
from pixelvla import rle
from pixelvla import text_grounder as tg
from pixelvla.checkpoint import CheckpointError, attach_files, make_random_tiny_bundle, read_manifest
from pixelvla.policy import Observation, Policy
from pixelvla.train import text_grounder as train_tg


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (224, 224, 3), dtype=np.uint8)


def constant_grounder(folder: Path, logit: float) -> Path:
    """A grounder whose every pixel says `logit` for both roles: everything found, or nothing."""
    model = tg.TextGrounder()
    with torch.no_grad():
        last = model.head_high[-1]
        last.weight.zero_()
        last.bias.fill_(logit)
    tg.save(model, folder)
    return folder


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("grounder")
    plain = make_random_tiny_bundle(root / "plain", seed=3)
    out = {"plain": plain}
    for name, logit in (("all", 20.0), ("none", -20.0)):
        b = root / name
        shutil.copytree(plain, b)
        g = constant_grounder(root / f"g-{name}", logit)
        attach_files(b, {n: g / n for n in (tg.WEIGHTS_FILE, tg.CONFIG_FILE)})
        out[name] = b
    return out


def test_targets_are_the_named_classes_and_container() -> None:
    labels = np.array([[0, 5, 5], [6, 2, 0], [7, 3, 5]], np.uint8)
    t = train_tg.targets(labels, {"instruction": "put the cube in the box", "object": [5, 6], "target": 2})
    assert t.shape == (2, 3, 3)
    assert t[0].tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 1]] and t[1].sum() == 1 and t[1, 1, 1] == 1
    none = train_tg.targets(labels, {"instruction": "pick up the red sphere", "object": [], "target": None})
    assert not none.any()


def test_attached_grounder_joins_the_manifest_and_a_corrupt_one_is_refused(bundles, tmp_path) -> None:
    plain, grounded = read_manifest(bundles["plain"]), read_manifest(bundles["all"])
    assert tg.WEIGHTS_FILE in grounded["files"] and tg.WEIGHTS_FILE not in plain["files"]
    assert grounded["model_id"] != plain["model_id"]
    assert {k: v for k, v in grounded["files"].items() if k in plain["files"]} == plain["files"]
    assert Policy.load(bundles["all"]).metadata["grounds_text"] is True
    assert Policy.load(bundles["plain"]).metadata["grounds_text"] is False
    broken = tmp_path / "broken"
    shutil.copytree(bundles["all"], broken)
    (broken / tg.WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match=r"text_grounder\.safetensors is corrupt"):
        Policy.load(broken)
    with pytest.raises(CheckpointError, match="cannot attach"):
        attach_files(bundles["plain"], {"manifest.json": broken / tg.CONFIG_FILE})


def test_with_nothing_drawn_a_found_object_is_the_mask_prompt(bundles) -> None:
    policy = Policy.load(bundles["all"])
    obs = Observation(image(), "pick up the red cube", state=np.zeros(8, np.float32))
    pred = policy.predict(obs)
    g = pred.grounding
    assert g is not None and g["used"] and g["object_found"] and g["agrees"] is None
    assert g["object_box"] == [0.0, 0.0, 1.0, 1.0]  # this grounder finds the whole frame
    # The same as drawing that mask, with its pixel mask (what a drawn mask sends).
    whole = rle.encode(np.ones((112, 112), bool))
    drawn = Observation(
        obs.image, obs.instruction, prompts=[P.Mask(whole)], pixel_masks=[whole], state=obs.state
    )
    plain = Policy.load(bundles["plain"])
    assert np.allclose(pred.actions, plain.predict(drawn).actions, atol=1e-6)
    assert not np.allclose(pred.actions, plain.predict(obs).actions, atol=1e-4)


def test_nothing_found_changes_nothing(bundles) -> None:
    obs = Observation(image(1), "pick up the red cube", state=np.zeros(8, np.float32))
    pred = Policy.load(bundles["none"]).predict(obs)
    g = pred.grounding
    assert g is not None and not g["used"] and not g["object_found"] and g["object_box"] is None
    assert np.allclose(pred.actions, Policy.load(bundles["plain"]).predict(obs).actions, atol=1e-6)
    assert Policy.load(bundles["plain"]).predict(obs).grounding is None


def test_a_drawn_prompt_wins_and_the_grounding_says_whether_it_agrees(bundles) -> None:
    obs = Observation(
        image(2), "pick up the red cube", prompts=[P.Point(0.3, 0.6)], state=np.zeros(8, np.float32)
    )
    pred = Policy.load(bundles["all"]).predict(obs)
    assert pred.grounding is not None and pred.grounding["agrees"] is True and not pred.grounding["used"]
    assert np.allclose(pred.actions, Policy.load(bundles["plain"]).predict(obs).actions, atol=1e-6)
    # Nothing found: no verdict, rather than a false "disagree".
    nothing = Policy.load(bundles["none"]).predict(obs).grounding
    assert nothing is not None and nothing["agrees"] is None


def test_training_runs_resumes_and_reports(tmp_path) -> None:
    from pixelvla_sim import vision_data as vd

    data = tmp_path / "vision"
    vd.generate(vd.VisionDataConfig(out=data, scenes=4, frames_per_scene=2))
    out = tmp_path / "run"
    train_tg.main(["--data", str(data), "--out", str(out), "--steps", "3", "--batch-size", "4"])
    report = json.loads((out / train_tg.REPORT_FILE).read_text())
    assert report["train_frames"] + report["held_out_frames"] == 8 and report["held_out_frames"] >= 1
    assert set(report["held_out"]) >= {"iou_one_object", "object_found", "absent_object_found"}
    assert tg.load(out) is not None
    stamp = (out / tg.WEIGHTS_FILE).stat().st_mtime_ns
    train_tg.main(["--data", str(data), "--out", str(out), "--steps", "3"])  # trained: not again
    assert (out / tg.WEIGHTS_FILE).stat().st_mtime_ns == stamp


def test_regions_split_a_mask_into_its_separate_objects() -> None:
    m = np.zeros((12, 12), bool)
    m[1:3, 1:3] = True  # one object
    m[3, 3] = True  # touching it diagonally: the same one
    m[8:11, 6:10] = True  # another
    parts = tg.regions(m)
    assert sorted(int(p.sum()) for p in parts) == [5, 12]
    assert np.array_equal(np.logical_or.reduce(parts), m)
    assert tg.regions(np.zeros((4, 4), bool)) == []


def test_a_bad_observation_is_refused_before_the_grounder_reads_it(bundles) -> None:
    from pixelvla.observation import ObservationError

    policy = Policy.load(bundles["all"])
    with pytest.raises(ObservationError):
        policy.predict(Observation(np.zeros((8, 8), np.uint8), "pick up the red cube"))  # no colour axis
    with pytest.raises(ObservationError):
        policy.predict(Observation(image(), "x" * 100_000))  # over the instruction limit
