"""The browser half of the prompt encoder: token semantics, masking, hashing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pixelvla import rle
from pixelvla.errors import PromptError
from pixelvla.prompt_encoder import (
    PromptEncoder,
    PromptEncoderConfig,
    encode_prompts,
    encoder_hash,
    features_to_tensors,
    make_prompt_encoder,
)
from pixelvla.prompts import Box, Line, Mask, Point, featurize


@pytest.fixture(scope="module")
def enc() -> PromptEncoder:
    return make_prompt_encoder(seed=0)


def _mask(h: int, w: int, rows: slice, cols: slice) -> Mask:
    m = np.zeros((h, w), bool)
    m[rows, cols] = True
    return Mask(dict(rle.encode(m)))


def test_output_shape_and_zero_padding(enc: PromptEncoder) -> None:
    tokens, valid = encode_prompts(enc, [Point(0.3, 0.4), Box(0.1, 0.1, 0.5, 0.5)])
    assert tokens.shape == (16, 256) and tokens.dtype == np.float32
    assert valid.tolist() == [True] * 3 + [False] * 13
    assert np.abs(tokens[3:]).max() == 0.0
    assert np.abs(tokens[:3]).min(axis=1).max() >= 0.0 and np.isfinite(tokens).all()
    assert (np.abs(tokens[:3]).sum(axis=1) > 0).all()


def test_none_token_is_the_learned_embedding(enc: PromptEncoder) -> None:
    tokens, valid = encode_prompts(enc, [])
    assert valid.sum() == 1
    np.testing.assert_allclose(tokens[0], enc.type_embed.weight[1].detach().numpy(), atol=0)


def test_point_token_is_pe_plus_type(enc: PromptEncoder) -> None:
    pos, _ = encode_prompts(enc, [Point(0.3, 0.4, True)])
    neg, _ = encode_prompts(enc, [Point(0.3, 0.4, False)])
    pe = enc.pe(torch.tensor([[0.3, 0.4]], dtype=torch.float32))[0].detach().numpy()
    np.testing.assert_allclose(pos[0], pe + enc.type_embed.weight[2].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(
        pos[0] - neg[0], (enc.type_embed.weight[2] - enc.type_embed.weight[3]).detach().numpy(), atol=1e-6
    )
    # sin^2 + cos^2 = 1 for every frequency: the PE half is a proper Fourier feature.
    np.testing.assert_allclose(pe[:128] ** 2 + pe[128:] ** 2, 1.0, atol=1e-5)


def test_line_tokens_differ_by_index(enc: PromptEncoder) -> None:
    tokens, _ = encode_prompts(enc, [Line([(0.5, 0.5), (0.5 + 1e-3, 0.5)])])
    # Nearly identical positions, so the index embedding must be what separates the tokens.
    diffs = tokens[1:8] - tokens[0:1]
    idx = enc.index_embed.weight.detach().numpy()
    np.testing.assert_allclose(diffs, idx[1:8] - idx[0:1], atol=0.05)


def test_mask_token_depends_on_its_own_slot(enc: PromptEncoder) -> None:
    a = _mask(32, 32, slice(0, 16), slice(0, 16))
    b = _mask(32, 32, slice(16, 32), slice(8, 32))
    ta, _ = encode_prompts(enc, [a])
    tab, _ = encode_prompts(enc, [a, b])
    tba, _ = encode_prompts(enc, [b, a])
    np.testing.assert_allclose(ta[0], tab[0], atol=1e-6)
    np.testing.assert_allclose(tab[0], tba[1], atol=1e-6)
    np.testing.assert_allclose(tab[1], tba[0], atol=1e-6)
    assert np.abs(tab[0] - tab[1]).max() > 1e-3


def test_batched_forward_matches_single(enc: PromptEncoder) -> None:
    f1 = features_to_tensors(featurize([Point(0.1, 0.9)]))
    f2 = features_to_tensors(featurize([_mask(8, 8, slice(0, 4), slice(0, 8)), Point(0.5, 0.5)]))
    batch = {k: torch.cat([f1[k], f2[k]]) for k in f1}
    with torch.no_grad():
        out = enc(**batch)
        np.testing.assert_allclose(out[0], enc(**f1)[0], atol=1e-6)
        np.testing.assert_allclose(out[1], enc(**f2)[0], atol=1e-6)


def test_gradients_reach_every_parameter() -> None:
    enc = make_prompt_encoder(seed=1).train()
    f = features_to_tensors(
        featurize([Point(0.2, 0.2), Line([(0, 0), (1, 1)]), _mask(8, 8, slice(2, 6), slice(2, 6))])
    )
    enc(**f).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_encoder_hash_is_deterministic_and_weight_sensitive() -> None:
    a, b = make_prompt_encoder(seed=0), make_prompt_encoder(seed=0)
    assert encoder_hash(a) == encoder_hash(b)
    assert len(encoder_hash(a)) == 64
    assert encoder_hash(make_prompt_encoder(seed=1)) != encoder_hash(a)
    with torch.no_grad():
        b.type_embed.weight[3, 0] += 1e-3
    assert encoder_hash(b) != encoder_hash(a)
    # make_prompt_encoder leaves the global RNG alone.
    torch.manual_seed(5)
    x = torch.rand(1)
    torch.manual_seed(5)
    make_prompt_encoder(seed=0)
    assert torch.equal(torch.rand(1), x)


def test_config_and_bad_features() -> None:
    assert PromptEncoderConfig().dim == 256
    f = featurize([Point(0.5, 0.5)])
    with pytest.raises(PromptError, match="dtype"):
        features_to_tensors(dict(f, types=f["types"].astype(np.int64)))


def test_runs_in_bfloat16() -> None:
    # The full model casts the encoder to bf16 on GPU; every internal constant must follow.
    enc = make_prompt_encoder(seed=0).to(torch.bfloat16)
    f = features_to_tensors(featurize([Point(0.2, 0.3), _mask(8, 8, slice(0, 4), slice(0, 4))]))
    f = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in f.items()}
    with torch.no_grad():
        out = enc(**f)
    ref, _ = encode_prompts(
        make_prompt_encoder(seed=0), [Point(0.2, 0.3), _mask(8, 8, slice(0, 4), slice(0, 4))]
    )
    assert out.dtype == torch.bfloat16
    np.testing.assert_allclose(out[0].float().numpy(), ref, atol=0.1)


def test_mask_features_equal_the_full_sam_stack_then_average(enc: PromptEncoder) -> None:
    # The 1x1 projection runs after pooling for speed; it must equal the straightforward order.
    masks = (torch.rand(1, 2, 64, 64, generator=torch.Generator().manual_seed(0)) > 0.6).float()
    x = masks.reshape(2, 1, 64, 64)
    with torch.no_grad():
        feat = enc.mask_downscaling(x) + enc.grid_pe(16)
        w = torch.nn.functional.avg_pool2d(x, 4)
        ref = ((feat * w).sum((2, 3)) / w.sum((2, 3))).reshape(1, 2, 256)
        np.testing.assert_allclose(enc.mask_features(masks).numpy(), ref.numpy(), atol=1e-5)
