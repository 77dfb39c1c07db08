"""PixelVLA: the whole model, one forward pass that reads top to bottom.

    image ──vision──projector──> E_v (256 tokens for `full`)
    SigLIP block outputs + pixel masks ──pixel-aware encoder──> E_p (<= 4 tokens)
    visual prompts ──prompt encoder (browser half) ──prompt projector (server half)──> E_s (<= 16)
    robot state ──state projector──> E_q (1 token; ours, after OpenVLA-OFT; config.state_dim > 0)
    [BOS] [E_v] [E_p] [E_s] [text] [E_q] [N_c x 7 action slots] ──Llama──> slot states
    slot states ──action decoder──> (N_c, 7) normalised actions, L1 loss

The base stage (`head == "tokens"`) swaps the slots for OpenVLA-style discrete action tokens and a
next-token loss. Padding (invalid prompt tokens, absent masks, shorter texts) is squeezed out per
example before the LLM, so every example is one contiguous sequence with right padding only and
the same positions in training as at inference with batch 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pixelvla import prompts as P
from pixelvla.action_decoder import ActionDecoder, l1_loss
from pixelvla.action_tokenizer import ActionTokenizer
from pixelvla.config import PixelVLAConfig
from pixelvla.llm import build_llm
from pixelvla.pixel_encoder import PixelAwareEncoder
from pixelvla.projector import Projector, StateProjector
from pixelvla.prompt_aware_encoder import PromptProjector
from pixelvla.prompt_encoder import PromptEncoder, PromptEncoderConfig
from pixelvla.vision import VisionBackbone

# Role of every part of the LLM sequence (documentation and debugging; order is the paper's).
ROLE_BOS, ROLE_VISION, ROLE_PIXEL, ROLE_PROMPT, ROLE_TEXT, ROLE_SLOT, ROLE_ACTION, ROLE_STATE = range(8)

Timer = Callable[[str], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def _no_timer(_: str) -> Iterator[None]:
    yield


@dataclass
class ModelInputs:
    pixel_values: torch.Tensor  # (B, 3, H, W) float in [0, 1]
    input_ids: torch.Tensor  # (B, T) text ids without BOS, right padded
    text_mask: torch.Tensor  # (B, T) bool
    pixel_mask: torch.Tensor | None = None  # (B, M, g, g) area coverage on the patch grid
    pixel_mask_valid: torch.Tensor | None = None  # (B, M) bool
    # Visual prompts: either the browser half's tokens, or the featurised arrays to encode here.
    prompt_tokens: torch.Tensor | None = None  # (B, 16, 256)
    prompt_valid: torch.Tensor | None = None  # (B, 16) bool
    prompt_features: dict[str, torch.Tensor] | None = None  # batched prompts.featurize() arrays
    actions: torch.Tensor | None = None  # (B, N_c, 7) normalised targets
    # Proprioceptive state, raw (the state projector scales it); None: the state token is left out.
    state: torch.Tensor | None = None  # (B, S)
    # Base stage only: action token ids fed back during greedy decoding, (B, K).
    action_token_ids: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> ModelInputs:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        feats = (
            None
            if self.prompt_features is None
            else {k: v.to(device) for k, v in self.prompt_features.items()}
        )
        return ModelInputs(
            pixel_values=self.pixel_values.to(device),
            input_ids=self.input_ids.to(device),
            text_mask=self.text_mask.to(device),
            pixel_mask=mv(self.pixel_mask),
            pixel_mask_valid=mv(self.pixel_mask_valid),
            prompt_tokens=mv(self.prompt_tokens),
            prompt_valid=mv(self.prompt_valid),
            prompt_features=feats,
            actions=mv(self.actions),
            state=mv(self.state),
            action_token_ids=mv(self.action_token_ids),
        )


@dataclass
class ModelOutput:
    actions: torch.Tensor  # (B, N_c, 7) normalised; tokens head: decoded argmax, (B, base_steps, 7)
    loss: torch.Tensor | None
    logits: torch.Tensor | None = None  # tokens head: (B, K, vocab) at the action positions


class PixelVLA(nn.Module):
    def __init__(self, config: PixelVLAConfig, *, empty_backbone: bool = False) -> None:
        """empty_backbone: the parameters of vision, projector and LLM go to the meta device
        (no memory, no init; buffers stay real) for a loader to fill in, e.g. from an OpenVLA
        checkpoint; the new modules are initialised as usual."""
        super().__init__()
        self.config = config
        d = config.llm.hidden_size
        act = config.action
        with parameters_on_meta() if empty_backbone else contextlib.nullcontext():
            self.vision = VisionBackbone(config.vision)
            self.projector = Projector(self.vision.embed_dim, d)
            self.llm = build_llm(config.llm)
        self.pixel_encoder = PixelAwareEncoder(self.vision.pixel_dim, len(config.vision.pixel_levels), d)
        self.prompt_encoder = PromptEncoder(
            PromptEncoderConfig(dim=config.prompt.dim, max_tokens=config.prompt.max_tokens)
        )
        self.prompt_projector = PromptProjector(config.prompt.dim, d)
        self.state_projector = StateProjector(config.state_dim, d) if config.state_dim > 0 else None
        # (ours, after OpenVLA-OFT) one learned slot embedding plus a learned embedding per position.
        self.action_slot = nn.Parameter(torch.randn(d) * 0.02)
        self.action_slot_pos = nn.Parameter(torch.randn(act.chunk_size * act.action_dim, d) * 0.02)
        self.action_decoder = ActionDecoder(d, act.decoder_hidden or d, act.action_dim, act.decoder_blocks)
        self.action_tokenizer = ActionTokenizer(
            config.tokenizer.vocab_size, act.bins, layout=act.token_layout
        )
        self.set_activation_checkpointing(config.llm.activation_checkpointing)
        self._compiled: Callable[[ModelInputs], ModelOutput] | None = None

    def compile_for_serving(self, mode: str | None = None) -> None:
        """torch.compile the continuous head's forward for `predict` without a timer (serving).
        Compilation happens on the first call (warm it up); each new text length recompiles once
        until dynamo marks it dynamic. The tokens head's greedy loop stays eager."""
        self._compiled = torch.compile(self._forward_untimed, mode=mode)

    def _forward_untimed(self, inputs: ModelInputs) -> ModelOutput:
        return self.forward(inputs)

    def set_activation_checkpointing(self, on: bool) -> None:
        """Recompute every decoder layer in the backward pass (training mode only; HF's per-layer
        checkpointing, non-reentrant so gradients reach the action slots through a frozen LLM)."""
        if on:
            self.llm.activation_checkpointing_enable({"use_reentrant": False})
            # HF also hooks the input embeddings to require grad (for reentrant checkpointing); not
            # needed here, and it would fail on inference tensors at serving time.
            self.llm.disable_input_require_grads()
        else:
            self.llm.activation_checkpointing_disable()

    # ---------------------------------------------------------------- forward

    def forward(self, inputs: ModelInputs, timer: Timer | None = None) -> ModelOutput:
        cfg, t = self.config, timer or _no_timer
        b, device = inputs.pixel_values.shape[0], inputs.pixel_values.device
        x, attention_mask, action_ids = self._sequence(inputs, t)

        with t("llm"):
            bidirectional = cfg.head == "continuous" and cfg.action.slot_attention == "bidirectional"
            n_slots = cfg.action.chunk_size * cfg.action.action_dim if bidirectional else 0
            # A 2D padding mask lets HF pick its fastest causal path. The 4D mask says more (slots
            # see each other) and needs no values to be built, so the meta device (shape checks,
            # where HF's 2D handling would read values) uses it too.
            llm_mask = (
                slot_attention_mask(attention_mask, n_slots)
                if bidirectional or x.device.type == "meta"
                else attention_mask.long()
            )
            # No KV cache for a plain forward: nothing reads it (and activation checkpointing drops it).
            hidden = self.llm.model(
                inputs_embeds=x, attention_mask=llm_mask, use_cache=False
            ).last_hidden_state

        with t("decoder"):
            # The action part is always the last valid stretch of each row.
            n_valid = attention_mask.sum(1, keepdim=True)
            if cfg.head == "continuous":
                n_slots = cfg.action.chunk_size * cfg.action.action_dim
                slot_states = _take(hidden, n_valid - n_slots + torch.arange(n_slots, device=device))
                actions = self.action_decoder(slot_states).float()
                loss = None if inputs.actions is None else l1_loss(actions, inputs.actions)
                return ModelOutput(actions=actions, loss=loss)

            # Position p predicts the action token at p + 1 (next-token loss on the action tokens only).
            assert action_ids is not None
            k = action_ids.shape[1]
            before_action = n_valid - k - 1 + torch.arange(k, device=device)
            logits = self.llm.lm_head(_take(hidden, before_action)).float()
            tok = self.action_tokenizer
            best = tok.greedy(logits)
            actions = tok.decode(best).view(b, -1, cfg.action.action_dim)
            loss = None
            if inputs.actions is not None:
                loss = F.cross_entropy(logits.reshape(b * k, -1), action_ids.reshape(-1))
            return ModelOutput(actions=actions, loss=loss, logits=logits)

    def _sequence(
        self, inputs: ModelInputs, t: Timer
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The LLM input: embeddings (B, L, D), attention mask (B, L) with right padding only, and
        the action token ids of the tokens head (None for the continuous head)."""
        cfg = self.config
        b, device = inputs.pixel_values.shape[0], inputs.pixel_values.device
        embed = self.llm.get_input_embeddings()
        dtype: torch.dtype = self.projector.fc1.weight.dtype
        parts: list[tuple[torch.Tensor, torch.Tensor, int]] = []  # (embeddings, valid, role)

        def add(x: torch.Tensor, valid: torch.Tensor | None, role: int) -> None:
            if valid is None:
                valid = torch.ones(x.shape[:2], dtype=torch.bool, device=device)
            parts.append((x.to(dtype), valid, role))

        bos = torch.full((b, 1), cfg.tokenizer.bos_token_id, dtype=torch.long, device=device)
        add(embed(bos), None, ROLE_BOS)

        with t("vision"):
            features = self.vision(inputs.pixel_values.to(dtype))
            add(self.projector(features.patches), None, ROLE_VISION)  # E_v

        with t("pixel_encoder"):
            if cfg.use_pixel_encoder:
                mask, mask_valid = self._pixel_masks(inputs, b, device)
                e_p, p_valid = self.pixel_encoder(features.levels, mask, mask_valid)
                add(e_p, p_valid, ROLE_PIXEL)  # E_p

        with t("prompt_encoder"):
            if cfg.use_prompt_encoder:
                tokens, s_valid = self._prompt_tokens(inputs, b, device)
                add(
                    self.prompt_projector(tokens.to(self.prompt_projector.fc1.weight.dtype)),
                    s_valid,
                    ROLE_PROMPT,
                )

        add(embed(inputs.input_ids), inputs.text_mask.bool(), ROLE_TEXT)
        if cfg.text_suffix_ids:  # e.g. OpenVLA's trailing "▁"
            suffix = torch.tensor(cfg.text_suffix_ids, dtype=torch.long, device=device)
            add(embed(suffix.expand(b, -1)), None, ROLE_TEXT)

        if self.state_projector is not None:
            if inputs.state is None:  # no state given: the token is padding, squeezed out below
                e_q = torch.zeros(b, 1, self.state_projector.fc2.out_features, device=device)
                add(e_q, torch.zeros(b, 1, dtype=torch.bool, device=device), ROLE_STATE)
            else:
                if inputs.state.shape != (b, cfg.state_dim):
                    raise ValueError(
                        f"state must have shape ({b}, {cfg.state_dim}), got {tuple(inputs.state.shape)}"
                    )
                add(self.state_projector(inputs.state.float()), None, ROLE_STATE)  # E_q

        n_slots = cfg.action.chunk_size * cfg.action.action_dim
        if cfg.head == "continuous":
            slots = (self.action_slot + self.action_slot_pos).unsqueeze(0).expand(b, n_slots, -1)
            add(slots, None, ROLE_SLOT)
            action_ids = None
        else:
            action_ids = self._action_ids(inputs, b, device)
            add(embed(action_ids), None, ROLE_ACTION)

        x, attention_mask = _squeeze_padding(parts)
        return x, attention_mask, action_ids

    # ---------------------------------------------------------------- inference

    @torch.inference_mode()
    def predict(self, inputs: ModelInputs, timer: Timer | None = None) -> torch.Tensor:
        """Normalised actions (B, N_c, 7) (tokens head: greedy decoding, (B, base_steps, 7))."""
        if self.config.head == "continuous":
            if self._compiled is not None and timer is None:
                return self._compiled(inputs).actions
            return self.forward(inputs, timer).actions
        act = self.config.action
        k = act.base_steps * act.action_dim
        b = inputs.pixel_values.shape[0]
        ids = torch.full(
            (b, k), self.action_tokenizer.first_id, dtype=torch.long, device=inputs.pixel_values.device
        )
        x, mask, _ = self._sequence(
            ModelInputs(**{**inputs.__dict__, "actions": None, "action_token_ids": ids}), timer or _no_timer
        )
        if x.device.type != "meta" and bool(mask.all()):
            return self._greedy_cached(x[:, : x.shape[1] - k], k, timer or _no_timer)
        # Rows of different lengths (right padding): causal attention means the logit for token i
        # sees only tokens < i, so the placeholders after position i never leak; one full forward
        # per token keeps the sequence layout of training.
        for i in range(k):
            step = ModelInputs(**{**inputs.__dict__, "actions": None, "action_token_ids": ids})
            out = self.forward(step, timer)
            assert out.logits is not None
            tok = self.action_tokenizer
            ids[:, i] = tok.greedy(out.logits[:, i])
        return self.action_tokenizer.decode(ids).view(b, act.base_steps, act.action_dim)

    def _greedy_cached(self, prefix: torch.Tensor, k: int, t: Timer) -> torch.Tensor:
        """Greedy decoding of k action tokens with a KV cache: one pass over the prefix (everything
        up to the last text token), then one position per token. Same tokens as the full-forward
        loop (the test compares them), 1 + (k - 1) short passes instead of k full ones."""
        act, tok = self.config.action, self.action_tokenizer
        b = prefix.shape[0]
        embed = self.llm.get_input_embeddings()
        ids = torch.empty((b, k), dtype=torch.long, device=prefix.device)
        with t("llm"):
            out = self.llm.model(inputs_embeds=prefix, use_cache=True)
            cache, h = out.past_key_values, out.last_hidden_state[:, -1]
            for i in range(k):
                logits = self.llm.lm_head(h).float()
                ids[:, i] = tok.greedy(logits)
                if i + 1 < k:
                    e = embed(ids[:, i : i + 1]).to(prefix.dtype)
                    out = self.llm.model(inputs_embeds=e, past_key_values=cache, use_cache=True)
                    cache, h = out.past_key_values, out.last_hidden_state[:, -1]
        return tok.decode(ids).view(b, act.base_steps, act.action_dim)

    # ---------------------------------------------------------------- helpers

    def _pixel_masks(
        self, inputs: ModelInputs, b: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m, g = self.config.pixel.max_masks, self.config.vision.grid
        if inputs.pixel_mask is None:
            return torch.zeros(b, m, g, g, device=device), torch.zeros(b, m, dtype=torch.bool, device=device)
        valid = inputs.pixel_mask_valid
        if valid is None:
            valid = inputs.pixel_mask.flatten(2).sum(-1) > 0
        return inputs.pixel_mask, valid.bool()

    def _prompt_tokens(
        self, inputs: ModelInputs, b: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if inputs.prompt_tokens is not None:
            valid = inputs.prompt_valid
            if valid is None:
                valid = inputs.prompt_tokens.abs().sum(-1) > 0
            return inputs.prompt_tokens, valid.bool()
        feats = inputs.prompt_features
        if feats is None:
            # No prompts: the single learned "none" token, exactly what featurize([]) produces.
            feats = _batched_features(P.featurize([]), b, device)
        dtype = self.prompt_encoder.type_embed.weight.dtype
        # Coordinates stay float32 whatever the weights are: the Fourier features need them (a bf16
        # coordinate near 0.5 is only good to 1/512 of the image).
        args = {
            k: feats[k].to(dtype) if feats[k].is_floating_point() and k != "coords" else feats[k]
            for k in P.FEATURE_SPEC
        }
        return self.prompt_encoder(**args), feats["valid"].bool()

    def _action_ids(self, inputs: ModelInputs, b: int, device: torch.device) -> torch.Tensor:
        act = self.config.action
        if inputs.action_token_ids is not None:
            return inputs.action_token_ids.long()
        if inputs.actions is None:
            raise ValueError("the tokens head needs target actions or action_token_ids")
        steps = inputs.actions[:, : act.base_steps]
        return self.action_tokenizer.encode(steps.float()).reshape(b, -1)


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Every parameter registered inside goes to the meta device as it is registered (before the
    module's own init runs, which is then free); buffers (rotary frequencies, pixel statistics)
    keep their real values. Not thread-safe: it patches nn.Module.register_parameter."""
    original = nn.Module.register_parameter

    def register(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    nn.Module.register_parameter = register  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def _batched_features(features: Mapping[str, Any], b: int, device: torch.device) -> dict[str, torch.Tensor]:
    import numpy as np

    out = {}
    for k, v in features.items():
        arr = torch.from_numpy(np.ascontiguousarray(v)).to(device)
        out[k] = arr.unsqueeze(0).expand(b, *arr.shape)
    return out


def slot_attention_mask(valid: torch.Tensor, n_slots: int) -> torch.Tensor:
    """(ours, after OpenVLA-OFT) The 4D boolean mask (B, 1, L, L) (True: may attend) for a squeezed
    batch whose last `n_slots` valid positions are the action slots: causal everywhere, plus every
    slot sees every slot of its row; padding keys are never seen. n_slots = 0: the plain causal +
    padding mask. Position 0 (BOS) is valid in every row, so no query row is empty (padding
    queries see the valid keys before them; their outputs are never read)."""
    length = valid.shape[1]
    pos = torch.arange(length, device=valid.device)
    n_valid = valid.sum(1, keepdim=True)  # (B, 1)
    is_slot = (pos >= n_valid - n_slots) & valid  # (B, L)
    causal = pos[None, :, None] >= pos[None, None, :]  # (1, L, L): query i sees key j <= i
    allowed = (causal | (is_slot[:, :, None] & is_slot[:, None, :])) & valid[:, None, :]
    return allowed[:, None]


def _take(hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """hidden (B, L, D), index (B, K) -> (B, K, D)."""
    return torch.gather(hidden, 1, index.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))


def _squeeze_padding(
    parts: list[tuple[torch.Tensor, torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the parts and move every invalid position to the end of its row (stable sort),
    so each example is one contiguous sequence: embeddings (B, L, D) and attention mask (B, L)."""
    x = torch.cat([p[0] for p in parts], dim=1)
    valid = torch.cat([p[1] for p in parts], dim=1)
    # A stable sort of "invalid" as an argsort of unique keys (same order; ONNX has no stable sort).
    length = valid.shape[1]
    key = (~valid).long() * length + torch.arange(length, device=valid.device)
    order = torch.argsort(key, dim=1)
    x = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x))
    valid = torch.gather(valid, 1, order)
    if x.device.type != "meta" and not torch.compiler.is_compiling() and not torch.jit.is_tracing():
        # Drop the columns that are padding in every row (at batch 1: all of them); compiled and
        # traced (ONNX, pixelvla.fast_tiny) graphs keep the static length instead.
        keep = int(valid.sum(1).max())
        x, valid = x[:, :keep], valid[:, :keep]
    return x, valid
