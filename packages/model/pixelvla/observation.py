"""The observation contract: one spec per served model, derived from its config, checked in one place.

An observation (image, instruction, visual prompts as browser tokens or prompt JSON, pixel masks as
COCO RLE, robot state) crosses several doors before the model sees it: the GPU server's HTTP request
model, its msgpack codec, `Policy.make_inputs` for every Python caller, and the studio, which builds
it. Each door used to carry its own copy of the limits (2048 px, 1000 characters, (16, 256) tokens,
4 masks, 64 state values), and the copies drift. Here they have one home:

- the module constants are the server-wide ceilings, the same for every model (the HTTP model's
  field bounds are these, so its OpenAPI document states them);
- `ObservationSpec.of(config)` is what one model takes (its image size, token shape, pixel masks,
  state width), never above the ceilings;
- `spec.check(obs)` is the one validation; the codec and `Policy.make_inputs` both call it (an
  observation checked by a policy's own spec is not checked twice);
- `spec.to_json()` is published by the server (`/v1/meta`, the policy stream's metadata), and the TS
  twin `@pixelvla/model`'s `observation.ts` holds the same ceilings, pinned by
  `testdata/observation_spec.json` in both test suites.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from pixelvla import prompts as P
from pixelvla import rle
from pixelvla.errors import PixelVLAError, PromptError

if TYPE_CHECKING:
    from pixelvla.config import PixelVLAConfig

# Server-wide ceilings (every model's spec is within them).
MAX_IMAGE_SIDE: Final = 2048  # a larger frame is refused before it is decoded
MAX_INSTRUCTION_CHARS: Final = 1000
MAX_PROMPTS: Final = P.MAX_TOKENS  # each prompt takes at least one token
MAX_PIXEL_MASKS: Final = 4
MAX_STATE_VALUES: Final = 64
PROMPT_TOKENS_SHAPE: Final = (P.MAX_TOKENS, 256)  # the browser encoder's output (N_s, dim)


class ObservationError(PixelVLAError):
    default_code = "invalid_observation"


@dataclass(frozen=True)
class ObservationSpec:
    """What one model takes. The defaults are the ceilings (what the server accepts with no model)."""

    image_size: int = 224  # the model's input side; any frame within max_image_side is resized to it
    cameras: int = 1  # images per observation
    max_image_side: int = MAX_IMAGE_SIDE
    max_instruction_chars: int = MAX_INSTRUCTION_CHARS
    prompt_tokens: tuple[int, int] = PROMPT_TOKENS_SHAPE  # float32 (N_s, dim) + bool (N_s,) valid
    max_prompts: int = MAX_PROMPTS  # prompt JSON objects (encoded server-side)
    max_prompt_masks: int = P.MAX_MASKS  # mask prompts among them (the prompt encoder's mask slots)
    max_pixel_masks: int = MAX_PIXEL_MASKS  # COCO RLE masks for the pixel-aware encoder
    max_mask_side: int = rle.MAX_SIDE  # an RLE's declared size per side
    state_dim: int = 0  # the state width the model takes; 0: none (a state is checked, then unused)
    max_state_values: int = MAX_STATE_VALUES

    @classmethod
    def of(cls, config: PixelVLAConfig) -> ObservationSpec:
        return cls(
            image_size=config.vision.image_size,
            prompt_tokens=(config.prompt.max_tokens, config.prompt.dim),
            max_pixel_masks=min(config.pixel.max_masks, MAX_PIXEL_MASKS),
            state_dim=config.state_dim,
        )

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["prompt_tokens"] = list(self.prompt_tokens)
        return out

    # ------------------------------------------------------------------ checks

    def check(self, obs: Observation) -> Observation:
        """The observation with every field checked and in the model's dtypes (a new object, marked
        as checked by this spec); PixelVLAError subclasses (invalid_observation, invalid_prompt,
        invalid_rle) otherwise."""
        if obs.checked_by is self:
            return obs
        tokens, valid = self.check_tokens(obs.prompt_tokens, obs.prompt_valid)
        if obs.prompts is not None:
            self.check_prompt_count(len(obs.prompts))  # their tokens and masks: prompts.featurize
        return dataclasses.replace(
            obs,
            image=self.check_image(obs.image),
            instruction=self.check_instruction(obs.instruction),
            prompt_tokens=tokens,
            prompt_valid=valid,
            pixel_masks=self.check_pixel_masks(obs.pixel_masks),
            state=self.check_state(obs.state),
            checked_by=self,
        )

    def check_image_side(self, height: int, width: int) -> None:
        if not (1 <= height <= self.max_image_side and 1 <= width <= self.max_image_side):
            raise ObservationError(
                f"image is {width}x{height}; the limit is {self.max_image_side} per side (max_image_side)"
            )

    def check_image(self, image: object) -> np.ndarray:
        if not isinstance(image, np.ndarray):
            raise ObservationError(f"image must be a numpy array, got {type(image).__name__}")
        if image.dtype != np.uint8:
            raise ObservationError(f"image must be uint8, got {image.dtype}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ObservationError(f"image must have shape (H, W, 3), got {list(image.shape)}")
        self.check_image_side(image.shape[0], image.shape[1])
        return image

    def check_instruction(self, instruction: object) -> str:
        if not isinstance(instruction, str) or len(instruction) > self.max_instruction_chars:
            raise ObservationError(
                f"instruction must be a string of at most {self.max_instruction_chars} characters"
            )
        return instruction

    def check_prompt_count(self, n: int) -> None:
        if n > self.max_prompts:
            raise PromptError(f"{n} prompts given; at most {self.max_prompts} prompt objects")

    def check_tokens(
        self, tokens: np.ndarray | None, valid: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if tokens is None and valid is None:
            return None, None
        if tokens is None or valid is None:
            raise PromptError("prompt_tokens and prompt_valid come together")
        shape = self.prompt_tokens
        if not isinstance(tokens, np.ndarray) or tokens.dtype != np.float32 or tokens.shape != shape:
            got = (
                f"{tokens.dtype} {list(tokens.shape)}"
                if isinstance(tokens, np.ndarray)
                else type(tokens).__name__
            )
            raise PromptError(f"prompt_tokens must be float32 {list(shape)}, got {got}")
        if not np.isfinite(tokens).all():
            raise PromptError("prompt_tokens contain NaN or infinity")
        if not isinstance(valid, np.ndarray) or valid.dtype != np.bool_ or valid.shape != shape[:1]:
            raise PromptError(f"prompt_valid must be bool ({shape[0]},)")
        if not valid.any():
            raise PromptError("prompt_valid marks no token valid; send the 'none' token for no prompts")
        return np.ascontiguousarray(tokens), np.ascontiguousarray(valid)

    def check_pixel_masks(self, masks: Sequence[Any] | None) -> list[Any] | None:
        if masks is None:
            return None
        if isinstance(masks, str | bytes | Mapping) or not isinstance(masks, Sequence):
            raise PromptError("pixel masks must be a list of COCO RLE objects")
        if len(masks) > self.max_pixel_masks:
            raise PromptError(f"{len(masks)} pixel masks given; at most {self.max_pixel_masks} (max_masks)")
        for m in masks:
            if isinstance(m, Mapping):
                rle.validate(m)  # RleError (invalid_rle); sides within rle.MAX_SIDE
            elif not isinstance(m, np.ndarray):  # a boolean raster (Python callers)
                raise PromptError("each pixel mask must be a COCO RLE object {size, counts}")
        return list(masks)

    def check_state(self, state: object) -> np.ndarray | None:
        if state is None:
            return None
        if isinstance(state, list | tuple):
            try:
                state = np.asarray(state, dtype=np.float64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ObservationError(f"state must be numbers: {exc}") from exc
        if not isinstance(state, np.ndarray) or state.dtype.kind not in "fiu":
            raise ObservationError(f"state must be a float array, got {type(state).__name__}")
        if state.ndim != 1 or state.shape[0] > self.max_state_values:
            raise ObservationError(
                f"state must be 1-D with at most {self.max_state_values} values, got {list(state.shape)}"
            )
        if not np.isfinite(state.astype(np.float64)).all():
            raise ObservationError("state contains NaN or infinity")
        if self.state_dim > 0 and state.shape[0] != self.state_dim:
            raise ObservationError(f"state has {state.shape[0]} values; this model takes {self.state_dim}")
        return state.astype(np.float32)


@dataclass
class Observation:
    image: np.ndarray  # uint8 (H, W, 3), any size within max_image_side
    instruction: str
    prompt_tokens: np.ndarray | None = None  # f32 (16, 256) from the browser's prompt encoder
    prompt_valid: np.ndarray | None = None  # bool (16,)
    prompts: list[P.Prompt] | None = None  # encoded by the policy when prompt_tokens is None
    pixel_masks: list[Mapping[str, Any]] | None = None  # COCO RLE, at most max_pixel_masks
    state: np.ndarray | None = None  # f32 (S,); S == state_dim when the model takes a state
    # The spec that checked it (ObservationSpec.check), so the policy does not check it again.
    checked_by: ObservationSpec | None = dataclasses.field(default=None, compare=False, repr=False)


def pinned() -> dict[str, Any]:
    """What testdata/observation_spec.json pins for both languages: the ceilings (the TS package's
    constants) and the spec of the `tiny` config (what the demo and random-tiny models publish)."""
    from pixelvla.config import tiny_config

    return {"ceilings": ObservationSpec().to_json(), "tiny": ObservationSpec.of(tiny_config()).to_json()}


# python -m pixelvla.observation > packages/model/testdata/observation_spec.json, then prettier --write it
if __name__ == "__main__":
    import json

    print(json.dumps(pinned(), indent=2, sort_keys=True))
