"""The observation spec: one set of limits, derived from the model's config, seen by every door."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pixelvla import observation, rle
from pixelvla.checkpoint import save_bundle, sim_normalizer
from pixelvla.config import PixelEncoderConfig, tiny_config
from pixelvla.errors import PromptError
from pixelvla.model import PixelVLA
from pixelvla.observation import Observation, ObservationError, ObservationSpec
from pixelvla.policy import Policy

PINNED = Path(__file__).resolve().parents[1] / "testdata" / "observation_spec.json"


def square(h: int = 64, w: int = 64) -> rle.Rle:
    m = np.zeros((h, w), bool)
    m[10:30, 10:30] = True
    return rle.encode(m)


def test_pinned_spec_is_what_the_code_derives() -> None:
    """testdata/observation_spec.json is what the TS package's constants are tested against; if this
    fails, regenerate it: python -m pixelvla.observation > packages/model/testdata/observation_spec.json
    (then npx prettier --write it)."""
    assert json.loads(PINNED.read_text()) == observation.pinned()


def test_spec_follows_the_config() -> None:
    cfg = dataclasses.replace(tiny_config(), pixel=PixelEncoderConfig(max_masks=2), state_dim=3)
    spec = ObservationSpec.of(cfg)
    assert (spec.image_size, spec.max_pixel_masks, spec.state_dim) == (112, 2, 3)
    assert spec.prompt_tokens == (cfg.prompt.max_tokens, cfg.prompt.dim)
    # A model taking more masks than the server accepts is served within the ceiling.
    big = dataclasses.replace(cfg, pixel=PixelEncoderConfig(max_masks=8))
    assert ObservationSpec.of(big).max_pixel_masks == observation.MAX_PIXEL_MASKS


@pytest.fixture(scope="module")
def narrow_policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """A tiny model whose config takes 2 pixel masks and a 3-D state (the stock one: 4 and 8)."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(tiny_config(), pixel=PixelEncoderConfig(max_masks=2), state_dim=3)
    out = save_bundle(PixelVLA(cfg).eval(), tmp_path_factory.mktemp("narrow") / "b", sim_normalizer())
    return Policy.load(out)


def test_policy_checks_with_its_models_spec(narrow_policy: Policy) -> None:
    spec = narrow_policy.spec
    assert narrow_policy.metadata["observation"] == spec.to_json()
    assert spec.max_pixel_masks == 2 and spec.state_dim == 3
    image = np.zeros((64, 64, 3), np.uint8)
    ok = narrow_policy.predict(
        Observation(image, "pick", pixel_masks=[square()] * 2, state=np.zeros(3, np.float32))
    )
    assert ok.actions.shape[1] == 7
    with pytest.raises(PromptError, match="at most 2"):
        narrow_policy.predict(Observation(image, "pick", pixel_masks=[square()] * 3))
    with pytest.raises(ObservationError, match="takes 3"):
        narrow_policy.predict(Observation(image, "pick", state=np.zeros(8, np.float32)))
    with pytest.raises(ObservationError, match="2048 per side"):
        spec.check(Observation(np.zeros((2049, 4, 3), np.uint8), "pick"))


def test_check_returns_the_models_dtypes_and_is_not_repeated() -> None:
    spec = ObservationSpec()
    obs = Observation(np.zeros((4, 4, 3), np.uint8), "x", state=np.arange(3, dtype=np.float64))
    checked = spec.check(obs)
    assert checked.state is not None and checked.state.dtype == np.float32
    assert checked.checked_by is spec and spec.check(checked) is checked
    # Another spec checks it again (a hot-swapped model with other limits).
    with pytest.raises(ObservationError):
        ObservationSpec(state_dim=5).check(checked)
