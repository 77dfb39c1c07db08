"""Which compute device the server uses, resolved once from the `device` setting."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cpu" or "cuda"
    name: str  # torch device string, e.g. "cpu", "cuda:0"
    description: str
    torch_version: str


def resolve(setting: str) -> DeviceInfo:
    import torch

    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            from .config import ConfigError

            raise ConfigError(f"device {setting!r} was asked for but CUDA is not available; use --device cpu")
        dev = torch.device(setting if ":" in setting else "cuda:0")
        return DeviceInfo("cuda", str(dev), torch.cuda.get_device_name(dev), torch.__version__)
    import platform

    return DeviceInfo("cpu", "cpu", f"{platform.processor() or platform.machine()} CPU", torch.__version__)
