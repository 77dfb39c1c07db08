"""Typed configurations of PixelVLA: `full` (the paper's OpenVLA/Prismatic-7B backbone) and `tiny`.

One dataclass per component, one `PixelVLAConfig` that owns them and round-trips through JSON
(the bundle's config.json). Fields marked (ours) in docs/MODEL.md are plain fields here so every
choice the paper leaves open stays configurable.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pixelvla.errors import PixelVLAError

# How a Policy runs a chunk (pixelvla.fast_tiny): eager PyTorch, the slot graph in ONNX Runtime, or that
# graph with int8 matmul weights. Here, torch-free, so that the CLI and the server's settings read it.
POLICY_BACKENDS = ("torch", "onnx", "onnx-int8")


class ConfigError(PixelVLAError):
    """An unknown configuration name or a malformed configuration document."""

    default_code = "invalid_config"


@dataclass(frozen=True)
class TowerConfig:
    """One timm ViT tower, built from its architecture name with ``pretrained=False``."""

    arch: str
    # Overrides forwarded to timm.create_model (tiny uses them to shrink a stock ViT).
    overrides: dict[str, Any] = field(default_factory=dict)
    # Per-channel normalisation of [0, 1] pixels, as each tower was pretrained with.
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class VisionConfig:
    image_size: int
    patch_size: int
    # Prismatic naming: `featurizer` (DINOv2) and, when fused, `fused_featurizer` (SigLIP).
    featurizer: TowerConfig
    fused_featurizer: TowerConfig | None = None
    # Features for the projector come from this block of every tower (-2: second-to-last, paper).
    feature_block: int = -2
    # The tower whose block outputs feed the pixel-aware encoder, and which blocks (0-based).
    pixel_tower: Literal["featurizer", "fused_featurizer"] = "featurizer"
    pixel_levels: tuple[int, ...] = (1, 2, 3, 4)

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid


@dataclass(frozen=True)
class LLMConfig:
    """Llama-architecture decoder (transformers.LlamaConfig fields we set)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    rms_norm_eps: float = 1e-5
    max_position_embeddings: int = 2048
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    # Recompute each decoder layer's activations in the backward pass instead of keeping them
    # (training only): a 7B layer's activations at batch 8 are most of a card, the recompute costs
    # about one more forward. On for `full`, off for `tiny` (no memory to save, ~30% slower).
    activation_checkpointing: bool = False


@dataclass(frozen=True)
class TokenizerConfig:
    kind: Literal["byte", "llama"]
    # Size of the tokenizer's own vocabulary; the last `action_bins` ids are action tokens (OpenVLA).
    vocab_size: int
    bos_token_id: int
    eos_token_id: int
    pad_token_id: int
    # For kind == "llama": a local folder with the tokenizer files (never downloaded).
    path: str | None = None


@dataclass(frozen=True)
class PixelEncoderConfig:
    max_masks: int = 4
    tokens_per_mask: int = 1  # N_p


@dataclass(frozen=True)
class PromptConfig:
    dim: int = 256  # width of the browser half's tokens
    max_tokens: int = 16  # N_s


@dataclass(frozen=True)
class ActionConfig:
    chunk_size: int = 8  # N_c
    action_dim: int = 7
    decoder_blocks: int = 2  # N_r
    # Width of the decoder's hidden layers; 0 means "the LLM width D".
    decoder_hidden: int = 0
    bins: int = 256  # base stage: OpenVLA-style discrete action tokens per dimension
    # Base stage: how many chunk steps become tokens (OpenVLA predicts one step).
    base_steps: int = 1
    # Which id each bin gets (action_tokenizer.py). "ascending" (ours, `tiny`): `bins` equal bins on
    # [-1, 1], bin k -> vocab_size - bins + k. "openvla" (`full` and imported checkpoints): OpenVLA's
    # own, token = vocab_size - digitize(a, linspace(-1, 1, bins)), decoded to one of bins - 1
    # centres, so an OpenVLA checkpoint's tokens decode to its own actions.
    token_layout: Literal["ascending", "openvla"] = "ascending"
    # (ours, after OpenVLA-OFT) How the action slots see each other in the LLM: "causal" (the paper's
    # decoder as it is) or "bidirectional" (every slot attends to every slot; the rest stays causal).
    slot_attention: Literal["causal", "bidirectional"] = "causal"


@dataclass(frozen=True)
class PixelVLAConfig:
    name: str
    vision: VisionConfig
    llm: LLMConfig
    tokenizer: TokenizerConfig
    pixel: PixelEncoderConfig = PixelEncoderConfig()
    prompt: PromptConfig = PromptConfig()
    action: ActionConfig = ActionConfig()
    # (paper) template; (ours) the braces around annotations / visual prompts are dropped and the
    # literal words stay, the embeddings themselves sit in the E_p / E_s positions.
    prompt_template: str = "What should the robot do to {task}, refer to annotations visual prompts?"
    # Which head produces actions: "tokens" (base stage, next-token) or "continuous" (stages 1-2).
    head: Literal["tokens", "continuous"] = "continuous"
    # Stage 1 removes the new encoders; stage 2 switches them on.
    use_pixel_encoder: bool = True
    use_prompt_encoder: bool = True
    # (ours, after OpenVLA-OFT) Width of the proprioceptive state fed as one token before the action
    # part; 0 (the paper, `full`) feeds none.
    state_dim: int = 0
    # Token ids appended after the text, before the state and action part. OpenVLA's predict_action
    # appends SentencePiece's lone "▁" (29871 in Llama-2) to its prompt; an imported OpenVLA keeps it.
    text_suffix_ids: tuple[int, ...] = ()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PixelVLAConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from e
        return _from_dict(cls, data, "config")


T = TypeVar("T")


def _from_dict(cls: type[T], data: object, where: str) -> T:
    """Strict dataclass-from-dict: unknown or missing keys are errors, tuples come back as tuples."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    hints = {f.name: f.type for f in fields.values()}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = str(hints[name])
        sub = _NESTED.get(hint.replace(" | None", ""))
        if sub is not None and value is not None:
            kwargs[name] = _from_dict(sub, value, f"{where}.{name}")
        elif hint.startswith("tuple") and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e


_NESTED: dict[str, type] = {
    "TowerConfig": TowerConfig,
    "VisionConfig": VisionConfig,
    "LLMConfig": LLMConfig,
    "TokenizerConfig": TokenizerConfig,
    "PixelEncoderConfig": PixelEncoderConfig,
    "PromptConfig": PromptConfig,
    "ActionConfig": ActionConfig,
}

# Byte-level tokenizer layout for tiny: 3 specials, 256 bytes, 256 action tokens (the last ids).
BYTE_SPECIALS = 3
BYTE_VOCAB = BYTE_SPECIALS + 256 + 256


def tiny_config() -> PixelVLAConfig:
    """CPU-sized PixelVLA: one small ViT (its blocks are the pixel levels), a 4-layer Llama."""
    return PixelVLAConfig(
        name="tiny",
        vision=VisionConfig(
            image_size=112,
            patch_size=14,
            featurizer=TowerConfig(
                arch="vit_tiny_patch16_224",
                overrides={
                    "patch_size": 14,
                    "embed_dim": 128,
                    "depth": 6,
                    "num_heads": 4,
                    "class_token": False,
                    "global_pool": "avg",
                },
            ),
            pixel_tower="featurizer",
            pixel_levels=(1, 2, 3, 4),
        ),
        llm=LLMConfig(
            vocab_size=BYTE_VOCAB + 5,  # padded to a multiple of 8
            hidden_size=256,
            intermediate_size=512,
            num_layers=4,
            num_heads=4,
            num_kv_heads=4,
            max_position_embeddings=512,
        ),
        tokenizer=TokenizerConfig(
            kind="byte", vocab_size=BYTE_VOCAB, bos_token_id=1, eos_token_id=2, pad_token_id=0
        ),
        action=ActionConfig(chunk_size=8),
        # The sim robot's state: hand position (3), roll/pitch/yaw (3), gripper command, width.
        state_dim=8,
    )


def full_config(tokenizer_path: str | None = None) -> PixelVLAConfig:
    """The paper's configuration: Prismatic-7B (DINOv2 + SigLIP, Llama-2-7B) plus the new modules."""
    return PixelVLAConfig(
        name="full",
        vision=VisionConfig(
            image_size=224,
            patch_size=14,
            featurizer=TowerConfig(
                arch="vit_large_patch14_reg4_dinov2", mean=IMAGENET_MEAN, std=IMAGENET_STD
            ),
            fused_featurizer=TowerConfig(arch="vit_so400m_patch14_siglip_224"),
            pixel_tower="fused_featurizer",
            pixel_levels=(7, 13, 19, 25),
        ),
        llm=LLMConfig(
            # OpenVLA adds a pad token to Llama-2's 32000 and pads the table to a multiple of 64.
            vocab_size=32064,
            hidden_size=4096,
            intermediate_size=11008,
            num_layers=32,
            num_heads=32,
            num_kv_heads=32,
            max_position_embeddings=2048,
            activation_checkpointing=True,
        ),
        tokenizer=TokenizerConfig(
            kind="llama",
            vocab_size=32000,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=32000,
            path=tokenizer_path,
        ),
        action=ActionConfig(chunk_size=8, token_layout="openvla"),
    )


CONFIGS = {"tiny": tiny_config, "full": full_config}


def get_config(name: str) -> PixelVLAConfig:
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"unknown config {name!r}; known: {sorted(CONFIGS)}") from None


def load_config(name_or_path: str) -> PixelVLAConfig:
    """A named configuration, or a PixelVLAConfig JSON file (e.g. a bundle's config.json)."""
    if name_or_path in CONFIGS:
        return CONFIGS[name_or_path]()
    path = Path(name_or_path)
    if path.suffix == ".json" or path.is_file():
        try:
            return PixelVLAConfig.from_json(path.read_text())
        except OSError as e:
            raise ConfigError(f"cannot read model config {path}: {e}") from e
    raise ConfigError(f"unknown config {name_or_path!r}; known: {sorted(CONFIGS)} or a config .json file")
