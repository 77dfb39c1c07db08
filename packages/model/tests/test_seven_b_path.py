"""What the 7B path needs, checked on the tiny model on CPU: activation checkpointing gives the same
gradients, gradient accumulation the same update as the whole batch, the prompt encoder's Fourier
features stay float32 under bf16 autocast (and tell pixels apart at 224 px), the optional
bidirectional attention among the action slots does what it says (and the default is causal)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pixelvla import prompts as P
from pixelvla.config import full_config, tiny_config
from pixelvla.data import EpisodeRecord, LeRobotWriter
from pixelvla.model import ModelInputs, PixelVLA, slot_attention_mask
from pixelvla.prompt_encoder import make_prompt_encoder
from pixelvla.stages import apply_stage
from pixelvla.train.config import TrainConfig, TrainConfigError
from pixelvla.train.loop import train
from pixelvla.train.metrics import read_metrics
from safetensors.torch import load_file


def _inputs(b: int = 2, seed: int = 0) -> ModelInputs:
    g = torch.Generator().manual_seed(seed)
    feats = [P.featurize([P.Point(0.3 + 0.1 * i, 0.5)]) for i in range(b)]
    return ModelInputs(
        pixel_values=torch.rand(b, 3, 112, 112, generator=g),
        input_ids=torch.randint(3, 200, (b, 9), generator=g),
        text_mask=torch.tensor([[True] * 9, [True] * 6 + [False] * 3][:b]),
        prompt_features={k: torch.from_numpy(np.stack([f[k] for f in feats])) for k in feats[0]},
        actions=torch.rand(b, 8, 7, generator=g) * 2 - 1,
        state=torch.randn(b, 8, generator=g),
    )


def _grads(model: PixelVLA, inputs: ModelInputs) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    out = model(inputs)
    assert out.loss is not None
    out.loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_activation_checkpointing_gives_the_same_gradients(stage: str) -> None:
    torch.manual_seed(0)
    model = PixelVLA(tiny_config())
    apply_stage(model, stage)
    model.train()
    inputs = _inputs()
    plain = _grads(model, inputs)

    # It is really on: every decoder layer's forward runs again in the backward pass (HF
    # checkpoints the layer's forward, so a hook on a module inside it sees both runs).
    calls = {"n": 0}
    layer = model.llm.model.layers[0].self_attn
    hook = layer.register_forward_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    model.set_activation_checkpointing(True)
    checkpointed = _grads(model, inputs)
    hook.remove()
    assert calls["n"] == 2

    assert plain.keys() == checkpointed.keys() and plain
    assert any("lora_" in k for k in plain) == (stage == "stage2")
    for k in plain:
        torch.testing.assert_close(checkpointed[k], plain[k], rtol=1e-5, atol=1e-7, msg=k)


def test_activation_checkpointing_defaults_and_inference() -> None:
    assert full_config().llm.activation_checkpointing and not tiny_config().llm.activation_checkpointing
    torch.manual_seed(0)
    cfg = dataclasses.replace(
        tiny_config(), llm=dataclasses.replace(tiny_config().llm, activation_checkpointing=True)
    )
    on = PixelVLA(cfg).eval()
    off = PixelVLA(tiny_config()).eval()
    off.load_state_dict(on.state_dict())
    # Serving (inference mode) is unaffected.
    torch.testing.assert_close(on.predict(_inputs()), off.predict(_inputs()))


# ---------------------------------------------------------------- gradient accumulation


ACTION_NAMES = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("accum") / "toy"
    w = LeRobotWriter(
        root, cameras={"front": (48, 48)}, state_names=[f"s{i}" for i in range(8)], action_names=ACTION_NAMES
    )
    rng = np.random.default_rng(0)
    for i in range(2):
        actions = rng.normal(0, 0.01, (12, 7)).astype(np.float32)
        actions[:, 6] = (np.arange(12) > 6).astype(np.float32)
        w.write_episode(
            i,
            EpisodeRecord(
                frames={"front": rng.integers(0, 256, (12, 48, 48, 3), dtype=np.uint8)},
                actions=actions,
                states=rng.normal(size=(12, 8)).astype(np.float32),
                task="pick up the red cube",
            ),
        )
    w.finalize()
    return root


def _run(dataset: Path, out: Path, **kw: object) -> Path:
    cfg = dict(
        stage="base",
        dataset=str(dataset),
        out_dir=str(out),
        steps=2,
        warmup_steps=0,
        log_every=1,
        checkpoint_every=100,
        tensorboard=False,
        seed=3,
        lr=1e-3,
    )
    cfg.update(kw)
    res = train(TrainConfig.from_dict(cfg), progress=False)
    assert res.bundle is not None
    return out


def test_two_micro_batches_of_4_make_the_same_update_as_one_batch_of_8(dataset: Path, tmp_path: Path) -> None:
    whole = _run(dataset, tmp_path / "whole", batch_size=8)
    accum = _run(dataset, tmp_path / "accum", batch_size=4, grad_accum_steps=2)
    rows = {
        name: [r for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "train"]
        for name, run in (("whole", whole), ("accum", accum))
    }
    for a, b in zip(rows["whole"], rows["accum"], strict=True):
        # The loss of the step and the gradient norm before clipping (which would hide a missing
        # 1/accum by clipping both to 1.0) are the whole batch's.
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
        assert a["l1"] == pytest.approx(b["l1"], rel=1e-5)
        assert b["samples_per_s"] * b["step_time_s"] == pytest.approx(8, rel=1e-3)
    w = load_file(str(whole / "bundle" / "model.safetensors"))
    g = load_file(str(accum / "bundle" / "model.safetensors"))
    assert w.keys() == g.keys()
    diff = max(float((w[k] - g[k]).abs().max()) for k in w)
    moved = max(float((w[k] - v).abs().max()) for k, v in load_file(str(_init(dataset, tmp_path))).items())
    # The same weights up to float noise, which Adam amplifies where a gradient is ~0 (its
    # first steps are ~lr * sign(g)); and training did move them.
    assert diff < 0.05 * moved
    assert json.loads((accum / "train_config.json").read_text())["grad_accum_steps"] == 2


def _init(dataset: Path, tmp_path: Path) -> Path:
    """The weights before any step (steps=1 with lr 0 leaves them at the seeded init)."""
    run = _run(dataset, tmp_path / "init", batch_size=8, steps=1, lr=0.0)
    return run / "bundle" / "model.safetensors"


def test_grad_accum_steps_is_validated() -> None:
    with pytest.raises(TrainConfigError, match="grad_accum_steps must be positive"):
        TrainConfig.from_dict({"stage": "base", "dataset": "d", "out_dir": "o", "grad_accum_steps": 0})
    with pytest.raises(TrainConfigError, match="grad_accum_steps must be integer"):
        TrainConfig.from_dict({"stage": "base", "dataset": "d", "out_dir": "o", "grad_accum_steps": 1.5})


# ---------------------------------------------------------------- Fourier features


def test_fourier_features_stay_float32_under_bf16_autocast_and_resolve_a_pixel() -> None:
    enc = make_prompt_encoder(0)
    px = 1.0 / 224
    coords = torch.tensor([[[0.5, 0.5], [0.5 + px, 0.5], [0.9, 0.1], [0.9, 0.1 + px]]])
    with torch.no_grad():
        ref = enc.pe(coords)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = enc.pe(coords)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)
    # One pixel apart: the features differ by far more than their float32 error.
    assert float((got[0, 0] - got[0, 1]).abs().max()) > 0.05
    assert float((got[0, 2] - got[0, 3]).abs().max()) > 0.05


def _bf16_like_the_server() -> tuple[PixelVLA, PixelVLA]:
    """A float32 model and the same weights loaded the way load_bundle does on CUDA: built with
    bf16 as the default dtype, then load_state_dict."""
    torch.manual_seed(0)
    ref = PixelVLA(tiny_config()).eval()
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = PixelVLA(tiny_config()).eval()
    finally:
        torch.set_default_dtype(old)
    model.load_state_dict(ref.state_dict())
    return ref, model


def test_prompt_tokens_of_a_bf16_model_keep_the_float32_geometry() -> None:
    """The server's bf16 model: the Gaussian stays float32 and the coordinates are not cast to
    bf16, so prompt tokens are the float32 ones up to bf16 rounding of the result (~0.012 here),
    where computing the Fourier argument in bf16 was off by 0.07-0.13, most of a pixel's change."""
    ref, model = _bf16_like_the_server()
    assert model.prompt_encoder.pe.gaussian.dtype == torch.float32
    assert model.prompt_encoder.type_embed.weight.dtype == torch.bfloat16
    for point in ((0.9, 0.1), (0.37, 0.81)):
        feats = {k: torch.from_numpy(v)[None] for k, v in P.featurize([P.Point(*point)]).items()}
        inputs = dataclasses.replace(_inputs(1), prompt_features=feats)
        with torch.no_grad():
            got, _ = model._prompt_tokens(inputs, 1, torch.device("cpu"))
            want, _ = ref._prompt_tokens(inputs, 1, torch.device("cpu"))
        assert float((got[0, 0].float() - want[0, 0]).abs().max()) < 0.03, point


# ---------------------------------------------------------------- slot attention


def test_slot_attention_mask() -> None:
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    m = slot_attention_mask(valid, 2)[:, 0]
    assert m.shape == (2, 6, 6)
    # Row 0: slots 4, 5 see each other, everything else causal.
    expected0 = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    expected0[4, 5] = True
    assert torch.equal(m[0], expected0)
    # Row 1 (4 valid): slots are 2, 3; padding keys 4, 5 are seen by nobody.
    expected1 = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    expected1[2, 3] = True
    expected1[:, 4:] = False
    assert torch.equal(m[1], expected1)
    # n_slots = 0: the plain causal + padding mask.
    plain = slot_attention_mask(valid, 0)[:, 0]
    assert torch.equal(plain[0], torch.tril(torch.ones(6, 6, dtype=torch.bool)))
    assert not plain[1, :, 4:].any()


def test_bidirectional_slots_see_later_slots_and_causal_is_the_default() -> None:
    assert tiny_config().action.slot_attention == "causal"
    torch.manual_seed(0)
    model = PixelVLA(tiny_config()).eval()
    inputs = _inputs()

    def first_step_change() -> float:
        """How much the first chunk step moves when only the LAST slot's embedding changes."""
        with torch.no_grad():
            before = model(inputs).actions
            model.action_slot_pos[-1] += 1.0
            after = model(inputs).actions
            model.action_slot_pos[-1] -= 1.0
        return float((after[:, 0] - before[:, 0]).abs().max())

    assert first_step_change() == 0.0  # causal: slot 0..6 never see slot 55
    model.config = dataclasses.replace(
        model.config, action=dataclasses.replace(model.config.action, slot_attention="bidirectional")
    )
    assert first_step_change() > 1e-4
    # Batch 1 and batch 2 still agree (the 4D mask handles the right padding of row 1's text).
    assert inputs.prompt_features is not None and inputs.state is not None
    row = dataclasses.replace(
        inputs,
        pixel_values=inputs.pixel_values[1:],
        input_ids=inputs.input_ids[1:],
        text_mask=inputs.text_mask[1:],
        prompt_features={k: v[1:] for k, v in inputs.prompt_features.items()},
        actions=None,
        state=inputs.state[1:],
    )
    with torch.no_grad():
        both = model(inputs).actions
        one = model(row).actions
    torch.testing.assert_close(one[0], both[1], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- synchronisation per predict


def test_predict_synchronises_once_unless_detailed_timing_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts the Policy's explicit device synchronisations (no-ops on CPU, ~7 waits on CUDA)."""
    from pixelvla import policy as policy_module
    from pixelvla.checkpoint import make_random_tiny_bundle
    from pixelvla.policy import Observation, Policy

    bundle = make_random_tiny_bundle(tmp_path / "b")
    calls: list[str] = []
    real = policy_module._sync
    monkeypatch.setattr(policy_module, "_sync", lambda d: (calls.append(d.type), real(d)))
    obs = Observation(np.zeros((64, 64, 3), np.uint8), "pick up the cube", prompts=[P.Point(0.5, 0.5)])
    fast = Policy.load(bundle).predict(obs)
    assert len(calls) <= 1  # the copy of the actions back to the host is the one wait
    calls.clear()
    detailed = Policy.load(bundle, detailed_timing=True).predict(obs)
    assert len(calls) >= 12  # before and after every stage
    np.testing.assert_array_equal(fast.actions, detailed.actions)
    assert set(fast.timing_ms) == set(detailed.timing_ms) and fast.timing_ms["total"] > 0
