"""From a LeRobot dataset with Pixel annotations to model batches.

A sample is (episode, frame t): the front-camera frame at t, the robot state at t (models with a
state token), the episode's instruction, the action
chunk a[t : t + N_c] (past the end: zero arm motion, last gripper command), normalised with the
dataset's q01/q99, and, in stage 2, one visual prompt type drawn uniformly per example from the
episode's annotation (with `stray_prompt_p`, sometimes another episode's prompt that misses the
target, and the chunk that holds still). Randomness per sample comes from a generator seeded by
(seed, epoch, index), so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .. import prompts as P
from .. import rle
from ..config import PixelVLAConfig
from ..data import DatasetError, LocalDataset
from ..model import ModelInputs
from ..normalize import ActionNormalizer
from ..pixel_encoder import derive_pixel_mask
from ..tokenizer import TextTokenizer, format_instruction
from ..vision import images_to_pixels
from .annotations import check_fits, load_studio_annotations, sidecar_prompts
from .config import TrainConfig

CAMERA = "front"
# The end-effector delta actions our sim records (pixelvla_sim.robot.ACTION_NAMES; pixelvla may not
# import the sim).
SIM_ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
# The raster on which a stray prompt (TrainConfig.stray_prompt_p) is checked against the target mask.
STRAY_CHECK_SIZE = 56


@dataclass
class EpisodeData:
    frames: np.ndarray  # uint8 (T, S, S, 3) at the model's image size
    actions: np.ndarray  # f32 (T, 7) raw
    states: np.ndarray  # f32 (T, S) raw proprioceptive state, seen with frame t
    text_ids: list[int]
    prompts: list[P.Prompt] | None  # the annotation's prompts (None: unannotated or rejected)
    mask_rle: dict[str, Any] | None
    # The target's share of each patch on the initial frame (grid*grid, sums to 1), and the first frame
    # whose gripper command closes: before it the object has not moved (the grounding loss's frames).
    target_patches: np.ndarray | None = None
    first_close: int = 0
    # With a text grounder (TrainConfig.text_grounder): the object and the container the instruction
    # names, as the grounder finds them on the first frame (COCO RLE at its size), or None.
    grounded_object: dict[str, Any] | None = None
    grounded_target: dict[str, Any] | None = None


class BatchBuilder:
    def __init__(
        self,
        dataset: LocalDataset,
        model_config: PixelVLAConfig,
        tokenizer: TextTokenizer,
        normalizer: ActionNormalizer,
        cfg: TrainConfig,
        *,
        progress: bool = True,
    ) -> None:
        self.model_config = model_config
        self.cfg = cfg
        self.normalizer = normalizer
        self.pad_id = tokenizer.pad_token_id
        self.prompted = cfg.stage == "stage2"
        indices = list(cfg.episodes) if cfg.episodes is not None else list(range(dataset.num_episodes))
        size = model_config.vision.image_size
        self.episodes: list[EpisodeData] = []
        # The camera the model sees: our sim's "front", else the dataset's first camera (a user's
        # LeRobot dataset names its own, e.g. observation.images.top).
        self.camera = CAMERA if CAMERA in dataset.cameras else dataset.cameras[0]
        if dataset.action_dim != model_config.action.action_dim:
            raise DatasetError(
                f"the dataset {dataset.root} has {dataset.action_dim}-D actions; "
                f"the model predicts {model_config.action.action_dim}-D"
            )
        self.gripper_dims = list(dataset.gripper_dims())
        # Past an episode's end the chunk is padded: end-effector deltas (our sim) with zero motion,
        # absolute targets (a joint-position dataset such as SO-101's) with the last action, so the
        # robot holds still either way; grippers always keep their last command.
        self.hold_last = dataset.action_names() not in (None, list(SIM_ACTION_NAMES))
        if cfg.stray_prompt_p > 0 and self.hold_last:
            raise DatasetError(
                f"stray_prompt_p holds still with zero end-effector deltas; the dataset {dataset.root} "
                f"records {dataset.action_names()}"
            )
        studio = load_studio_annotations(cfg.annotations, self.camera)
        grounder = _load_grounder(cfg.text_grounder) if self.prompted and cfg.text_grounder else None
        self.grounded = grounder is not None
        self.studio_annotated = 0
        for i in tqdm(indices, desc="loading episodes", disable=not progress):
            ep = dataset.episode(i)
            if model_config.state_dim > 0 and ep.state.shape[1] != model_config.state_dim:
                raise DatasetError(
                    f"episode {i} has a {ep.state.shape[1]}-D state; the model takes {model_config.state_dim}"
                )
            ann = ep.annotation
            accepted = bool(ann and ann.get("accepted", True) and ann.get("mask_rle"))
            drawn = studio.get(i)
            if self.prompted and not accepted and drawn is None:
                continue  # stage 2 learns from annotated episodes only
            frames = torch.from_numpy(np.stack(list(ep.frames(self.camera))))
            small = (
                (images_to_pixels(frames, size) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
            )
            prompts: list[P.Prompt] | None = None
            mask_rle: dict[str, Any] | None = None
            task = ep.task
            if drawn is not None:  # a person's annotation wins over the auto-annotator's
                self.studio_annotated += 1
                prompts, mask_rle = drawn.prompts, drawn.mask_rle
                task = drawn.instruction or task
                check_fits(prompts, mask_rle, frames.shape[1:3], drawn.source)
            elif accepted and ann:  # validated as strictly as live input (AnnotationError)
                prompts, mask_rle = sidecar_prompts(ann, i)
                check_fits(prompts, mask_rle, frames.shape[1:3], f"the dataset's annotation of episode {i}")
            self.episodes.append(
                EpisodeData(
                    frames=small,
                    actions=ep.actions.astype(np.float32),
                    states=ep.state.astype(np.float32),
                    text_ids=tokenizer.encode(format_instruction(model_config.prompt_template, task)),
                    prompts=prompts,
                    mask_rle=mask_rle,
                    **_grounding_fields(mask_rle, ep.actions, model_config.vision.grid, self.gripper_dims),
                    **(_grounded(grounder, frames[0].numpy(), task) if grounder is not None else {}),
                )
            )
        if not self.episodes:
            raise ValueError("no usable episodes (stage 2 needs accepted Pixel annotations)")
        self.index: list[tuple[int, int]] = [
            (e, t) for e, ep in enumerate(self.episodes) for t in range(len(ep.actions))
        ]

    def __len__(self) -> int:
        return len(self.index)

    def grounding(self, sample_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """For the base stage's grounding loss: the target's patch shares (B, grid*grid) and whether
        each sample has them (an annotated episode, a frame before the first grasp)."""
        n = self.model_config.vision.grid**2
        target = np.zeros((len(sample_ids), n), np.float32)
        valid = np.zeros(len(sample_ids), np.bool_)
        for i, sid in enumerate(sample_ids):
            e, t = self.index[sid]
            ep = self.episodes[e]
            if ep.target_patches is not None and t < ep.first_close:
                target[i], valid[i] = ep.target_patches, True
        return torch.from_numpy(target), torch.from_numpy(valid)

    def action_chunk(self, actions: np.ndarray, t: int) -> np.ndarray:
        n = self.model_config.action.chunk_size
        chunk = actions[t : t + n]
        if len(chunk) < n:
            if self.hold_last:
                pad = np.repeat(actions[-1:], n - len(chunk), axis=0).astype(np.float32)
            else:
                pad = self._still(n - len(chunk), actions[-1])
            chunk = np.concatenate([chunk, pad])
        return self.normalizer.normalize(chunk)

    def _still(self, n: int, command: np.ndarray) -> np.ndarray:
        """n raw end-effector delta actions that hold still: zero motion, the grippers of `command`."""
        out = np.zeros((n, len(command)), np.float32)
        out[:, self.gripper_dims] = command[self.gripper_dims]
        return out

    def choose_prompts(
        self, ep: EpisodeData, rng: np.random.Generator, drawn: tuple[list[P.Prompt], list[Any]] | None = None
    ) -> tuple[list[P.Prompt], list[Any]]:
        chosen, masks = drawn if drawn is not None else self._drawn_prompts(ep, rng)
        if not self.grounded:
            return chosen, masks
        # What the policy does at inference with a grounder (pixelvla.policy.Policy.grounding): nothing
        # drawn, the grounded object is the prompt; the grounded container always follows as the
        # second mask prompt and pixel mask.
        if not chosen and ep.grounded_object is not None:
            chosen, masks = [P.Mask(ep.grounded_object)], [ep.grounded_object]
        if ep.grounded_target is not None and chosen:
            chosen = [*chosen, P.Mask(ep.grounded_target)]
            masks = [*masks, ep.grounded_target] if masks else []
        return chosen, masks

    def _drawn_prompts(self, ep: EpisodeData, rng: np.random.Generator) -> tuple[list[P.Prompt], list[Any]]:
        if not self.prompted or ep.prompts is None:
            return [], []
        kind = self.cfg.prompt_types[int(rng.integers(len(self.cfg.prompt_types)))]
        if kind == "none":
            return [], []
        cls = {"point": P.Point, "line": P.Line, "box": P.Box, "mask": P.Mask}[kind]
        chosen = [p for p in ep.prompts if isinstance(p, cls)]
        if kind == "point" and len(chosen) > 1:
            chosen = chosen[: int(rng.integers(1, len(chosen) + 1))]
        # A pixel mask goes with the prompt, dropped with p = pixel_mask_drop: the drawn mask is its own
        # (as in the studio); with pixel_mask_from "every", a box, line or points get the mask
        # derive_pixel_mask draws from them, the same rule evaluation and the studio use.
        drop = rng.random() < self.cfg.pixel_mask_drop
        masks: list[Any] = []
        if drop or not chosen:
            pass
        elif kind == "mask":
            masks = [ep.mask_rle] if ep.mask_rle is not None else []
        elif self.cfg.pixel_mask_from == "every":
            derived = derive_pixel_mask(chosen)
            masks = [derived] if derived is not None else []
        return chosen, masks

    def stray_prompts(self, e: int, rng: np.random.Generator) -> tuple[list[P.Prompt], list[Any]] | None:
        """Another episode's drawn prompt (its kind drawn as usual) that misses episode `e`'s target
        mask, with its pixel masks; None when the draw gives no prompt or one on the target."""
        ep = self.episodes[e]
        if len(self.episodes) < 2 or ep.mask_rle is None:
            return None
        other = self.episodes[(e + 1 + int(rng.integers(len(self.episodes) - 1))) % len(self.episodes)]
        chosen, masks = self._drawn_prompts(other, rng)
        drawn = derive_pixel_mask(chosen, STRAY_CHECK_SIZE)
        if drawn is None or (drawn & (rle.coverage(ep.mask_rle, STRAY_CHECK_SIZE) > 0)).any():
            return None
        return chosen, masks

    def hold_chunk(self, actions: np.ndarray, t: int) -> np.ndarray:
        """The chunk that holds still: zero end-effector motion, the gripper as commanded at t."""
        return self.normalizer.normalize(self._still(self.model_config.action.chunk_size, actions[t]))

    def batch(self, sample_ids: list[int], epoch: int) -> ModelInputs:
        mc = self.model_config
        images, ids, actions, states, feats, pmasks, pvalid = [], [], [], [], [], [], []
        for sid in sample_ids:
            e, t = self.index[sid]
            ep = self.episodes[e]
            rng = np.random.default_rng([self.cfg.seed, epoch, sid])
            images.append(ep.frames[t])
            ids.append(ep.text_ids)
            actions.append(self.action_chunk(ep.actions, t))
            states.append(ep.states[t])
            chosen, masks = self.choose_prompts(ep, rng)
            if self.cfg.stray_prompt_p > 0 and t < ep.first_close and rng.random() < self.cfg.stray_prompt_p:
                stray = self.stray_prompts(e, rng)
                if stray is not None:
                    chosen, masks = self.choose_prompts(ep, rng, stray)
                    actions[-1] = self.hold_chunk(ep.actions, t)
            feats.append(P.featurize(chosen))
            grid, valid = P.pixel_mask_grid(masks, grid=mc.vision.grid, max_masks=mc.pixel.max_masks)
            pmasks.append(grid)
            pvalid.append(valid)
        longest = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), longest), self.pad_id, dtype=torch.long)
        text_mask = torch.zeros((len(ids), longest), dtype=torch.bool)
        for i, x in enumerate(ids):
            input_ids[i, : len(x)] = torch.tensor(x)
            text_mask[i, : len(x)] = True
        pixels = images_to_pixels(torch.from_numpy(np.stack(images)), mc.vision.image_size)
        return ModelInputs(
            pixel_values=pixels,
            input_ids=input_ids,
            text_mask=text_mask,
            pixel_mask=torch.from_numpy(np.stack(pmasks)),
            pixel_mask_valid=torch.from_numpy(np.stack(pvalid)),
            prompt_features={k: torch.from_numpy(np.stack([f[k] for f in feats])) for k in feats[0]},
            actions=torch.from_numpy(np.stack(actions)),
            state=torch.from_numpy(np.stack(states)) if mc.state_dim > 0 else None,
        )


def _grounding_fields(
    mask_rle: dict[str, Any] | None, actions: np.ndarray, grid: int, gripper_dims: list[int]
) -> dict[str, Any]:
    if mask_rle is None or not gripper_dims:
        return {}
    cov = rle.coverage(mask_rle, grid).reshape(-1).astype(np.float32)
    if cov.sum() <= 0:
        return {}
    closing = np.nonzero(actions[:, gripper_dims[0]] >= 0.5)[0]
    return {
        "target_patches": cov / cov.sum(),
        "first_close": int(closing[0]) if len(closing) else len(actions),
    }


def _load_grounder(folder: str) -> Any:
    from ..text_grounder import load

    grounder = load(Path(folder))
    if grounder is None:
        raise DatasetError(
            f"text_grounder {folder} has no text grounder (pixelvla.train.text_grounder writes one)"
        )
    return grounder


def _grounded(grounder: Any, first_frame: np.ndarray, task: str) -> dict[str, Any]:
    from ..text_grounder import ground

    g = ground(grounder, first_frame, task)
    return {
        "grounded_object": rle.encode(g.object) if g.object is not None else None,  # as the policy acts
        "grounded_target": rle.encode(g.target_mask) if g.target_mask is not None else None,
    }
