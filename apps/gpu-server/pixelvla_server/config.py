"""Server settings: one typed dataclass, filled from defaults, then PIXELVLA_* environment, then CLI flags."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from pixelvla.config import POLICY_BACKENDS


class ConfigError(ValueError):
    """A setting is invalid; the message says which and what to do."""


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


RUNNERS = ("subprocess", "ray")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # How the served model runs a chunk: "torch" (eager PyTorch), "onnx" (ONNX Runtime on CPU,
    # pixelvla.fast_tiny: the tiny models, ~1.5-1.9x faster per chunk on one core, the same actions) or
    # "onnx-int8" (that graph with int8 matmul weights: ~2.4-2.7x, actions within 0.05 normalised).
    policy_backend: str = "torch"
    model: str | None = None  # model id in the registry; None = the default demo bundle if present
    data_dir: Path = field(default_factory=lambda: _repo_root() / "var")
    models_dir: Path = field(default_factory=lambda: _repo_root() / "models")
    # An operator's folder of LeRobot v3 datasets (or one dataset) to list beside <data-dir>/datasets.
    datasets_dir: Path | None = None
    api_token: str | None = None  # required for a non-loopback bind
    operator_token: str | None = None  # required to command robots and launch runs
    studio_origins: tuple[str, ...] = ("http://127.0.0.1:5173", "http://localhost:5173")
    log_level: str = "info"
    max_request_bytes: int = 16 * 1024 * 1024
    # Training/eval run command. Placeholders: {python} {stage} {run_dir} {config} {dataset} {base} {resume}
    # ({resume} expands to "--resume" or nothing). See README "Run command template".
    run_command: str = "{python} -m pixelvla run {stage} --run-dir {run_dir} --config {config} {resume}"
    run_slots: int = 0  # concurrent runs; 0 = one per GPU, or one on CPU
    # Where runs execute: "subprocess" (children of this server) or "ray" (jobs submitted to the Ray
    # cluster whose dashboard/job API is at ray_address, e.g. http://head:8265). See README "Ray backend".
    runner: str = "subprocess"
    ray_address: str | None = None
    # How long a Ray submission is retried while the head's job agent starts (then the run fails).
    ray_submit_wait_s: int = 120
    deadman_ms: int = 200  # a robot stops when its controller is silent this long (plus at most one tick)
    load_model: bool = True  # load the default model at start (tests of other rooms turn it off)
    predict_queue: int = 8  # pending predictions across all clients before new ones are refused (busy)

    def validate(self) -> Settings:
        if not (1 <= self.port <= 65535):
            raise ConfigError(f"port {self.port} is out of range 1..65535")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device {self.device!r} is not one of auto, cpu, cuda, cuda:N")
        if self.policy_backend not in POLICY_BACKENDS:
            raise ConfigError(
                f"policy backend {self.policy_backend!r} is not one of {', '.join(POLICY_BACKENDS)}"
            )
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"log level {self.log_level!r} is not one of debug, info, warning, error")
        if self.datasets_dir is not None and not self.datasets_dir.is_dir():
            raise ConfigError(f"datasets dir {self.datasets_dir} is not a folder")
        if self.run_slots < 0:
            raise ConfigError(f"run slots {self.run_slots} must be >= 0 (0 = one per device)")
        if self.runner not in RUNNERS:
            raise ConfigError(f"runner {self.runner!r} is not one of {', '.join(RUNNERS)}")
        if self.runner == "ray" and not self.ray_address:
            raise ConfigError(
                "the ray runner needs the cluster's job API address: pass --ray-address "
                "http://HEAD:8265 or set PIXELVLA_RAY_ADDRESS"
            )
        if not (0 <= self.ray_submit_wait_s <= 3600):
            raise ConfigError(f"ray_submit_wait_s {self.ray_submit_wait_s} is out of range 0..3600")
        if not (20 <= self.deadman_ms <= 5000):
            raise ConfigError(f"deadman_ms {self.deadman_ms} is out of range 20..5000")
        if "{run_dir}" not in self.run_command:
            raise ConfigError("run_command must contain {run_dir} so that the run writes into its folder")
        if not is_loopback(self.host) and not self.api_token:
            raise ConfigError(
                f"binding to {self.host} exposes the server beyond this machine; "
                "set an API token with --api-token or PIXELVLA_API_TOKEN, or bind to 127.0.0.1"
            )
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ENV_PREFIX = "PIXELVLA_"


def from_env(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Defaults, then PIXELVLA_<FIELD> variables, then non-None keyword overrides (the CLI flags)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        raw = env.get(_ENV_PREFIX + f.name.upper())
        if raw is None or raw == "":
            continue
        values[f.name] = _coerce(f.name, f.type, raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("data_dir", "models_dir", "datasets_dir"):
        if key in values:
            values[key] = Path(str(values[key])).expanduser().resolve()
    return Settings(**values).validate()  # type: ignore[arg-type]


def _coerce(name: str, annotation: object, raw: str) -> object:
    text = str(annotation)
    try:
        if text.startswith("bool"):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        if text.startswith("int"):
            return int(raw)
        if "tuple" in text:
            return tuple(s.strip() for s in raw.split(",") if s.strip())
    except ValueError as exc:
        raise ConfigError(f"{_ENV_PREFIX}{name.upper()}={raw!r} is not a valid {text}") from exc
    return raw
