"""Shapes and behaviour of every module of the tiny model, and of the whole forward pass."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
import torch
from pixelvla import prompts as P
from pixelvla.action_decoder import ActionDecoder
from pixelvla.action_tokenizer import ActionTokenizer
from pixelvla.config import BYTE_VOCAB, ConfigError, PixelVLAConfig, get_config, tiny_config
from pixelvla.model import ModelInputs, PixelVLA
from pixelvla.pixel_encoder import PixelAwareEncoder
from pixelvla.projector import Projector
from pixelvla.prompt_aware_encoder import PromptProjector
from pixelvla.tokenizer import ByteTokenizer
from pixelvla.vision import VisionBackbone

CFG = tiny_config()
D = CFG.llm.hidden_size


@pytest.fixture(scope="module")
def model() -> PixelVLA:
    torch.manual_seed(0)
    return PixelVLA(tiny_config()).eval()


def make_inputs(b: int = 2, text: int = 12, seed: int = 0) -> ModelInputs:
    g = torch.Generator().manual_seed(seed)
    size = CFG.vision.image_size
    return ModelInputs(
        pixel_values=torch.rand(b, 3, size, size, generator=g),
        input_ids=torch.randint(3, 200, (b, text), generator=g),
        text_mask=torch.ones(b, text, dtype=torch.bool),
        actions=torch.rand(b, CFG.action.chunk_size, 7, generator=g) * 2 - 1,
    )


def test_config_json_round_trip_and_unknown_name() -> None:
    for name in ("tiny", "full"):
        cfg = get_config(name)
        assert PixelVLAConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError) as e:
        get_config("huge")
    assert e.value.code == "invalid_config"
    with pytest.raises(ConfigError, match="unknown keys"):
        PixelVLAConfig.from_json(CFG.to_json().replace('"head"', '"hed"'))
    with pytest.raises(ConfigError):
        PixelVLAConfig.from_json("{not json")


def test_vision_backbone_patches_and_levels() -> None:
    vision = VisionBackbone(CFG.vision).eval()
    feats = vision(torch.rand(2, 3, 112, 112))
    assert feats.patches.shape == (2, CFG.vision.num_patches, 128)
    assert len(feats.levels) == len(CFG.vision.pixel_levels)
    assert all(level.shape == (2, 64, 128) for level in feats.levels)
    # Levels are distinct block outputs, the deepest pixel level is the projector's block.
    assert not torch.allclose(feats.levels[0], feats.levels[1])
    assert torch.equal(feats.levels[-1], feats.patches)


def test_projector_and_prompt_projector_shapes() -> None:
    assert Projector(128, D)(torch.rand(2, 64, 128)).shape == (2, 64, D)
    assert PromptProjector(256, D)(torch.rand(2, 16, 256)).shape == (2, 16, D)


def test_pixel_encoder_pools_inside_mask_and_uses_no_mask_embedding() -> None:
    torch.manual_seed(0)
    enc = PixelAwareEncoder(level_dim=8, num_levels=2, dim=16)
    levels = [torch.randn(2, 16, 8), torch.randn(2, 16, 8)]
    mask = torch.zeros(2, 4, 4, 4)
    mask[0, 0, :2, :2] = 1.0  # example 0: one mask on the top-left corner
    valid = mask.flatten(2).sum(-1) > 0
    tokens, tok_valid = enc(levels, mask, valid)
    assert tokens.shape == (2, 4, 16) and tok_valid.shape == (2, 4)
    assert tok_valid[0].tolist() == [True, False, False, False]
    # Example 1 has no mask: one valid "no mask" token.
    assert tok_valid[1].tolist() == [True, False, False, False]
    torch.testing.assert_close(tokens[1, 0], enc.no_mask)
    # Changing features outside the mask leaves the masked token unchanged; inside changes it.
    outside = [lv.clone() for lv in levels]
    outside[0][0, 15] += 5.0  # patch (3, 3)
    torch.testing.assert_close(enc(outside, mask, valid)[0][0, 0], tokens[0, 0])
    inside = [lv.clone() for lv in levels]
    inside[1][0, 0] += 5.0  # patch (0, 0)
    assert not torch.allclose(enc(inside, mask, valid)[0][0, 0], tokens[0, 0])


def test_action_decoder_shape() -> None:
    dec = ActionDecoder(llm_dim=32, hidden=48, action_dim=7, num_blocks=2)
    assert dec(torch.rand(3, 8 * 7, 32)).shape == (3, 8, 7)
    assert len(dec.blocks) == 2


def test_action_tokenizer_round_trip_uses_last_256_ids() -> None:
    tok = ActionTokenizer(vocab_size=BYTE_VOCAB, bins=256)
    x = torch.linspace(-1, 1, 1001)
    ids = tok.encode(x)
    assert int(ids.min()) == BYTE_VOCAB - 256 and int(ids.max()) == BYTE_VOCAB - 1
    assert bool(tok.is_action(ids).all())
    # Bin centres are within half a bin of the input.
    assert float((tok.decode(ids) - x).abs().max()) <= 1.0 / 256 + 1e-6
    assert tok.encode(torch.tensor([5.0, -5.0])).tolist() == [BYTE_VOCAB - 1, BYTE_VOCAB - 256]


def test_byte_tokenizer() -> None:
    tok = ByteTokenizer(CFG.tokenizer)
    ids = tok.encode("pick é")
    assert len(ids) == len("pick é".encode())
    assert max(ids) < BYTE_VOCAB - 256  # never collides with action tokens
    assert tok.decode(ids) == "pick é"


def test_forward_continuous_shapes_and_loss(model: PixelVLA) -> None:
    out = model(make_inputs())
    assert out.actions.shape == (2, 8, 7)
    assert out.loss is not None and out.loss.ndim == 0 and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.action_decoder.proj.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_forward_with_prompts_and_masks_changes_actions(model: PixelVLA) -> None:
    inputs = make_inputs(b=1)
    base = model.predict(inputs)
    feats = P.featurize([P.Point(0.2, 0.3), P.Box(0.1, 0.1, 0.5, 0.6)])
    with_prompt = dataclasses.replace(
        inputs, prompt_features={k: torch.from_numpy(v)[None] for k, v in feats.items()}
    )
    assert not torch.allclose(model.predict(with_prompt), base)
    mask = np.zeros((224, 224), bool)
    mask[20:90, 40:120] = True
    grid, valid = P.pixel_mask_grid([mask], grid=CFG.vision.grid)
    with_mask = dataclasses.replace(
        inputs, pixel_mask=torch.from_numpy(grid)[None], pixel_mask_valid=torch.from_numpy(valid)[None]
    )
    assert not torch.allclose(model.predict(with_mask), base)


def test_browser_tokens_equal_server_side_encoding(model: PixelVLA) -> None:
    inputs = make_inputs(b=1)
    feats = P.featurize([P.Point(0.7, 0.2, positive=False)])
    t = {k: torch.from_numpy(v)[None] for k, v in feats.items()}
    with torch.no_grad():
        tokens = model.prompt_encoder(**{k: t[k] for k in P.FEATURE_SPEC})
    a = model.predict(dataclasses.replace(inputs, prompt_features=t))
    b = model.predict(dataclasses.replace(inputs, prompt_tokens=tokens, prompt_valid=t["valid"]))
    torch.testing.assert_close(a, b)


def test_padding_is_squeezed_out_batched_equals_single(model: PixelVLA) -> None:
    """Different text lengths and prompt counts in one batch give the same actions as batch 1."""
    a, b = make_inputs(b=1, text=10, seed=1), make_inputs(b=1, text=6, seed=2)
    feats_a = P.featurize([P.Point(0.5, 0.5)])
    feats_b = P.featurize([P.Line(((0.1, 0.1), (0.9, 0.8)))])
    for x, f in ((a, feats_a), (b, feats_b)):
        x.prompt_features = {k: torch.from_numpy(v)[None] for k, v in f.items()}
    single = torch.cat([model.predict(a), model.predict(b)])
    ids = torch.zeros(2, 10, dtype=torch.long)
    ids[0], ids[1, :6] = a.input_ids[0], b.input_ids[0]
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0], mask[1, :6] = True, True
    batch = ModelInputs(
        pixel_values=torch.cat([a.pixel_values, b.pixel_values]),
        input_ids=ids,
        text_mask=mask,
        prompt_features={
            k: torch.cat([a.prompt_features[k], b.prompt_features[k]])  # type: ignore[index]
            for k in feats_a
        },
    )
    torch.testing.assert_close(model.predict(batch), single, atol=1e-5, rtol=1e-4)


def test_tokens_head_forward_and_greedy_decoding(model: PixelVLA) -> None:
    m = PixelVLA(
        dataclasses.replace(tiny_config(), head="tokens", use_pixel_encoder=False, use_prompt_encoder=False)
    )
    m.eval()
    inputs = make_inputs(b=2)
    out = m(inputs)
    assert out.logits is not None and out.logits.shape == (2, 7, CFG.llm.vocab_size)
    assert out.loss is not None and torch.isfinite(out.loss)
    pred = m.predict(dataclasses.replace(inputs, actions=None))
    assert pred.shape == (2, 1, 7)
    assert float(pred.abs().max()) <= 1.0
    # Greedy decoding reproduces teacher forcing when fed its own tokens.
    ids = m.action_tokenizer.encode(pred).reshape(2, 7)
    tf = m(dataclasses.replace(inputs, actions=None, action_token_ids=ids))
    assert tf.logits is not None
    tok = m.action_tokenizer
    tf_ids = tf.logits[..., tok.first_id : tok.vocab_size].argmax(-1) + tok.first_id
    assert torch.equal(tf_ids, ids)


def test_tokens_head_kv_cache_decodes_like_full_forwards() -> None:
    torch.manual_seed(3)
    m = PixelVLA(dataclasses.replace(tiny_config(), head="tokens")).eval()
    # An untied random head: with tied embeddings a random model just repeats its last token,
    # and a decode of one repeated token could not show a cache that attends to the wrong place.
    head = torch.nn.Linear(CFG.llm.hidden_size, CFG.llm.vocab_size, bias=False)
    torch.nn.init.normal_(head.weight, std=1.0)
    m.llm.lm_head = head
    both = dataclasses.replace(make_inputs(b=2), actions=None)
    both.text_mask[0, 8:] = False  # row 0 has a shorter text: the batch is right-padded
    inputs = dataclasses.replace(
        both, pixel_values=both.pixel_values[:1], input_ids=both.input_ids[:1], text_mask=both.text_mask[:1]
    )
    cached = m.predict(inputs)  # batch 1: no padding left after squeezing, the cached path
    padded = both  # rows of different lengths: one full forward per token
    full = m.predict(padded)
    assert not bool(padded.text_mask.all())
    torch.testing.assert_close(full[:1], cached)
    # the seven tokens are not one repeated value, so the comparison could catch a wrong position
    assert len(set(cached.flatten().tolist())) > 1


def test_stage1_layout_skips_the_new_encoders(model: PixelVLA) -> None:
    off = dataclasses.replace(CFG, use_pixel_encoder=False, use_prompt_encoder=False)
    m = PixelVLA(off).eval()
    m.load_state_dict(model.state_dict())
    inputs = make_inputs(b=1)
    feats = P.featurize([P.Point(0.2, 0.3)])
    with_prompt = dataclasses.replace(
        inputs, prompt_features={k: torch.from_numpy(v)[None] for k, v in feats.items()}
    )
    torch.testing.assert_close(m.predict(with_prompt), m.predict(inputs))


def test_llama_tokenizer_loads_only_from_a_local_folder(tmp_path: object) -> None:
    from pathlib import Path

    from pixelvla.config import TokenizerConfig
    from pixelvla.tokenizer import TokenizerError, build_tokenizer
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    folder = Path(str(tmp_path)) / "tok"
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "pick": 3, "up": 4, "cube": 5}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    ).save_pretrained(folder)
    cfg = TokenizerConfig(
        kind="llama", vocab_size=6, bos_token_id=1, eos_token_id=2, pad_token_id=0, path=str(folder)
    )
    assert build_tokenizer(cfg).encode("pick up cube") == [3, 4, 5]  # no BOS: the model adds it
    with pytest.raises(TokenizerError):
        build_tokenizer(dataclasses.replace(cfg, path=str(folder / "missing")))


def test_state_token_is_scaled_by_its_bounds_changes_actions_and_is_left_out_when_absent(
    model: PixelVLA,
) -> None:
    proj = model.state_projector
    assert proj is not None and CFG.state_dim == 8
    low, high = torch.linspace(-1, 0, 8), torch.linspace(1, 3, 8)
    high[3] = low[3]  # a dimension that never varies is centred, not scaled
    fresh = PixelVLA(tiny_config()).eval()
    fresh.load_state_dict(model.state_dict())
    assert fresh.state_projector is not None
    fresh.state_projector.set_bounds(low, high)
    # Raw states at the bounds' centre all map to the projector's zero input.
    centre = ((low + high) / 2)[None]
    zero = fresh.state_projector.fc2(torch.nn.functional.gelu(fresh.state_projector.fc1(torch.zeros(1, 8))))
    torch.testing.assert_close(fresh.state_projector(centre)[:, 0], zero)
    with pytest.raises(ValueError):
        fresh.state_projector.set_bounds(high, low)  # low > high

    x = make_inputs(b=2)
    with_state = dataclasses.replace(x, state=torch.stack([low, high]))
    a = fresh(with_state).actions
    b = fresh(dataclasses.replace(x, state=torch.stack([high, low]))).actions
    assert not torch.allclose(a, b, atol=1e-5)  # the state reaches the actions
    # Absent state: one position fewer per row, i.e. the token is padding squeezed out.
    _, mask_with, _ = fresh._sequence(with_state, lambda _: contextlib.nullcontext())
    _, mask_without, _ = fresh._sequence(x, lambda _: contextlib.nullcontext())
    assert (mask_with.sum(1) - mask_without.sum(1)).tolist() == [1, 1]
    with pytest.raises(ValueError, match="state must have shape"):
        fresh(dataclasses.replace(x, state=torch.zeros(2, 5)))
