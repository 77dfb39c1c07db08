"""Policy.predict on a random tiny bundle: shapes, un-normalisation, timing keys, typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pixelvla import prompts as P
from pixelvla import rle
from pixelvla.checkpoint import make_random_tiny_bundle
from pixelvla.config import ConfigError
from pixelvla.errors import PixelVLAError, PromptError
from pixelvla.policy import TIMING_KEYS, Observation, ObservationError, Policy


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    return Policy.load(make_random_tiny_bundle(tmp_path_factory.mktemp("p") / "tiny"))


def image(h: int = 224, w: int = 224, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def square_mask(h: int = 224, w: int = 224) -> rle.Rle:
    m = np.zeros((h, w), bool)
    m[40:120, 60:150] = True
    return rle.encode(m)


def test_metadata(policy: Policy) -> None:
    meta = policy.metadata
    assert meta["config"] == "tiny" and meta["chunk_size"] == 8 and meta["action_dim"] == 7
    assert meta["image_size"] == 112
    assert len(meta["model_id"]) == 64 and len(meta["encoder_hash"]) == 64
    assert meta["normalization_key"] == policy.normalizer.key


def test_predict_returns_chunk_and_timings(policy: Policy) -> None:
    pred = policy.predict(
        Observation(
            image=image(),
            instruction="Pick up the red cube.",
            prompts=[P.Point(0.4, 0.5), P.Box(0.2, 0.2, 0.6, 0.7)],
            pixel_masks=[square_mask()],
            state=np.zeros(8, np.float32),
        )
    )
    assert pred.actions.shape == (8, 7) and pred.actions.dtype == np.float32
    assert pred.actions_normalized.shape == (8, 7)
    assert np.isfinite(pred.actions).all()
    np.testing.assert_allclose(pred.actions, policy.normalizer.unnormalize(pred.actions_normalized))
    assert set(pred.timing_ms) == set(TIMING_KEYS)
    assert all(v >= 0 for v in pred.timing_ms.values())
    assert pred.timing_ms["total"] >= pred.timing_ms["llm"] > 0
    # The gripper is binary after un-normalisation.
    assert set(np.unique(pred.actions[:, 6])) <= {0.0, 1.0}


def test_any_image_size_and_browser_tokens(policy: Policy) -> None:
    small = policy.predict(Observation(image=image(90, 160), instruction="open the drawer"))
    assert small.actions.shape == (8, 7)
    # Browser tokens == prompts encoded on the server with the bundle's encoder.
    from pixelvla.prompt_encoder import encode_prompts

    prompts: list[P.Prompt] = [P.Line(((0.1, 0.2), (0.5, 0.5), (0.8, 0.3)))]
    tokens, valid = encode_prompts(policy.model.prompt_encoder, prompts)
    a = policy.predict(Observation(image=image(), instruction="open the drawer", prompts=prompts))
    b = policy.predict(
        Observation(image=image(), instruction="open the drawer", prompt_tokens=tokens, prompt_valid=valid)
    )
    np.testing.assert_allclose(a.actions_normalized, b.actions_normalized, atol=1e-5)
    # Prompts matter.
    c = policy.predict(Observation(image=image(), instruction="open the drawer"))
    assert not np.allclose(a.actions_normalized, c.actions_normalized)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"image": image().astype(np.float32)}, ObservationError),
        ({"image": image()[:, :, :2]}, ObservationError),
        ({"image": np.zeros((0, 10, 3), np.uint8)}, ObservationError),
        ({"image": [[1, 2, 3]]}, ObservationError),
        ({"instruction": "   "}, ObservationError),
        ({"pixel_masks": [square_mask()] * 5}, PromptError),
        ({"prompt_tokens": np.zeros((16, 128), np.float32), "prompt_valid": np.ones(16, bool)}, PromptError),
        (
            {"prompt_tokens": np.full((16, 256), np.nan, np.float32), "prompt_valid": np.ones(16, bool)},
            PromptError,
        ),
        ({"prompt_tokens": np.zeros((16, 256), np.float32), "prompt_valid": None}, PromptError),
        ({"state": np.array([np.nan], np.float32)}, ObservationError),
        ({"state": np.zeros(5, np.float32)}, ObservationError),  # tiny takes an 8-D state
    ],
)
def test_bad_inputs_raise_typed_errors(policy: Policy, kwargs: dict[str, object], error: type) -> None:
    fields: dict[str, object] = {"image": image(), "instruction": "pick up the cube", **kwargs}
    with pytest.raises(error) as e:
        policy.predict(Observation(**fields))  # type: ignore[arg-type]
    assert isinstance(e.value, PixelVLAError) and e.value.code


def test_unknown_config_name_in_bundle_is_typed(tmp_path: Path) -> None:
    import json

    from pixelvla.checkpoint import CheckpointError

    b = make_random_tiny_bundle(tmp_path / "b")
    cfg = json.loads((b / "config.json").read_text())
    cfg["vision"]["warp"] = 9
    (b / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError):
        Policy.load(b)
    from pixelvla.config import get_config

    with pytest.raises(ConfigError):
        get_config("medium")


def test_action_normalizer_round_trip_and_gripper_binarised() -> None:
    from pixelvla.normalize import ActionNormalizer, NormalizationError

    norm = ActionNormalizer(q01=(-0.02,) * 3 + (-0.1,) * 3 + (0.0,), q99=(0.02,) * 3 + (0.1,) * 3 + (1.0,))
    raw = np.array(
        [[0.01, -0.02, 0.0, 0.05, -0.1, 0.1, 0.8], [0.5, -0.5, 0.02, 0.0, 0.0, 0.0, 0.2]], np.float32
    )
    x = norm.normalize(raw)
    assert x.shape == raw.shape and float(np.abs(x).max()) <= 1.0
    np.testing.assert_allclose(x[0, :6], [0.5, -1.0, 0.0, 0.5, -1.0, 1.0], atol=1e-6)
    assert x[:, 6].tolist() == [1.0, -1.0]  # gripper: above / below the middle of its range
    assert x[1, 0] == 1.0 and x[1, 1] == -1.0  # outside [q01, q99] clips
    back = norm.unnormalize(x)
    np.testing.assert_allclose(back[0, :6], raw[0, :6], atol=1e-6)
    assert back[:, 6].tolist() == [1.0, 0.0]
    assert ActionNormalizer.from_dict(norm.to_dict()) == norm
    with pytest.raises(NormalizationError):
        norm.normalize(np.zeros((2, 6), np.float32))
    with pytest.raises(NormalizationError):
        ActionNormalizer(q01=(1.0,) * 7, q99=(0.0,) * 7)
    with pytest.raises(NormalizationError):
        ActionNormalizer.from_dict({"q01": [0.0] * 7})


def test_read_only_and_strided_frames_are_copied_not_shared(policy: Policy) -> None:
    """Frames decoded from the wire are read-only views; torch must not be handed them (it warns that
    writing through them is undefined) and the pixels must equal those of a writable copy."""
    import warnings

    frame = image()
    wire = np.frombuffer(frame.tobytes(), np.uint8).reshape(frame.shape)  # read-only, like the server's
    assert not wire.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = policy.preprocess_image(wire)
        strided = policy.preprocess_image(np.concatenate([frame, frame], axis=1)[:, ::2])
    assert np.array_equal(got.numpy(), policy.preprocess_image(frame.copy()).numpy())
    assert strided.shape == got.shape
