"""Browser half of the visual prompt-aware encoder (docs/MODEL.md section 1), exported to ONNX.

Each featurised token becomes a 256-wide vector:
- point / box corner: random-Fourier PE of its coordinates + its type embedding;
- line sample k: PE + type_line + index_k;
- mask: SAM-style downscaling convs on the 64x64 raster, masked average over the 16x16 feature
  map (weights = the mask's own coverage at 16x16) + type_mask;
- "none": the learned type-1 embedding alone; padding: zeros.
Everything is branch-free tensor arithmetic over the fixed (B, 16) layout so the ONNX graph has
static shapes and no control flow. The server half (MLP 256 -> D -> D) lives in the model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from pixelvla import prompts as P
from pixelvla.errors import PromptError


@dataclass(frozen=True)
class PromptEncoderConfig:
    dim: int = 256
    max_tokens: int = P.MAX_TOKENS
    max_masks: int = P.MAX_MASKS
    mask_size: int = P.MASK_SIZE
    line_points: int = P.LINE_POINTS
    num_types: int = P.NUM_TYPES
    # Std of the Fourier frequencies (SAM uses 1.0 on coordinates mapped to [-1, 1]).
    pe_scale: float = 1.0


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an NCHW map (SAM's), written with plain ops for ONNX."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class RandomFourierPE(nn.Module):
    """PE(c) = [sin(2pi (2c-1) G), cos(2pi (2c-1) G)] with a fixed Gaussian G of shape (2, dim/2)."""

    gaussian: torch.Tensor

    def __init__(self, dim: int, scale: float) -> None:
        super().__init__()
        # A buffer, not a parameter: fixed at init, yet saved (and hashed) with the weights. Always
        # float32, also when the model is built in bf16 (the server on CUDA): see forward.
        self.register_buffer("gaussian", scale * torch.randn(2, dim // 2, dtype=torch.float32))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Float32 features whatever the input dtype and autocast say: in bf16 the arguments
        (~40 rad) are only good to ~0.25 rad, less than a 224-px image's pixel moves them."""
        kind = coords.device.type
        if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
            with torch.autocast(kind, enabled=False):
                return self._features(coords)
        return self._features(coords)

    def _features(self, coords: torch.Tensor) -> torch.Tensor:
        # The casts are Python-level, so the exported graph (all float32) gains no Cast node.
        c = coords if coords.dtype == torch.float32 else coords.float()
        g = self.gaussian if self.gaussian.dtype == torch.float32 else self.gaussian.float()
        turns = (2.0 * c - 1.0) @ g
        # Reduce to [-0.5, 0.5] turns before sin/cos: GPU sin/cos (WGSL) are only accurate near
        # [-pi, pi], and the raw arguments reach ~40 rad. Exact in float32 for |turns| < 2**22.
        turns = turns - torch.floor(turns + 0.5)
        proj = turns * (2.0 * math.pi)
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


class PromptEncoder(nn.Module):
    type_gates: torch.Tensor
    slot_onehot: torch.Tensor

    def __init__(self, config: PromptEncoderConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or PromptEncoderConfig()
        if cfg.dim % 2:
            raise ValueError(f"PromptEncoder dim must be even, got {cfg.dim}")
        self.pe = RandomFourierPE(cfg.dim, cfg.pe_scale)
        self.type_embed = nn.Embedding(cfg.num_types, cfg.dim)
        self.index_embed = nn.Embedding(cfg.line_points, cfg.dim)
        # SAM's mask downscaling: 64 -> 32 -> 16 spatially, 1 -> 4 -> 16 -> dim channels.
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=2, stride=2),
            LayerNorm2d(4),
            nn.GELU(),
            nn.Conv2d(4, 16, kernel_size=2, stride=2),
            LayerNorm2d(16),
            nn.GELU(),
            nn.Conv2d(16, cfg.dim, kernel_size=1),
        )
        # Constant tables (not weights, so not saved): which terms each token type gets, and the
        # one-hot choice of mask raster per slot.
        gates = torch.zeros(cfg.num_types, 3)
        gates[P.TYPE_POINT_POS : P.TYPE_LINE + 1, 0] = 1.0
        gates[P.TYPE_LINE, 1] = 1.0
        gates[P.TYPE_MASK, 2] = 1.0
        self.register_buffer("type_gates", gates, persistent=False)
        self.register_buffer("slot_onehot", torch.eye(cfg.max_masks), persistent=False)
        with torch.no_grad():
            # Padding row stays zero so an all-zero input is an all-zero token before masking too.
            self.type_embed.weight[P.TYPE_PAD].zero_()

    def grid_pe(self, n: int) -> torch.Tensor:
        """(dim, n, n) PE of the cell centres of an n x n grid over the image (half-pixel rule)."""
        g = self.pe.gaussian
        centres = (torch.arange(n, dtype=g.dtype, device=g.device) + 0.5) / n
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        return self.pe(torch.stack([xs, ys], dim=-1)).permute(2, 0, 1)

    def mask_features(self, masks: torch.Tensor) -> torch.Tensor:
        """(B, M, S, S) coverage rasters -> (B, M, dim) masked-average features.

        Equal to masked-averaging the output of the full SAM stack plus a dense PE, but the last
        (1x1, linear) conv is applied after the average, since a weighted mean commutes with an
        affine map: 256x fewer multiply-adds, which is most of this encoder's cost in WASM.
        """
        b, m, s, _ = masks.shape
        x = masks.reshape(b * m, 1, s, s)
        *downscale, project = self.mask_downscaling
        feat = x
        for layer in downscale:
            feat = layer(feat)  # (B*M, 16, S/4, S/4)
        weight = F.avg_pool2d(x, kernel_size=4)  # the mask's coverage on the same grid
        den = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
        pooled = (feat * weight).sum(dim=(2, 3), keepdim=True) / den  # (B*M, 16, 1, 1)
        # Convs and LayerNorm are translation-invariant, so without the dense PE (as SAM adds to
        # its image embedding) two same-shaped masks in different places would give one token.
        pe = (_like(self.grid_pe(s // 4), feat) * weight).sum(dim=(2, 3)) / den.flatten(1)  # (B*M, dim)
        return (project(pooled).flatten(1) + pe).reshape(b, m, self.config.dim)

    def forward(
        self,
        coords: torch.Tensor,
        types: torch.Tensor,
        index: torch.Tensor,
        mask_slot: torch.Tensor,
        masks: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:
        # Indices stay int32 and are only ever used by Gathers (embedding lookups), never compared:
        # the exporter turns integer comparisons into int64 Casts, ORT's WebGPU EP has no int64
        # kernels, and such a graph gave wrong rows there (ORT-web 1.30 on SwiftShader looked
        # index_embed up with the *types*). So per-type switches and the slot choice are tables.
        gates = F.embedding(types, self.type_gates).unsqueeze(-1)  # (B, T, 3, 1): geom, line, mask
        tokens = self.type_embed(types)
        tokens = tokens + _like(self.pe(coords), tokens) * gates[:, :, 0]
        tokens = tokens + self.index_embed(index) * gates[:, :, 1]
        onehot = F.embedding(mask_slot, self.slot_onehot)  # (B, T, M)
        tokens = tokens + (onehot @ self.mask_features(masks)) * gates[:, :, 2]
        return tokens * valid.unsqueeze(-1).to(tokens.dtype)


def _like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """The float32 Fourier features in the dtype of the tokens they join (bf16 weights: bf16, whose
    3 digits of a sin/cos still tell pixels apart; the argument is what needed float32). A
    Python-level check, so the float32 ONNX graph gains no Cast."""
    return x if x.dtype == ref.dtype else x.to(ref.dtype)


def make_prompt_encoder(seed: int = 0, config: PromptEncoderConfig | None = None) -> PromptEncoder:
    """A PromptEncoder with deterministic random weights (what the studio runs before training)."""
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        module = PromptEncoder(config)
    finally:
        torch.random.set_rng_state(gen_state)
    return module.eval()


def state_dict_bytes(module: nn.Module | Mapping[str, torch.Tensor]) -> bytes:
    """The safetensors serialisation of ``module.state_dict()`` (or of those tensors; CPU, contiguous)."""
    state = module.state_dict() if isinstance(module, nn.Module) else module
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    return safetensors.torch.save(tensors)


def encoder_hash(module: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """sha256 (hex) of the safetensors bytes of the encoder's state_dict: the studio compares it
    with the model's metadata to know its ONNX encoder matches the policy's weights."""
    return hashlib.sha256(state_dict_bytes(module)).hexdigest()


def features_to_tensors(features: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Unbatched featurize() output -> batch-1 tensors in forward()'s argument order."""
    P.check_features(features)
    return {k: torch.from_numpy(np.ascontiguousarray(features[k]))[None] for k in P.FEATURE_SPEC}


@torch.no_grad()
def encode_prompts(module: PromptEncoder, prompts: list[P.Prompt]) -> tuple[np.ndarray, np.ndarray]:
    """Prompts -> (tokens f32 (16, dim), valid bool (16,)), the same pair the browser sends."""
    feats = P.featurize(prompts)
    t = features_to_tensors(feats)
    try:
        param = next(module.parameters())
    except StopIteration as e:  # pragma: no cover - a PromptEncoder always has parameters
        raise PromptError("prompt encoder has no parameters") from e
    t = {k: v.to(param.device) for k, v in t.items()}
    tokens = module(**t)[0].to(torch.float32).cpu().numpy()
    return tokens, feats["valid"].copy()
