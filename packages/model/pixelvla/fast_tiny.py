"""A fast inference path for small continuous-head models on CPU: one action chunk through ONNX Runtime.

The tiny model's eager predict is hundreds of small PyTorch ops, and the LLM's share is mostly matmuls
over every position of the sequence (~230 at batch 1). Two things make one chunk cheaper here, both exact
up to float rounding:

- the slot graph (`SlotGraph`): the model's own sequence (`PixelVLA._sequence`) and its own Llama layers,
  except that the last layer computes only the action-slot rows (the action decoder reads nothing else):
  its keys and values still cover every position, its queries, output projection and MLP only the
  N_c x 7 slots;
- that graph exported once per input layout (ONNX, opset 17, the text length a dynamic axis, the padding
  dropped inside the graph) and run by ONNX Runtime's CPU provider (one graph instead of eager dispatch).

A layout is which optional inputs an observation has: prompts as the browser's tokens or as featurised
prompt arrays (no prompts: the "none" token, as eager), a state or not. Pixel masks are always fed (none:
zeros, all invalid, as eager). Batch 1 only.

    fast = OnnxChunk(model)              # exports lazily, per layout, on first use
    actions = fast.predict(inputs)       # == model.predict(inputs) within fp32 rounding
    Policy.load(bundle, backend="onnx")  # the same behind a Policy (warmed up at load)

The test (tests/test_fast_tiny.py) holds both against the eager model; `python -m pixelvla.bench`
reports eager vs slot graph vs ONNX Runtime p50 in one run.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, repeat_kv

from pixelvla import prompts as P
from pixelvla.config import POLICY_BACKENDS
from pixelvla.errors import PixelVLAError
from pixelvla.model import ModelInputs, PixelVLA, slot_attention_mask

OPSET = 17
FEATURES = tuple(P.FEATURE_SPEC)  # coords, types, index, mask_slot, masks, valid


class FastPathError(PixelVLAError):
    default_code = "fast_path_unsupported"


@contextlib.contextmanager
def _no_timer(_: str) -> Iterator[None]:
    yield


def check_supported(model: PixelVLA) -> None:
    cfg = model.config
    if cfg.head != "continuous":
        raise FastPathError(f"the fast path serves the continuous head only, not {cfg.head!r}")


def layout_of(inputs: ModelInputs) -> tuple[str, bool]:
    """(prompt input kind, has state): what decides the graph's inputs."""
    if inputs.pixel_values.shape[0] != 1:
        raise FastPathError("the fast path runs batch 1")
    prompts = "tokens" if inputs.prompt_tokens is not None else "features"
    return prompts, inputs.state is not None


class SlotGraph(nn.Module):
    """Flat tensors in, normalised actions (1, N_c, 7) out: the model's forward with the last LLM
    layer restricted to the slot rows. Holds the model's own modules (no copy of the weights)."""

    def __init__(self, model: PixelVLA, layout: tuple[str, bool]) -> None:
        super().__init__()
        check_supported(model)
        self.model = model
        self.prompts, self.has_state = layout
        cfg = model.config
        self.n_slots = cfg.action.chunk_size * cfg.action.action_dim
        self.bidirectional = cfg.action.slot_attention == "bidirectional"

    def input_names(self) -> list[str]:
        names = ["pixel_values", "input_ids", "pixel_mask", "pixel_mask_valid"]
        names += ["prompt_tokens", "prompt_valid"] if self.prompts == "tokens" else list(FEATURES)
        return [*names, "state"] if self.has_state else names

    def flat(self, inputs: ModelInputs) -> list[torch.Tensor]:
        """The graph's inputs from model inputs, absent pieces as the eager model fills them in."""
        m, g = self.model.config.pixel.max_masks, self.model.config.vision.grid
        dev = inputs.pixel_values.device
        pixel_mask, pixel_valid = inputs.pixel_mask, inputs.pixel_mask_valid
        if pixel_mask is None:
            pixel_mask, pixel_valid = torch.zeros(1, m, g, g, device=dev), torch.zeros(1, m, dtype=torch.bool)
        elif pixel_valid is None:
            pixel_valid = pixel_mask.flatten(2).sum(-1) > 0
        out = [inputs.pixel_values.float(), inputs.input_ids.long(), pixel_mask.float(), pixel_valid.bool()]
        if self.prompts == "tokens":
            assert inputs.prompt_tokens is not None
            valid = inputs.prompt_valid
            if valid is None:
                valid = inputs.prompt_tokens.abs().sum(-1) > 0
            out += [inputs.prompt_tokens.float(), valid.bool()]
        else:
            feats = inputs.prompt_features
            if feats is None:
                feats = {
                    k: torch.from_numpy(np.ascontiguousarray(v))[None] for k, v in P.featurize([]).items()
                }
            out += [feats[k] for k in FEATURES]
        if self.has_state:
            assert inputs.state is not None
            out.append(inputs.state.float())
        return out

    def forward(self, *flat: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.input_names(), flat, strict=True))
        inputs = ModelInputs(
            pixel_values=named["pixel_values"],
            input_ids=named["input_ids"],
            text_mask=torch.ones_like(named["input_ids"], dtype=torch.bool),
            pixel_mask=named["pixel_mask"],
            pixel_mask_valid=named["pixel_mask_valid"],
            prompt_tokens=named.get("prompt_tokens"),
            prompt_valid=named.get("prompt_valid"),
            prompt_features={k: named[k] for k in FEATURES} if self.prompts == "features" else None,
            state=named.get("state"),
        )
        model = self.model
        x, valid, _ = model._sequence(inputs, _no_timer)
        # Batch 1: drop the padding (moved to the end by the sequence). `arange` of a tensor stays a
        # dynamic length in the exported graph, so one graph serves any number of valid positions.
        x = torch.index_select(x, 1, torch.arange(valid.sum(), device=x.device))  # type: ignore[call-overload]
        length = x.shape[1]
        llm = model.llm.model
        positions = torch.arange(length, device=x.device)[None]
        cos, sin = llm.rotary_emb(x, positions)
        # Causal (HF's own path when the mask is None), or causal + slots see each other (OFT).
        all_valid = torch.ones(1, length, dtype=torch.bool, device=x.device)
        mask = slot_attention_mask(all_valid, self.n_slots) if self.bidirectional else None
        h = x
        layers = list(llm.layers)
        for layer in layers[:-1]:
            h = layer(h, attention_mask=mask, position_ids=positions, position_embeddings=(cos, sin))
        # The last layer: keys/values at every position, everything else only at the slot rows (the
        # last n_slots positions).
        n = self.n_slots
        last = layers[-1]
        attn = last.self_attn
        normed = last.input_layernorm(h)
        hd = attn.head_dim

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(1, t.shape[1], -1, hd).transpose(1, 2)

        q = heads(attn.q_proj(normed[:, -n:]))
        k, v = heads(attn.k_proj(normed)), heads(attn.v_proj(normed))
        q, _ = apply_rotary_pos_emb(q, q, cos[:, -n:], sin[:, -n:])
        k, _ = apply_rotary_pos_emb(k, k, cos, sin)
        k, v = repeat_kv(k, attn.num_key_value_groups), repeat_kv(v, attn.num_key_value_groups)
        if mask is not None:
            row_mask = mask[:, :, -n:]
        else:  # slot row i sits at position length - n + i and sees the keys up to there
            row_mask = positions[:, None, :] <= (positions[:, -n:, None])
            row_mask = row_mask[:, None]
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=row_mask, scale=attn.scaling)
        hs = h[:, -n:] + attn.o_proj(o.transpose(1, 2).reshape(1, n, -1))
        hs = hs + last.mlp(last.post_attention_layernorm(hs))
        return model.action_decoder(llm.norm(hs)).float()


# "onnx-int8": the same graph with its MatMul/Gemm weights quantised to int8 (dynamic quantisation:
# activations quantised per call). Not exact: actions within INT8_TOL of eager (normalised units).
BACKENDS = POLICY_BACKENDS
INT8_TOL = 0.05


def backend(model: PixelVLA, name: str) -> OnnxChunk | None:
    """`Policy(backend=...)`: None for eager PyTorch, or the ONNX Runtime chunk, warmed up."""
    if name not in BACKENDS:
        raise FastPathError(f"unknown backend {name!r}; one of {', '.join(BACKENDS)}", code="invalid_backend")
    if name == "torch":
        return None
    fast = OnnxChunk(model, int8=name == "onnx-int8")
    fast.warm_up()
    return fast


def quantize_int8(graph: bytes) -> bytes:
    """An exported graph with its MatMul and Gemm weights as int8 (ONNX Runtime's dynamic
    quantisation; weights per output channel, reduced to 7 bits so that AVX2's u8 x s8 multiply-add
    cannot saturate), activations quantised at run time. Measured on the demo bundle: max |diff| vs
    eager 0.014, per tensor 0.027-0.034 (normalised actions)."""
    import logging
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="pixelvla-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(graph)
        quiet = logging.getLogger()  # "please run pre-processing first": advice, not an error
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                src,
                dst,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                per_channel=True,
                reduce_range=True,
            )
        finally:
            quiet.setLevel(level)
        return dst.read_bytes()


class OnnxChunk:
    """One action chunk through ONNX Runtime (CPU provider), one exported SlotGraph per layout;
    `int8`: each graph quantised (quantize_int8) before its session starts."""

    def __init__(self, model: PixelVLA, threads: int | None = None, *, int8: bool = False) -> None:
        check_supported(model)
        if next(model.parameters()).device.type != "cpu":
            raise FastPathError("the ONNX Runtime path runs on the CPU")
        self.model = model.eval()
        self.threads = threads or torch.get_num_threads()
        self.int8 = int8
        self._sessions: dict[tuple[str, bool], tuple[Any, SlotGraph]] = {}

    def export(self, layout: tuple[str, bool], example: ModelInputs) -> bytes:
        """The layout's graph as ONNX bytes (fp32; the text length is dynamic)."""
        graph = SlotGraph(self.model, layout).eval()
        args = tuple(graph.flat(example))
        buf = io.BytesIO()
        dtype = next(self.model.parameters()).dtype
        if dtype != torch.float32:
            raise FastPathError(f"the ONNX path exports float32 weights, not {dtype}")
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter (no onnxscript needed) warns about Python control flow it
            # freezes; the frozen branches are the layout's, which is why there is one graph per layout.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                args,
                buf,  # type: ignore[arg-type]  # a file object works (the stubs say path only)
                input_names=graph.input_names(),
                output_names=["actions"],
                opset_version=OPSET,
                dynamic_axes={"input_ids": {1: "text"}},
                dynamo=False,
            )
        return buf.getvalue()

    def session(self, layout: tuple[str, bool], example: ModelInputs) -> tuple[Any, SlotGraph]:
        if layout not in self._sessions:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            graph = self.export(layout, example)
            if self.int8:
                graph = quantize_int8(graph)
            sess = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
            self._sessions[layout] = (sess, SlotGraph(self.model, layout))
        return self._sessions[layout]

    def warm_up(self) -> None:
        """Export the layouts of prompt arrays, with and without a state, so that a first request
        does not pay for it (seconds); browser prompt tokens export on their first use."""
        cfg = self.model.config
        size = cfg.vision.image_size
        example = ModelInputs(
            pixel_values=torch.zeros(1, 3, size, size),
            input_ids=torch.full((1, 4), 3, dtype=torch.long),
            text_mask=torch.ones(1, 4, dtype=torch.bool),
        )
        self.predict(example)
        if cfg.state_dim > 0:
            example.state = torch.zeros(1, cfg.state_dim)
            self.predict(example)

    def predict(self, inputs: ModelInputs) -> torch.Tensor:
        """Normalised actions (1, N_c, 7), float32, as `PixelVLA.predict` gives them."""
        layout = layout_of(inputs)
        sess, graph = self.session(layout, inputs)
        feed = {
            n: t.detach().cpu().numpy() for n, t in zip(graph.input_names(), graph.flat(inputs), strict=True)
        }
        (actions,) = sess.run(["actions"], feed)
        return torch.from_numpy(actions)
