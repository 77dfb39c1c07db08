"""The fast tiny-model path (pixelvla.fast_tiny) gives the eager model's actions.

Both the slot graph in PyTorch and its ONNX export run by ONNX Runtime are held to the eager
`PixelVLA.predict` on the same inputs, for each input layout (prompt arrays or browser tokens, state or
not, pixel masks or not), several text lengths through one exported graph, and OFT slot attention.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from pixelvla import prompts as P
from pixelvla.config import tiny_config
from pixelvla.fast_tiny import FastPathError, OnnxChunk, SlotGraph, layout_of
from pixelvla.model import ModelInputs, PixelVLA, _squeeze_padding

# fp32 rounding: the exported graph sums in another order (fused kernels, another GEMM library), and an
# action is ~10 matmul/normalisation stages from the input, each a few ulps of error on values of order 1.
# 256 ulps of 1.0 (3e-5) is far above that and far below any real difference (a wrong row, mask or
# position moves actions by 1e-2 and more).
TOL = 256 * torch.finfo(torch.float32).eps


def _model(**action: object) -> PixelVLA:
    torch.manual_seed(0)
    cfg = tiny_config()
    if action:
        cfg = dataclasses.replace(cfg, action=dataclasses.replace(cfg.action, **action))  # type: ignore[arg-type]
    return PixelVLA(cfg).eval()


def _inputs(
    model: PixelVLA,
    text_len: int = 40,
    *,
    masks: int = 1,
    prompts: str = "features",
    state: bool = True,
    seed: int = 0,
) -> ModelInputs:
    cfg = model.config
    gen = torch.Generator().manual_seed(seed)
    size, grid = cfg.vision.image_size, cfg.vision.grid
    inputs = ModelInputs(
        pixel_values=torch.rand(1, 3, size, size, generator=gen),
        input_ids=torch.randint(3, 200, (1, text_len), generator=gen),
        text_mask=torch.ones(1, text_len, dtype=torch.bool),
    )
    if masks:
        rng = np.random.default_rng(seed)
        ms = [rng.random((64, 64)) > 0.7 for _ in range(masks)]
        pixel, valid = P.pixel_mask_grid(ms, grid=grid, max_masks=cfg.pixel.max_masks)
        inputs.pixel_mask, inputs.pixel_mask_valid = (
            torch.from_numpy(pixel)[None],
            torch.from_numpy(valid)[None],
        )
    if prompts == "tokens":
        inputs.prompt_tokens = torch.randn(1, cfg.prompt.max_tokens, cfg.prompt.dim, generator=gen)
        inputs.prompt_valid = torch.zeros(1, cfg.prompt.max_tokens, dtype=torch.bool)
        inputs.prompt_valid[0, :3] = True
    elif prompts == "features":
        feats = P.featurize([P.Point(0.4, 0.6), P.Box(0.1, 0.2, 0.5, 0.7)])
        inputs.prompt_features = {k: torch.from_numpy(v)[None] for k, v in feats.items()}
    if state:
        inputs.state = torch.randn(1, cfg.state_dim, generator=gen)
    return inputs


def _eager(model: PixelVLA, inputs: ModelInputs) -> torch.Tensor:
    with torch.inference_mode():
        return model.predict(inputs)


CASES: list[dict[str, object]] = [
    dict(),
    dict(masks=0),
    dict(masks=3, text_len=7),
    dict(prompts="tokens"),
    dict(prompts="none", masks=0),
    dict(state=False),
    dict(prompts="tokens", state=False, masks=2, text_len=90),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "default" for c in CASES]
)
def test_slot_graph_is_the_eager_model(case):
    model = _model()
    inputs = _inputs(model, **case)  # type: ignore[arg-type]
    graph = SlotGraph(model, layout_of(inputs))
    with torch.inference_mode():
        got = graph(*graph.flat(inputs))
    eager = _eager(model, inputs)
    assert got.shape == eager.shape == (1, 8, 7)
    torch.testing.assert_close(got, eager, rtol=0, atol=TOL)


def test_onnx_runtime_gives_the_eager_actions_for_every_layout_and_length():
    model = _model()
    fast = OnnxChunk(model, threads=1)
    for i, case in enumerate(CASES):
        inputs = _inputs(model, seed=i, **case)  # type: ignore[arg-type]
        got = fast.predict(inputs)
        torch.testing.assert_close(got, _eager(model, inputs), rtol=0, atol=TOL, msg=f"case {case}")
    # One graph per layout, whatever the text length and the number of valid masks and prompts.
    assert set(fast._sessions) == {
        ("features", True),
        ("tokens", True),
        ("features", False),
        ("tokens", False),
    }


def test_bidirectional_slot_attention():
    model = _model(slot_attention="bidirectional")
    fast = OnnxChunk(model, threads=1)
    for seed, text_len in ((0, 30), (1, 55)):
        inputs = _inputs(model, text_len, seed=seed)
        eager = _eager(model, inputs)
        graph = SlotGraph(model, layout_of(inputs))
        with torch.inference_mode():
            torch.testing.assert_close(graph(*graph.flat(inputs)), eager, rtol=0, atol=TOL)
        torch.testing.assert_close(fast.predict(inputs), eager, rtol=0, atol=TOL)


def test_refuses_what_it_does_not_serve():
    tokens = PixelVLA(dataclasses.replace(tiny_config(), head="tokens"))
    with pytest.raises(FastPathError) as e:
        OnnxChunk(tokens)
    assert e.value.code == "fast_path_unsupported"
    model = _model()
    inputs = _inputs(model)
    inputs.pixel_values = inputs.pixel_values.expand(2, -1, -1, -1)
    with pytest.raises(FastPathError, match="batch 1"):
        OnnxChunk(model).predict(inputs)


def test_squeeze_padding_keeps_the_order_of_a_stable_sort():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        valid = torch.rand(3, 37, generator=gen) > 0.4
        valid[:, 0] = True
        x = torch.randn(3, 37, 5, generator=gen)
        order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices
        want_x = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x))[:, : int(valid.sum(1).max())]
        got_x, got_valid = _squeeze_padding([(x, valid, 0)])
        assert torch.equal(got_x, want_x)
        assert torch.equal(got_valid, torch.gather(valid, 1, order)[:, : got_x.shape[1]])


def test_policy_backend_onnx_predicts_what_the_eager_policy_predicts(tmp_path):
    from pixelvla.checkpoint import make_random_tiny_bundle
    from pixelvla.policy import Observation, Policy

    make_random_tiny_bundle(tmp_path / "b", seed=0)
    eager = Policy.load(tmp_path / "b")
    fast = Policy.load(tmp_path / "b", backend="onnx")
    assert fast._fast is not None
    assert set(fast._fast._sessions) == {("features", True), ("features", False)}  # exported at load
    rng = np.random.default_rng(0)
    for obs in (
        Observation(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), "pick up the red cube"),
        Observation(
            rng.integers(0, 255, (224, 224, 3), dtype=np.uint8),
            "put the bowl on the plate",
            prompts=[P.Point(0.3, 0.4)],
            state=rng.standard_normal(8).astype(np.float32),
        ),
    ):
        want, got = eager.predict(obs), fast.predict(obs)
        np.testing.assert_allclose(got.actions_normalized, want.actions_normalized, rtol=0, atol=TOL)
        assert got.actions.dtype == np.float32 and got.actions.shape == want.actions.shape
        assert got.timing_ms["total"] > 0
    with pytest.raises(FastPathError) as e:
        Policy.load(tmp_path / "b", backend="tensorrt")
    assert e.value.code == "invalid_backend"


def test_int8_backend_quantises_the_matmuls_and_stays_near_the_eager_actions(tmp_path):
    """backend "onnx-int8": the exported graph's weights really are int8 (dynamic quantisation: the
    matmuls become integer matmuls), and its actions stay within INT8_TOL of eager -- a stated
    precision change, unlike the fp32 path -- for every layout, through one Policy."""
    import onnx
    from pixelvla.checkpoint import make_random_tiny_bundle
    from pixelvla.fast_tiny import BACKENDS, INT8_TOL, quantize_int8
    from pixelvla.policy import Observation, Policy

    assert "onnx-int8" in BACKENDS
    model = _model()
    inputs = _inputs(model)
    raw = OnnxChunk(model).export(layout_of(inputs), inputs)
    ops = {n.op_type for n in onnx.load_from_string(quantize_int8(raw)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops or "DynamicQuantizeMatMul" in ops, ops
    assert len(quantize_int8(raw)) < len(raw) / 2  # int8 weights: well under half the fp32 bytes

    int8 = OnnxChunk(model, int8=True)
    for kind, state in (("features", True), ("features", False), ("tokens", True), ("none", False)):
        x = _inputs(model, 23, prompts=kind, state=state, masks=2, seed=5)
        layout = layout_of(x)
        with torch.no_grad():
            want = model.predict(x)
        diff = (int8.predict(x) - want).abs().max().item()
        assert 0 < diff < INT8_TOL, (layout, diff)  # > 0: not the fp32 graph

    make_random_tiny_bundle(tmp_path / "b", seed=0)
    eager, fast = Policy.load(tmp_path / "b"), Policy.load(tmp_path / "b", backend="onnx-int8")
    assert fast._fast is not None and fast._fast.int8
    obs = Observation(
        np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8),
        "put the bowl on the plate",
        prompts=[P.Point(0.3, 0.4), P.Box(0.1, 0.2, 0.5, 0.6)],
        state=np.zeros(8, np.float32),
    )
    got, want = fast.predict(obs), eager.predict(obs)
    assert np.abs(got.actions_normalized - want.actions_normalized).max() < INT8_TOL
