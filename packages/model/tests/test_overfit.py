"""The tiny model can fit a small batch: stage-2 trainable set, L1 below 0.01 in bounded steps."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from pixelvla.config import tiny_config
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.stages import apply_stage

MAX_STEPS = 200


@pytest.fixture
def one_thread() -> Iterator[None]:
    # The tiny model's GEMMs are small: a second intra-op thread saves little on an idle machine
    # and costs several-fold when the CI box is busy (OpenMP threads spin for a core).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_tiny_overfits_a_small_batch(one_thread: None) -> None:
    torch.manual_seed(0)
    model = PixelVLA(tiny_config())
    apply_stage(model, "stage2")
    g = torch.Generator().manual_seed(1)
    batch = ModelInputs(
        pixel_values=torch.rand(2, 3, 112, 112, generator=g),
        input_ids=torch.randint(3, 200, (2, 8), generator=g),
        text_mask=torch.ones(2, 8, dtype=torch.bool),
        actions=torch.rand(2, 8, 7, generator=g) * 2 - 1,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=3e-3)
    # Short warm-up then cosine decay: L1's constant-size gradients need a shrinking step to settle.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 10) * 0.5 * (1 + math.cos(math.pi * s / MAX_STEPS))
    )
    first = None
    for _step in range(MAX_STEPS):
        loss = model(batch).loss
        assert loss is not None
        first = first if first is not None else loss.item()
        if loss.item() < 0.01:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert first is not None and first > 0.3  # it started far away
    assert loss.item() < 0.01, f"L1 {loss.item():.4f} after {MAX_STEPS} steps"


def test_stage2_learns_actions_that_depend_only_on_the_point_prompt(one_thread: None) -> None:
    """Same image, same text, eight point prompts: the target motion is the point's position, so
    only the prompt path (browser encoder -> projector -> LoRA'd LLM -> decoder) can explain it."""
    import numpy as np
    from pixelvla import prompts as P

    torch.manual_seed(0)
    model = PixelVLA(tiny_config())
    apply_stage(model, "stage2")
    g = torch.Generator().manual_seed(1)
    b = 8
    pts = torch.rand(b, 2, generator=g)
    feats = [P.featurize([P.Point(float(x), float(y))]) for x, y in pts]
    target = torch.zeros(b, 8, 7)
    target[:, :, 0], target[:, :, 1] = pts[:, :1] * 2 - 1, pts[:, 1:] * 2 - 1
    batch = ModelInputs(
        pixel_values=torch.rand(1, 3, 112, 112, generator=g).expand(b, -1, -1, -1).clone(),
        input_ids=torch.randint(3, 200, (1, 8), generator=g).expand(b, 8).clone(),
        text_mask=torch.ones(b, 8, dtype=torch.bool),
        actions=target,
        prompt_features={k: torch.from_numpy(np.stack([f[k] for f in feats])) for k in feats[0]},
    )
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _step in range(MAX_STEPS):
        out = model(batch)
        assert out.loss is not None
        if out.loss.item() < 0.02:
            break
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    x = out.actions[:, 0, 0].detach().numpy()
    assert out.loss.item() < 0.02, f"L1 {out.loss.item():.4f} after {MAX_STEPS} steps"
    assert np.corrcoef(x, target[:, 0, 0].numpy())[0, 1] > 0.95
