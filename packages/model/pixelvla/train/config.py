"""The typed configuration of a training run. Saved as config.json in the run folder; that file alone
replays the run (`pixelvla train --config RUN/config.json`)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import PixelVLAError

Stage = Literal["base", "stage1", "stage2"]
STAGES: tuple[Stage, ...] = ("base", "stage1", "stage2")
PROMPT_TYPES = ("point", "line", "box", "mask", "none")


class TrainConfigError(PixelVLAError):
    default_code = "invalid_train_config"


@dataclass
class TrainConfig:
    stage: Stage
    dataset: str  # LeRobot dataset root (the server resolves dataset ids to folders)
    out_dir: str  # the run folder
    model: str = "tiny"  # named model config, used when `init` is None (base stage)
    init: str | None = None  # bundle folder or run folder to start from (stage1 <- base, stage2 <- stage1)
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-4  # new modules and heads (PIXELVLA.md)
    lora_lr: float = 5e-4  # LoRA adapters in stage 2
    weight_decay: float = 0.0
    warmup_steps: int = 100  # paper: 1k at full scale; tiny runs are short
    min_lr_factor: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    device: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    prompt_types: tuple[str, ...] = PROMPT_TYPES  # stage 2 draws one uniformly per example
    pixel_mask_drop: float = 0.1  # stage 2: drop the pixel mask with this probability
    episodes: tuple[int, ...] | None = None  # subset of episode indices (None: all)
    halt_after_steps: int | None = None  # stop early as if killed (tests of resume)
    tensorboard: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        if self.stage not in STAGES:
            raise TrainConfigError(f"unknown stage {self.stage!r}; expected one of {', '.join(STAGES)}")
        for name in ("steps", "batch_size", "log_every", "checkpoint_every", "keep_checkpoints"):
            if int(getattr(self, name)) <= 0:
                raise TrainConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not (0.0 <= self.pixel_mask_drop <= 1.0):
            raise TrainConfigError(f"pixel_mask_drop must be in [0, 1], got {self.pixel_mask_drop}")
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
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise TrainConfigError(f"unknown training config keys: {', '.join(unknown)}")
        data = dict(data)
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
