"""Policy: a loaded bundle behind one call, `predict(Observation) -> Prediction`.

Turns raw observations (any-size uint8 image, instruction, visual prompts as browser tokens or as
prompt objects, pixel masks as COCO RLE) into model inputs, runs the model under inference mode,
and un-normalises the action chunk with the bundle's statistics. Times every stage; on CUDA the
per-stage numbers are real GPU time only with `detailed_timing` (a synchronisation around every
stage, ~7 per predict); by default a predict synchronises once (copying the actions back), the
stages then report host-side time and `total` stays real.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelvla import prompts as P
from pixelvla.checkpoint import LoadedBundle, load_bundle
from pixelvla.errors import PixelVLAError, PromptError
from pixelvla.model import ModelInputs
from pixelvla.prompt_encoder import encoder_hash
from pixelvla.tokenizer import build_tokenizer, format_instruction
from pixelvla.vision import images_to_pixels

TIMING_KEYS = ("decode", "vision", "pixel_encoder", "prompt_encoder", "llm", "decoder", "total")


class ObservationError(PixelVLAError):
    default_code = "invalid_observation"


@dataclass
class Observation:
    image: np.ndarray  # uint8 (H, W, 3), any size
    instruction: str
    prompt_tokens: np.ndarray | None = None  # f32 (16, 256) from the browser's prompt encoder
    prompt_valid: np.ndarray | None = None  # bool (16,)
    prompts: list[P.Prompt] | None = None  # encoded here when prompt_tokens is None
    pixel_masks: list[Mapping[str, Any]] | None = None  # COCO RLE, at most 4
    state: np.ndarray | None = None  # f32 (S,); unused by the model, checked for sanity


@dataclass
class Prediction:
    actions: np.ndarray  # f32 (N_c, 7), un-normalised
    actions_normalized: np.ndarray  # f32 (N_c, 7) in [-1, 1]
    timing_ms: dict[str, float] = field(default_factory=dict)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Policy:
    def __init__(
        self,
        bundle: LoadedBundle,
        device: torch.device,
        *,
        detailed_timing: bool = False,
        compile: bool = False,
    ) -> None:
        """compile: torch.compile the model's forward and warm it up here (the first request does
        not pay for compilation); compiled predictions report only decode and total times."""
        self.detailed_timing = detailed_timing
        self.compiled = compile
        self.bundle = bundle
        self.model = bundle.model
        self.config = bundle.config
        self.normalizer = bundle.normalizer
        self.device = device
        self.tokenizer = build_tokenizer(self.config.tokenizer)
        self._encoder_hash = encoder_hash(self.model.prompt_encoder)
        self._dtype = next(self.model.parameters()).dtype
        if compile:
            self.model.compile_for_serving()
            size = self.config.vision.image_size
            self.predict(Observation(np.zeros((size, size, 3), np.uint8), "warm up"))

    @classmethod
    def load(
        cls,
        bundle_dir: str | os.PathLike[str],
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        *,
        detailed_timing: bool = False,
        compile: bool = False,
    ) -> Policy:
        dev = torch.device(device)
        if dtype is None:
            dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
        bundle = load_bundle(Path(bundle_dir), dev, dtype)
        return cls(bundle, dev, detailed_timing=detailed_timing, compile=compile)

    @property
    def metadata(self) -> dict[str, Any]:
        cfg = self.config
        chunk = cfg.action.chunk_size if cfg.head == "continuous" else cfg.action.base_steps
        return {
            "model_id": self.bundle.model_id,
            "name": self.bundle.manifest.get("name", cfg.name),
            "config": cfg.name,
            "stage": self.bundle.manifest.get("stage"),
            "head": cfg.head,
            "chunk_size": chunk,
            "action_dim": cfg.action.action_dim,
            "image_size": cfg.vision.image_size,
            "encoder_hash": self._encoder_hash,
            "normalization_key": self.normalizer.key,
            "uses_pixel_masks": cfg.use_pixel_encoder,
            "uses_prompts": cfg.use_prompt_encoder,
            "state_dim": cfg.state_dim,
        }

    # ---------------------------------------------------------------- inputs

    def preprocess_image(self, image: np.ndarray) -> torch.Tensor:
        """uint8 (H, W, 3) -> float (1, 3, S, S) in [0, 1], resized without cropping."""
        if not isinstance(image, np.ndarray):
            raise ObservationError(f"image must be a numpy array, got {type(image).__name__}")
        if image.dtype != np.uint8:
            raise ObservationError(f"image must be uint8, got {image.dtype}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
            raise ObservationError(f"image must have shape (H, W, 3), got {image.shape}")
        if not (image.flags.writeable and image.flags.c_contiguous):
            image = np.array(image, order="C")  # frames decoded from the wire are read-only views
        pixels = torch.from_numpy(image).to(self.device)[None]
        return images_to_pixels(pixels, self.config.vision.image_size)

    def text_ids(self, instruction: str) -> list[int]:
        if not isinstance(instruction, str) or not instruction.strip():
            raise ObservationError("instruction must be a non-empty string")
        return self.tokenizer.encode(format_instruction(self.config.prompt_template, instruction))

    def make_inputs(self, obs: Observation) -> ModelInputs:
        cfg = self.config
        ids = self.text_ids(obs.instruction)
        inputs = ModelInputs(
            pixel_values=self.preprocess_image(obs.image),
            input_ids=torch.tensor([ids], dtype=torch.long, device=self.device),
            text_mask=torch.ones(1, len(ids), dtype=torch.bool, device=self.device),
        )
        if obs.pixel_masks is not None and cfg.use_pixel_encoder:
            grid, valid = P.pixel_mask_grid(
                obs.pixel_masks, grid=cfg.vision.grid, max_masks=cfg.pixel.max_masks
            )
            inputs.pixel_mask = torch.from_numpy(grid)[None].to(self.device)
            inputs.pixel_mask_valid = torch.from_numpy(valid)[None].to(self.device)
        elif obs.pixel_masks is not None and len(obs.pixel_masks) > cfg.pixel.max_masks:
            raise PromptError(f"{len(obs.pixel_masks)} pixel masks given; at most {cfg.pixel.max_masks}")
        if obs.prompt_tokens is not None:
            tokens, valid = self._check_tokens(obs.prompt_tokens, obs.prompt_valid)
            inputs.prompt_tokens = torch.from_numpy(tokens)[None].to(self.device)
            inputs.prompt_valid = torch.from_numpy(valid)[None].to(self.device)
        elif obs.prompts is not None:
            feats = P.featurize(obs.prompts)
            inputs.prompt_features = {k: torch.from_numpy(v)[None].to(self.device) for k, v in feats.items()}
        if obs.state is not None:
            state = np.asarray(obs.state)
            if state.ndim != 1 or not np.isfinite(state.astype(np.float64)).all():
                raise ObservationError(f"state must be a finite 1-D vector, got shape {state.shape}")
            if cfg.state_dim > 0:
                if state.shape[0] != cfg.state_dim:
                    raise ObservationError(
                        f"state has {state.shape[0]} values; this model takes {cfg.state_dim}"
                    )
                inputs.state = torch.from_numpy(state.astype(np.float32))[None].to(self.device)
        # A model with a state token and no state given predicts without it (the token is left out).
        return inputs

    def _check_tokens(self, tokens: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        shape = (self.config.prompt.max_tokens, self.config.prompt.dim)
        if not isinstance(tokens, np.ndarray) or tokens.dtype != np.float32 or tokens.shape != shape:
            got = (
                f"{tokens.dtype} {tokens.shape}" if isinstance(tokens, np.ndarray) else type(tokens).__name__
            )
            raise PromptError(f"prompt_tokens must be float32 {shape}, got {got}")
        if not np.isfinite(tokens).all():
            raise PromptError("prompt_tokens contain NaN or infinity")
        if valid is None:
            raise PromptError("prompt_valid is required with prompt_tokens")
        if not isinstance(valid, np.ndarray) or valid.dtype != np.bool_ or valid.shape != shape[:1]:
            raise PromptError(f"prompt_valid must be bool ({shape[0]},)")
        if not valid.any():
            raise PromptError("prompt_valid marks no token valid; send the 'none' token for no prompts")
        return np.ascontiguousarray(tokens), np.ascontiguousarray(valid)

    # ---------------------------------------------------------------- predict

    def predict(self, obs: Observation) -> Prediction:
        timing: dict[str, float] = dict.fromkeys(TIMING_KEYS, 0.0)

        sync = self.detailed_timing

        @contextlib.contextmanager
        def timer(name: str) -> Iterator[None]:
            if sync:
                _sync(self.device)
            t0 = time.perf_counter()
            yield
            if sync:
                _sync(self.device)
            timing[name] += (time.perf_counter() - t0) * 1000.0

        start = time.perf_counter()
        with torch.inference_mode():
            with timer("decode"):
                inputs = self.make_inputs(obs)
            stage_timer = None if self.compiled and not sync else timer  # a compiled graph has no stages
            normalized = self.model.predict(inputs, stage_timer)[0].float().cpu().numpy()
        actions = self.normalizer.unnormalize(normalized)  # .cpu() above was the one synchronisation
        timing["total"] = (time.perf_counter() - start) * 1000.0
        return Prediction(actions=actions.astype(np.float32), actions_normalized=normalized, timing_ms=timing)

    def predict_batch(self, observations: Sequence[Observation]) -> list[Prediction]:
        return [self.predict(o) for o in observations]
