"""The typed configuration of a training run. Saved as config.json in the run folder; that file alone
replays the run (`pixelvla train --config RUN/config.json`)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import PixelVLAError

Stage = Literal["base", "stage1", "stage2"]
STAGES: tuple[Stage, ...] = ("base", "stage1", "stage2")
PROMPT_TYPES = ("point", "line", "box", "mask", "none")
ParallelSetting = Literal["auto", "ddp", "fsdp"]
PARALLEL: tuple[ParallelSetting, ...] = ("auto", "ddp", "fsdp")
PixelMaskFrom = Literal["every", "mask"]
PIXEL_MASK_FROM: tuple[PixelMaskFrom, ...] = ("every", "mask")
# The keys the former untyped `extra` field could hold, now fields of their own: a run folder written
# before the change still loads (and resumes) when its `extra` holds only these.
_FORMER_EXTRA = ("train_vision",)


class TrainConfigError(PixelVLAError):
    default_code = "invalid_train_config"


@dataclass
class TrainConfig:
    stage: Stage
    dataset: str  # LeRobot dataset root (the server resolves dataset ids to folders)
    out_dir: str  # the run folder
    # Model config name or PixelVLAConfig .json: a fresh run's (None: tiny), or the base architecture
    # of an OpenVLA init (None: full; its towers must match the checkpoint's).
    model: str | None = None
    # Bundle folder, run folder, or OpenVLA folder (HF layout, imported on the fly) to start from
    # (stage1 <- base or OpenVLA, stage2 <- stage1).
    init: str | None = None
    steps: int = 2000
    batch_size: int = 32  # examples per micro-batch and process
    # Micro-batches whose gradients add up to one optimizer step: the global batch is
    # batch_size x grad_accum_steps x processes (each micro-batch's loss is divided by the count).
    grad_accum_steps: int = 1
    lr: float = 1e-4  # new modules and heads (docs/MODEL.md)
    lora_lr: float = 5e-4  # LoRA adapters in stage 2
    weight_decay: float = 0.0
    warmup_steps: int = 100  # paper: 1k at full scale; tiny runs are short
    min_lr_factor: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    device: str = "auto"
    # Under torchrun: auto = FSDP for the `full` configuration, DDP for the others (train/parallel.py).
    parallel: ParallelSetting = "auto"
    log_every: int = 10
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    prompt_types: tuple[str, ...] = PROMPT_TYPES  # stage 2 draws one uniformly per example
    pixel_mask_drop: float = 0.1  # stage 2: drop the pixel mask with this probability
    # Stage 2: which prompts come with a pixel mask. "every": all of them (the design; a box, line or
    # point gets the mask pixelvla.pixel_encoder.derive_pixel_mask draws from it, a mask prompt is its
    # own); "mask": only mask prompts (the recipe before issue #15).
    pixel_mask_from: PixelMaskFrom = "every"
    # Stage 2: with this probability an example before the episode's first grasp gets the drawn prompt
    # of another episode instead of its own (one that misses this episode's target: on this frame it
    # marks bare table, a container or another object) and, as its target, a chunk that holds still
    # with the gripper as it is. A prompt on nothing moves nothing, so the policy has to check in the
    # frame that something is where the prompt points (issue #15's wrong-scene control). End-effector
    # delta actions only (our sim's); 0: off.
    stray_prompt_p: float = 0.0
    # Whether the vision towers train. None: the rule -- a fresh base run without `vision_init` trains
    # them (tiny has no pretrained towers), every other run keeps them frozen, as the paper does.
    train_vision: bool | None = None
    # A fresh base run's towers from a vision pretraining run (pixelvla.train.vision_pretrain: its
    # folder or its vision.safetensors).
    vision_init: str | None = None
    # Base stage: weight of the text-to-patch grounding loss (pixelvla.train.grounding; 0: off).
    grounding_weight: float = 0.0
    # Stage 2: a text grounder (pixelvla.text_grounder: a pixelvla.train.text_grounder run or a bundle
    # that has one). Each episode's container, as the grounder finds it on the first frame, joins every
    # example as a second mask prompt (the "where to put it" of a place); examples without a drawn
    # prompt get the object as the grounder finds it, as the policy does at inference. The bundle
    # carries the grounder.
    text_grounder: str | None = None
    episodes: tuple[int, ...] | None = None  # subset of episode indices (None: all)
    # Studio annotations of the dataset (<data-dir>/annotations/<dataset>, set by the GPU server):
    # an episode's latest version replaces its auto-generated prompts (pixelvla.train.annotations).
    annotations: str | None = None
    halt_after_steps: int | None = None  # stop early as if killed (tests of resume)
    tensorboard: bool = True

    def validate(self) -> TrainConfig:
        check_field_types(self, TrainConfigError)
        if self.stage not in STAGES:
            raise TrainConfigError(f"unknown stage {self.stage!r}; expected one of {', '.join(STAGES)}")
        for name in (
            "steps",
            "batch_size",
            "grad_accum_steps",
            "log_every",
            "checkpoint_every",
            "keep_checkpoints",
        ):
            if int(getattr(self, name)) <= 0:
                raise TrainConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not (0.0 <= self.pixel_mask_drop <= 1.0):
            raise TrainConfigError(f"pixel_mask_drop must be in [0, 1], got {self.pixel_mask_drop}")
        if not (0.0 <= self.stray_prompt_p <= 1.0) or (self.stray_prompt_p > 0 and self.stage != "stage2"):
            raise TrainConfigError(
                f"stray_prompt_p must be in [0, 1] and is for stage 2, got {self.stray_prompt_p} in {self.stage}"
            )
        bad = [t for t in self.prompt_types if t not in PROMPT_TYPES]
        if bad or not self.prompt_types:
            raise TrainConfigError(
                f"prompt_types must be a non-empty subset of {PROMPT_TYPES}, got {self.prompt_types}"
            )
        if self.stage != "base" and self.init is None:
            raise TrainConfigError(
                f"{self.stage} starts from a trained model: pass --init (a bundle or run folder)"
            )
        if self.precision not in ("auto", "fp32", "bf16"):
            raise TrainConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.pixel_mask_from not in PIXEL_MASK_FROM:
            raise TrainConfigError(
                f"pixel_mask_from must be one of {', '.join(PIXEL_MASK_FROM)}, got {self.pixel_mask_from!r}"
            )
        if self.grounding_weight < 0 or (self.grounding_weight > 0 and self.stage != "base"):
            raise TrainConfigError(
                f"grounding_weight must be >= 0 and is for the base stage, got {self.grounding_weight} "
                f"in {self.stage}"
            )
        if self.vision_init is not None and (self.stage != "base" or self.init is not None):
            raise TrainConfigError("vision_init starts the towers of a fresh base run; this run has --init")
        if self.text_grounder is not None and self.stage != "stage2":
            raise TrainConfigError(f"text_grounder is for stage 2, got it in {self.stage}")
        if self.parallel not in PARALLEL:
            raise TrainConfigError(f"parallel must be one of {', '.join(PARALLEL)}, got {self.parallel!r}")
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"extra"})
        if unknown:
            raise TrainConfigError(f"unknown training config keys: {', '.join(unknown)}")
        data = dict(data)
        legacy = data.pop("extra", None)
        if legacy:
            if not isinstance(legacy, dict) or set(legacy) - set(_FORMER_EXTRA):
                raise TrainConfigError(
                    f"extra is no longer a field; its keys {list(_FORMER_EXTRA)} are fields of their own"
                )
            data = {**legacy, **data}
        for key in ("prompt_types", "episodes"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        try:
            return cls(**data).validate()
        except TypeError as exc:
            raise TrainConfigError(f"invalid training config: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainConfigError(f"cannot read training config {path}: {exc}") from exc

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        return TrainConfig.from_dict({**dataclasses.asdict(self), **overrides})


# The fields a person tunes when launching a run (the studio's form is generated from this; the
# rest -- stage, dataset, init, out_dir -- come from the launch request itself). Types, defaults
# and choices are read from TrainConfig, so the schema cannot drift from the dataclass.
TUNABLE: dict[str, dict[str, Any]] = {
    "steps": {"description": "optimizer steps", "minimum": 1},
    "batch_size": {"description": "examples per micro-batch (per process under torchrun)", "minimum": 1},
    "grad_accum_steps": {
        "description": "micro-batches per optimizer step (global batch = batch size x this x processes)",
        "minimum": 1,
    },
    "lr": {"description": "learning rate of the new modules and heads", "minimum": 0},
    "lora_lr": {"description": "learning rate of the LoRA adapters (stage 2)", "minimum": 0},
    "weight_decay": {"description": "AdamW weight decay", "minimum": 0},
    "warmup_steps": {"description": "linear warm-up before the cosine decay", "minimum": 0},
    "min_lr_factor": {
        "description": "final learning rate as a fraction of the peak",
        "minimum": 0,
        "maximum": 1,
    },
    "grad_clip": {"description": "gradient norm clip (0: off)", "minimum": 0},
    "seed": {"description": "model init, data order and prompt sampling", "minimum": 0},
    "precision": {"description": "auto: bf16 autocast on CUDA, fp32 on CPU"},
    "log_every": {"description": "steps between metrics lines", "minimum": 1},
    "checkpoint_every": {"description": "steps between resumable checkpoints", "minimum": 1},
    "keep_checkpoints": {"description": "checkpoints kept on disk", "minimum": 1},
    "pixel_mask_drop": {
        "description": "stage 2: probability of dropping the pixel mask",
        "minimum": 0,
        "maximum": 1,
    },
    "tensorboard": {"description": "also write TensorBoard event files"},
    "pixel_mask_from": {"description": "stage 2: prompts with a pixel mask (every prompt, or mask prompts)"},
}

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def check_field_types(obj: Any, error: type[PixelVLAError]) -> None:
    """Raise `error` when a scalar field of the dataclass `obj` (int, float, str, bool, or an
    Optional of one) holds a value of another JSON type; an int passes for a float, a bool never
    for a number. Config values arrive as JSON from the CLI and the GPU server."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, hint = getattr(obj, f.name), hints[f.name]
        expected = hint if hint in _JSON_TYPES else None
        if expected is None and typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if value is None:
                continue
            expected = args[0] if len(args) == 1 and args[0] in _JSON_TYPES else None
        if expected is None:
            continue
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise error(f"{f.name} must be {_JSON_TYPES[expected]}, got {type(value).__name__} {value!r}")


def config_schema() -> dict[str, Any]:
    """JSON Schema (a flat-object subset) of the tunable TrainConfig fields, defaults included."""
    return flat_schema(TrainConfig, TUNABLE)


def flat_schema(cls: type, tunable: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A flat-object JSON Schema of some scalar fields of a dataclass: type, default and choices come
    from the dataclass, descriptions and limits from `tunable`."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    props: dict[str, Any] = {}
    for name, extra in tunable.items():
        hint, f = hints[name], fields[name]
        prop: dict[str, Any] = {"title": name.replace("_", " ")}
        if typing.get_origin(hint) is Literal:
            choices = typing.get_args(hint)
            prop["type"] = _JSON_TYPES[type(choices[0])]
            prop["enum"] = list(choices)
        else:
            prop["type"] = _JSON_TYPES[hint]
        prop["default"] = f.default
        props[name] = {**prop, **extra}
    return {"title": cls.__name__, "type": "object", "properties": props, "additionalProperties": False}
