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
import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelvla import fast_tiny, text_grounder
from pixelvla import prompts as P
from pixelvla.checkpoint import LoadedBundle, load_bundle
from pixelvla.model import ModelInputs
from pixelvla.observation import Observation, ObservationError, ObservationSpec
from pixelvla.prompt_encoder import encoder_hash
from pixelvla.tokenizer import build_tokenizer, format_instruction
from pixelvla.vision import images_to_pixels

__all__ = ["TIMING_KEYS", "Observation", "ObservationError", "ObservationSpec", "Policy", "Prediction"]

TIMING_KEYS = ("decode", "vision", "pixel_encoder", "prompt_encoder", "llm", "decoder", "total")


@dataclass
class Prediction:
    actions: np.ndarray  # f32 (N_c, 7), un-normalised
    actions_normalized: np.ndarray  # f32 (N_c, 7) in [-1, 1]
    timing_ms: dict[str, float] = field(default_factory=dict)
    # What the bundle's text grounder found for the instruction (Policy.grounding), or None.
    grounding: dict[str, Any] | None = None


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
        backend: str = "torch",
    ) -> None:
        """compile: torch.compile the model's forward and warm it up here (the first request does
        not pay for compilation); compiled predictions report only decode and total times.
        backend "onnx": the chunk through ONNX Runtime (pixelvla.fast_tiny: CPU, continuous head,
        exported here); its predictions, too, report only decode and total."""
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
        # What this model takes (pixelvla.observation): checked here, by the server's codec, published.
        self.spec = ObservationSpec.of(self.config)
        self._fast = fast_tiny.backend(self.model, backend)
        # The bundle's text grounder (pixelvla.text_grounder), when its manifest lists one.
        self.grounder = (
            text_grounder.load(bundle.root)
            if text_grounder.WEIGHTS_FILE in bundle.manifest["files"]
            else None
        )
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
        backend: str = "torch",
    ) -> Policy:
        dev = torch.device(device)
        if dtype is None:
            dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
        bundle = load_bundle(Path(bundle_dir), dev, dtype)
        return cls(bundle, dev, detailed_timing=detailed_timing, compile=compile, backend=backend)

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
            "observation": self.spec.to_json(),
            "grounds_text": self.grounder is not None,
            "grounds_targets": self.grounder is not None and self.grounder.cfg.targets_as_prompt,
        }

    # ---------------------------------------------------------------- inputs

    def preprocess_image(self, image: np.ndarray) -> torch.Tensor:
        """uint8 (H, W, 3) -> float (1, 3, S, S) in [0, 1], resized without cropping."""
        image = self.spec.check_image(image)
        if not (image.flags.writeable and image.flags.c_contiguous):
            image = np.array(image, order="C")  # frames decoded from the wire are read-only views
        pixels = torch.from_numpy(image).to(self.device)[None]
        return images_to_pixels(pixels, self.config.vision.image_size)

    def text_ids(self, instruction: str) -> list[int]:
        if not isinstance(instruction, str) or not instruction.strip():
            raise ObservationError("instruction must be a non-empty string")
        return self.tokenizer.encode(format_instruction(self.config.prompt_template, instruction))

    def make_inputs(self, obs: Observation) -> ModelInputs:
        """The model's inputs; `self.spec.check` is the one validation (skipped when the server's
        codec already ran it with this spec)."""
        cfg = self.config
        obs = self.spec.check(obs)
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
        if obs.prompt_tokens is not None and obs.prompt_valid is not None:
            inputs.prompt_tokens = torch.from_numpy(obs.prompt_tokens)[None].to(self.device)
            inputs.prompt_valid = torch.from_numpy(obs.prompt_valid)[None].to(self.device)
        elif obs.prompts is not None:
            feats = P.featurize(obs.prompts)
            inputs.prompt_features = {k: torch.from_numpy(v)[None].to(self.device) for k, v in feats.items()}
        if obs.state is not None and cfg.state_dim > 0:
            inputs.state = torch.from_numpy(obs.state)[None].to(self.device)
        # A model with a state token and no state given predicts without it (the token is left out).
        return inputs

    # ---------------------------------------------------------------- text grounding

    def grounding(self, obs: Observation) -> tuple[Observation, dict[str, Any] | None]:
        """What the text grounder makes of an observation (pixelvla.text_grounder): with nothing
        drawn, the object the instruction names becomes a mask prompt and the pixel mask (when
        found); with a drawn prompt the prompt wins, and `agrees` says whether it overlaps what the
        instruction names (None: the instruction names nothing the grounder finds). A policy trained
        with the grounded container (GrounderConfig.targets_as_prompt) gets it as a second mask
        prompt and pixel mask, after the object's, as in its training (pixelvla.train.batches)."""
        if self.grounder is None:
            return obs, None
        obs = self.spec.check(obs)  # the grounder reads the frame and text: checked first, as the model's
        from pixelvla import rle
        from pixelvla.pixel_encoder import derive_pixel_mask

        cfg = self.config
        g = text_grounder.ground(self.grounder, obs.image, obs.instruction)
        info: dict[str, Any] = {
            "object_found": g.object_mask is not None,
            "object_score": round(g.object_score, 4),
            "object_box": _box(g.object),
            "matches": len(g.object_parts),
            "target_found": g.target_mask is not None,
            "target_box": _box(g.target_mask),
            "used": False,
            "agrees": None,
        }
        prompts, masks = list(obs.prompts or []), list(obs.pixel_masks or [])
        drawn = bool(prompts) or bool(masks) or obs.prompt_tokens is not None
        changed = False
        if g.object is not None and not drawn:
            # Several objects fit the words ("the cube" among three): the likeliest one, not all.
            mask = rle.encode(g.object)
            prompts, masks, changed = [P.Mask(mask)], [mask], True
            info["used"] = True
        elif g.object_mask is not None and (prompts or masks):
            size = g.object_mask.shape[0]
            region = derive_pixel_mask(prompts, size) if prompts else None
            if region is None and masks:  # browser tokens with their pixel masks: the drawing
                cover, _ = P.pixel_mask_grid(masks, grid=size, max_masks=len(masks))
                region = np.asarray((cover >= 0.5).any(axis=0))
            if region is not None:
                info["agrees"] = bool((region & g.object_mask).any())
        target = g.target_mask if self.grounder.cfg.targets_as_prompt else None
        if target is not None and (prompts or masks) and obs.prompt_tokens is None:
            if prompts and not masks:
                derived = derive_pixel_mask(prompts)  # the object's pixel mask, by the training rule
                masks = [rle.encode(derived)] if derived is not None else []
            t = rle.encode(target)
            prompts = [*prompts, P.Mask(t)] if prompts else prompts
            masks = [*masks, t][: cfg.pixel.max_masks] if masks else masks
            changed = True
        if not changed:
            return obs, info
        return (
            dataclasses.replace(
                obs,
                prompts=(prompts or None) if cfg.use_prompt_encoder else obs.prompts,
                pixel_masks=(masks or None) if cfg.use_pixel_encoder else obs.pixel_masks,
                checked_by=None,
            ),
            info,
        )

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
                obs, grounding = self.grounding(obs)
                inputs = self.make_inputs(obs)
            stage_timer = None if self.compiled and not sync else timer  # a compiled graph has no stages
            if self._fast is not None:
                normalized = self._fast.predict(inputs)[0].numpy()
            else:
                normalized = self.model.predict(inputs, stage_timer)[0].float().cpu().numpy()
        actions = self.normalizer.unnormalize(normalized)  # .cpu() above was the one synchronisation
        timing["total"] = (time.perf_counter() - start) * 1000.0
        return Prediction(
            actions=actions.astype(np.float32),
            actions_normalized=normalized,
            timing_ms=timing,
            grounding=grounding,
        )

    def predict_batch(self, observations: Sequence[Observation]) -> list[Prediction]:
        return [self.predict(o) for o in observations]


def _box(mask: np.ndarray | None) -> list[float] | None:
    """A mask's bounding box in normalised image coordinates [x0, y0, x1, y1] (pixel corners)."""
    if mask is None:
        return None
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return [
        round(float(xs.min()) / w, 4),
        round(float(ys.min()) / h, 4),
        round(float(xs.max() + 1) / w, 4),
        round(float(ys.max() + 1) / h, 4),
    ]
