"""The linear vision probe and the pretraining targets: a read-out of features that carry each patch's
object class finds named objects; features that do not, do not."""

from __future__ import annotations

import numpy as np
from pixelvla.probe import FIRST_OBJECT_CLASS, patch_classes, patch_coverage, vision_probe
from pixelvla.train.vision_pretrain import patch_targets

GRID, SIZE, CLASSES = 4, 32, 8


def _frames(n: int, rng: np.random.Generator) -> np.ndarray:
    labels = np.zeros((n, SIZE, SIZE), np.uint8)
    for f in range(n):
        for k in rng.choice(np.arange(FIRST_OBJECT_CLASS, CLASSES), 2, replace=False):
            r, c = rng.integers(0, SIZE - 5, 2)
            labels[f, r : r + 5, c : c + 5] = k
    return labels


def test_probe_separates_features_that_know_the_class_from_noise() -> None:
    rng = np.random.default_rng(0)
    labels = _frames(60, rng)
    cls = patch_classes(patch_coverage(labels, GRID, CLASSES))
    informative = np.eye(CLASSES, dtype=np.float32)[cls] + rng.normal(0, 0.05, (*cls.shape, CLASSES))
    noise = rng.normal(size=informative.shape).astype(np.float32)
    good = vision_probe(informative.astype(np.float32), labels, GRID, CLASSES, 40)
    bad = vision_probe(noise, labels, GRID, CLASSES, 40)
    assert good.patch_accuracy_objects > 0.95 and good.target_hit > 0.95
    assert bad.target_hit < 0.5 and bad.patch_accuracy_objects < 0.5
    assert good.target_error_px < bad.target_error_px


def test_patch_targets_class_offset_and_depth() -> None:
    labels = np.zeros((1, SIZE, SIZE), np.uint8)
    labels[0, 0:4, 0:4] = FIRST_OBJECT_CLASS  # top-left quarter of the first 8 px patch
    depth = np.full((1, SIZE, SIZE), 0.5, np.float16)
    t = patch_targets(labels, depth, GRID, CLASSES)
    assert t["cls"][0, 0] == FIRST_OBJECT_CLASS and (t["cls"][0, 1:] == 0).all()
    # The object's centre sits a quarter patch up and left of the patch centre.
    assert np.allclose(t["offset"][0, 0], (-0.25, -0.25))
    assert np.allclose(t["depth"], np.log(0.5), atol=1e-3)
