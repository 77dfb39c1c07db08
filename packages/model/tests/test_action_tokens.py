"""Base-stage action tokens. The "openvla" layout must give OpenVLA's own ids and actions, checked
against OpenVLA's formulas written out here with numpy (prismatic's ActionTokenizer and
OpenVLAForActionPrediction.predict_action); "ascending" is the tiny model's layout, unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pixelvla.action_tokenizer import ActionTokenizer
from pixelvla.config import full_config, tiny_config

VOCAB = 32000  # Llama-2's tokenizer.vocab_size, what OpenVLA's formulas use (the table is 32064)
BINS = 256


def openvla_encode(actions: np.ndarray, vocab_size: int = VOCAB) -> np.ndarray:
    bins = np.linspace(-1, 1, BINS)
    return vocab_size - np.digitize(np.clip(actions, -1, 1), bins)


def openvla_decode(tokens: np.ndarray, vocab_size: int = VOCAB) -> np.ndarray:
    bins = np.linspace(-1, 1, BINS)
    centers = (bins[:-1] + bins[1:]) / 2.0
    return centers[np.clip(vocab_size - tokens - 1, 0, centers.shape[0] - 1)]


def _values() -> np.ndarray:
    """Random actions plus the hard cases: every bin edge exactly, just either side of it, the
    ends of the range and beyond."""
    edges = np.linspace(-1, 1, BINS)
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            rng.uniform(-1.2, 1.2, 5000),
            edges,
            np.nextafter(edges, -2),
            np.nextafter(edges, 2),
            [-1.0, 1.0, -5.0, 5.0, 0.0, -0.0],
        ]
    )


def test_openvla_layout_encodes_exactly_as_openvla() -> None:
    tok = ActionTokenizer(VOCAB, BINS, layout="openvla")
    x = _values()
    ours = tok.encode(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(ours, openvla_encode(x))
    # float32 actions (what the training batches hold) too
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(tok.encode(torch.from_numpy(x32)).numpy(), openvla_encode(x32))
    assert ours.min() == VOCAB - BINS and ours.max() == VOCAB - 1
    assert tok.is_action(torch.from_numpy(ours)).all()


def test_openvla_layout_decodes_exactly_as_openvla() -> None:
    tok = ActionTokenizer(VOCAB, BINS, layout="openvla")
    ids = np.arange(VOCAB - BINS - 3, VOCAB + 64)  # action ids, text ids below, padding ids above
    ours = tok.decode(torch.from_numpy(ids)).numpy()
    np.testing.assert_array_equal(ours, openvla_decode(ids).astype(np.float32))
    # Reversed order: the highest id is the lowest action (mirrored in the ascending layout).
    assert ours[ids == VOCAB - 1][0] < 0 < ours[ids == VOCAB - BINS + 1][0]
    # Round trip lands in the value's own bin (width 2/255).
    x = _values()
    back = tok.decode(tok.encode(torch.from_numpy(x))).numpy()
    assert np.abs(back - np.clip(x, -1, 1)).max() <= 1.0 / 255 + 1e-6


def test_layouts_differ_and_configs_choose_them() -> None:
    asc = ActionTokenizer(VOCAB, BINS)
    ov = ActionTokenizer(VOCAB, BINS, layout="openvla")
    x = torch.tensor([-0.9, 0.0, 0.9], dtype=torch.float64)
    assert not torch.equal(asc.encode(x), ov.encode(x))
    # An OpenVLA token decoded the ascending way gives the mirrored action: the reviewer's bug.
    t = ov.encode(x)
    assert torch.allclose(asc.decode(t), -ov.decode(t).to(asc.decode(t).dtype), atol=0.01)
    assert full_config().action.token_layout == "openvla"
    assert tiny_config().action.token_layout == "ascending"
    with pytest.raises(ValueError, match="layout"):
        ActionTokenizer(VOCAB, BINS, layout="mirrored")  # type: ignore[arg-type]


def test_greedy_picks_the_best_action_token_in_either_layout() -> None:
    for layout in ("ascending", "openvla"):
        tok = ActionTokenizer(300, 256, layout=layout)  # type: ignore[arg-type]
        logits = torch.zeros(2, 300)
        logits[0, 10] = 9.0  # a text token never wins
        logits[0, 120] = 5.0
        logits[1, 299] = 1.0
        assert tok.greedy(logits).tolist() == [120, 299]
