"""Action normalisation (ours, after OpenVLA): the 6 arm dimensions map [q01, q99] -> [-1, 1]
(clipped), the gripper is binarised to -1 / +1 around the middle of its range. The statistics
travel with every bundle (normalization.json) and un-normalise the model's output at inference.

An imported OpenVLA keeps OpenVLA's own rule instead (`gripper="passthrough"`, from its
norm_stats' `mask`): the dimensions whose mask is false are neither scaled nor binarised, in
either direction (OpenVLA's BOUNDS_Q99 normalisation and predict_action's un-normalisation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pixelvla.errors import PixelVLAError


class NormalizationError(PixelVLAError):
    default_code = "invalid_normalization"


@dataclass(frozen=True)
class ActionNormalizer:
    q01: tuple[float, ...]
    q99: tuple[float, ...]
    # Which dimensions are binary grippers (binarised instead of scaled).
    gripper_dims: tuple[int, ...] = (6,)
    key: str = "default"  # the dataset the statistics came from (policy.metadata.normalization_key)
    # What happens to the gripper dims: "binarize" (ours) or "passthrough" (OpenVLA: left as they are).
    gripper: Literal["binarize", "passthrough"] = "binarize"

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.q01, np.float64), np.asarray(self.q99, np.float64)
        if lo.shape != hi.shape or lo.ndim != 1 or lo.size == 0:
            raise NormalizationError(f"q01/q99 must be equal-length vectors, got {lo.shape} and {hi.shape}")
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (hi < lo).any():
            raise NormalizationError("q01/q99 must be finite with q01 <= q99")
        if any(not 0 <= d < lo.size for d in self.gripper_dims):
            raise NormalizationError(f"gripper dims {self.gripper_dims} out of range for {lo.size} dims")
        if self.gripper not in ("binarize", "passthrough"):
            raise NormalizationError(f"gripper must be 'binarize' or 'passthrough', got {self.gripper!r}")

    @property
    def dim(self) -> int:
        return len(self.q01)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = np.asarray(self.q01, np.float32), np.asarray(self.q99, np.float32)
        grip = np.zeros(self.dim, bool)
        grip[list(self.gripper_dims)] = True
        return lo, hi, grip

    def normalize(self, actions: np.ndarray) -> np.ndarray:
        """Raw actions (..., dim) -> [-1, 1] (float32)."""
        a = self._check(actions)
        lo, hi, grip = self._arrays()
        span = np.maximum(hi - lo, 1e-8)
        scaled = np.clip(2.0 * (a - lo) / span - 1.0, -1.0, 1.0)
        binary = a if self.gripper == "passthrough" else np.where(a > (lo + hi) / 2.0, 1.0, -1.0)
        return np.where(grip, binary, scaled).astype(np.float32)

    def unnormalize(self, actions: np.ndarray) -> np.ndarray:
        """[-1, 1] (..., dim) -> raw actions; the gripper snaps to its q01 or q99 value."""
        x = self._check(actions)
        lo, hi, grip = self._arrays()
        raw = (np.clip(x, -1.0, 1.0) + 1.0) / 2.0 * (hi - lo) + lo
        binary = x if self.gripper == "passthrough" else np.where(x > 0.0, hi, lo)
        return np.where(grip, binary, raw).astype(np.float32)

    def _check(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions, np.float32)
        if a.shape[-1:] != (self.dim,):
            raise NormalizationError(f"actions must end in {self.dim} dims, got shape {a.shape}")
        return a

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "q01": list(self.q01),
            "q99": list(self.q99),
            "gripper_dims": list(self.gripper_dims),
        }
        if self.gripper != "binarize":  # older bundles' files stay byte-identical
            out["gripper"] = self.gripper
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ActionNormalizer:
        try:
            return cls(
                q01=tuple(float(v) for v in d["q01"]),
                q99=tuple(float(v) for v in d["q99"]),
                gripper_dims=tuple(int(v) for v in d.get("gripper_dims", (6,))),
                key=str(d.get("key", "default")),
                gripper=d.get("gripper", "binarize"),
            )
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, PixelVLAError):
                raise
            raise NormalizationError(f"malformed normalization statistics: {e!r}") from e

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], key: str = "default") -> ActionNormalizer:
        """From a LeRobot-style stats entry {"q01": [...], "q99": [...]} (e.g. stats["action"])."""
        return cls.from_dict({"q01": stats["q01"], "q99": stats["q99"], "key": key})

    @classmethod
    def from_openvla(cls, stats: Mapping[str, Any], key: str) -> ActionNormalizer:
        """From an OpenVLA config.json `norm_stats[key]["action"]` entry: q01/q99, and `mask`
        (true: scaled; false: passed through; absent: every dim scaled, as OpenVLA defaults)."""
        try:
            q01 = tuple(float(v) for v in stats["q01"])
            q99 = tuple(float(v) for v in stats["q99"])
            mask = stats.get("mask")
            unmasked = () if mask is None else tuple(i for i, m in enumerate(mask) if not bool(m))
            if mask is not None and len(mask) != len(q01):
                raise NormalizationError(f"norm_stats mask has {len(mask)} entries for {len(q01)} dims")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, PixelVLAError):
                raise
            raise NormalizationError(f"malformed OpenVLA norm_stats for {key!r}: {e!r}") from e
        return cls(q01=q01, q99=q99, gripper_dims=unmasked, key=key, gripper="passthrough")

    @classmethod
    def identity(cls, dim: int = 7, key: str = "identity") -> ActionNormalizer:
        lo: Sequence[float] = [-1.0] * dim
        hi: Sequence[float] = [1.0] * dim
        return cls(q01=tuple(lo), q99=tuple(hi), key=key)
