"""Checkpoint bundle: everything a policy needs, in one folder, content-addressed.

    config.json           PixelVLAConfig (with the stage's head / encoder switches)
    model.safetensors     base weights: vision towers, projector, LLM (plain names, no LoRA)
    heads.safetensors     new modules: action slots + decoder, pixel-aware and prompt encoders
    adapters/             LoRA, apart from the base (adapter_model.safetensors, adapter_config.json)
    normalization.json    q01/q99 action statistics (ActionNormalizer)
    tokenizer.json        tokenizer kind; `tokenizer/` holds the Llama files when kind == "llama"
    preprocessing.json    image size, resize, pixel range, per-tower mean/std, mask grid
    manifest.json         sha256 of every file above; model_id = sha256 over those hashes

LoRA is merged on the target device at load time, never offline (re-saving merged weights is known
to break policies). Writes go to a temporary sibling folder that is renamed into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from pixelvla.config import ConfigError, PixelVLAConfig, tiny_config
from pixelvla.errors import PixelVLAError
from pixelvla.model import PixelVLA
from pixelvla.normalize import ActionNormalizer
from pixelvla.prompt_encoder import encoder_hash, make_prompt_encoder
from pixelvla.stages import (
    LoraSettings,
    add_lora,
    apply_stage,
    base_state_dict,
    has_lora,
    lora_state_dict,
    merge_lora,
)

FORMAT = "pixelvla-bundle/1"
BASE_FILE = "model.safetensors"
HEADS_FILE = "heads.safetensors"
ADAPTER_FILE = "adapters/adapter_model.safetensors"
ADAPTER_CONFIG = "adapters/adapter_config.json"
ENCODER_PREFIX = "prompt_encoder."
HEAD_PREFIXES = (
    "action_decoder.",
    "action_slot",
    "pixel_encoder.",
    "prompt_encoder.",
    "prompt_projector.",
    "state_projector.",
)


class CheckpointError(PixelVLAError):
    """A bundle is missing, incomplete, corrupt, or does not fit the model it describes."""

    default_code = "invalid_checkpoint"


@dataclass
class LoadedBundle:
    model: PixelVLA
    config: PixelVLAConfig
    normalizer: ActionNormalizer
    manifest: dict[str, Any]
    preprocessing: dict[str, Any]
    root: Path

    @property
    def model_id(self) -> str:
        return str(self.manifest["model_id"])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path))


def preprocessing_settings(config: PixelVLAConfig) -> dict[str, Any]:
    v = config.vision
    towers = {"featurizer": v.featurizer}
    if v.fused_featurizer is not None:
        towers["fused_featurizer"] = v.fused_featurizer
    return {
        "image_size": v.image_size,
        "resize": "bilinear, antialias, no crop (Prismatic's resize-naive)",
        "pixel_range": [0.0, 1.0],
        "tower_normalization": {k: {"mean": list(t.mean), "std": list(t.std)} for k, t in towers.items()},
        "pixel_mask_grid": v.grid,
        "max_pixel_masks": config.pixel.max_masks,
        "prompt_template": config.prompt_template,
    }


def save_bundle(
    model: PixelVLA,
    out_dir: str | os.PathLike[str],
    normalizer: ActionNormalizer,
    *,
    name: str | None = None,
    stage: str | None = None,
    lora: LoraSettings | None = None,
    extra: dict[str, Any] | None = None,
    state: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write `model` as a bundle at `out_dir` (replacing it atomically); returns the folder.
    `state`: the model's tensors when the module holds only shards of them (FSDP, gathered)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        cfg = model.config
        (tmp / "config.json").write_text(cfg.to_json() + "\n")
        tensors = model.state_dict() if state is None else state
        base = base_state_dict(tensors)
        heads = {k: v for k, v in base.items() if k.startswith(HEAD_PREFIXES)}
        _save_tensors({k: v for k, v in base.items() if k not in heads}, tmp / BASE_FILE)
        _save_tensors(heads, tmp / HEADS_FILE)
        if has_lora(model):
            _save_tensors(lora_state_dict(tensors), tmp / ADAPTER_FILE)
            _write_json(tmp / ADAPTER_CONFIG, dataclasses.asdict(lora or LoraSettings()))
        _write_json(tmp / "normalization.json", normalizer.to_dict())
        tok: dict[str, Any] = dataclasses.asdict(cfg.tokenizer)
        if cfg.tokenizer.kind == "llama" and cfg.tokenizer.path:
            shutil.copytree(cfg.tokenizer.path, tmp / "tokenizer")
            tok["path"] = "tokenizer"
        _write_json(tmp / "tokenizer.json", tok)
        _write_json(tmp / "preprocessing.json", preprocessing_settings(cfg))
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        hashes = {f: _sha256(tmp / f) for f in files}
        model_id = _model_id(hashes)
        _write_json(
            tmp / "manifest.json",
            {
                "format": FORMAT,
                "name": name or cfg.name,
                "config": cfg.name,
                "stage": stage,
                "model_id": model_id,
                "encoder_hash": encoder_hash(
                    {k[len(ENCODER_PREFIX) :]: v for k, v in tensors.items() if k.startswith(ENCODER_PREFIX)}
                ),
                "files": hashes,
                **(extra or {}),
            },
        )
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _model_id(hashes: Mapping[str, str]) -> str:
    """A bundle's identity: the hash of every file's hash."""
    return hashlib.sha256(json.dumps(dict(hashes), sort_keys=True).encode()).hexdigest()


def _replace_dir(tmp: Path, out: Path) -> None:
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        out.rename(trash / "old")
        tmp.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(out)


def attach_files(bundle_dir: str | os.PathLike[str], files: Mapping[str, str | os.PathLike[str]]) -> str:
    """Add (or replace) files in a bundle, e.g. its text grounder: they join the manifest, and the
    model_id, a hash of every file, changes with them. Atomic like save_bundle; returns the new id."""
    out = Path(bundle_dir)
    manifest = read_manifest(out)
    for rel in files:
        if rel == "manifest.json" or "/" in rel or rel.startswith("."):
            raise CheckpointError(f"cannot attach {rel!r} to a bundle")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copytree(out, tmp, dirs_exist_ok=True)
        for rel, src in files.items():
            shutil.copyfile(src, tmp / rel)
        hashes = {**manifest["files"], **{rel: _sha256(tmp / rel) for rel in files}}
        manifest["files"] = dict(sorted(hashes.items()))
        manifest["model_id"] = _model_id(hashes)
        _write_json(tmp / "manifest.json", manifest)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(manifest["model_id"])


def read_manifest(bundle_dir: str | os.PathLike[str], *, verify: bool = True) -> dict[str, Any]:
    root = Path(bundle_dir)
    if not root.is_dir():
        raise CheckpointError(f"bundle folder {root} does not exist")
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{root} has no manifest.json; not a PixelVLA bundle") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{root}/manifest.json is corrupt: {e}") from e
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("files"), dict)
    ):
        raise CheckpointError(f"{root}/manifest.json is not a {FORMAT} manifest")
    for required in ("config.json", BASE_FILE, HEADS_FILE, "normalization.json", "tokenizer.json"):
        if required not in manifest["files"]:
            raise CheckpointError(f"bundle manifest lists no {required}")
    if verify:
        for rel, digest in manifest["files"].items():
            path = root / rel
            if not path.is_file():
                raise CheckpointError(f"bundle file {rel} is missing from {root}")
            if _sha256(path) != digest:
                raise CheckpointError(f"bundle file {rel} is corrupt (sha256 mismatch)")
    return manifest


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load_file(str(path))
    except (safetensors.SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {path.name}: {e}") from e


def load_bundle(
    bundle_dir: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    verify: bool = True,
    merge: bool = True,
) -> LoadedBundle:
    """Build the model on `device` in `dtype`, load base and heads, then apply and merge LoRA there."""
    root = Path(bundle_dir)
    manifest = read_manifest(root, verify=verify)
    try:
        config = PixelVLAConfig.from_json((root / "config.json").read_text())
        normalizer = ActionNormalizer.from_dict(_read_json_object(root, "normalization.json"))
        preprocessing = _read_json_object(root, "preprocessing.json")
    except (ConfigError, json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise CheckpointError(f"bundle {root} has an unreadable config: {e}") from e
    except PixelVLAError as e:
        raise CheckpointError(f"bundle {root}: {e.message}") from e
    if config.tokenizer.kind == "llama":
        config = dataclasses.replace(
            config, tokenizer=dataclasses.replace(config.tokenizer, path=str(root / "tokenizer"))
        )
    with torch.device(device), _default_dtype(dtype):
        model = PixelVLA(config)
    state = {**_load_tensors(root / BASE_FILE), **_load_tensors(root / HEADS_FILE)}
    _load_into(model, state, "base + heads")
    adapter = root / ADAPTER_FILE
    if adapter.is_file():
        settings = _lora_settings(root)
        add_lora(model, settings)
        adapters = _load_tensors(adapter)
        missing = {k for k in lora_state_dict(model)} - set(adapters)
        unexpected = set(adapters) - {k for k in lora_state_dict(model)}
        if missing or unexpected:
            raise CheckpointError(
                f"LoRA adapters do not fit the model: {len(missing)} missing, {len(unexpected)} unexpected"
            )
        model.load_state_dict(adapters, strict=False)
        if merge:
            merge_lora(model)
    model.to(device)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedBundle(model, config, normalizer, manifest, preprocessing, root)


def _read_json_object(root: Path, name: str) -> dict[str, Any]:
    data = json.loads((root / name).read_text())
    if not isinstance(data, dict):
        raise CheckpointError(f"bundle file {root / name} is corrupt: not a JSON object")
    return data


def _lora_settings(root: Path) -> LoraSettings:
    """adapters/adapter_config.json as LoraSettings; anything else is a corrupt-file error naming it."""
    path = root / ADAPTER_CONFIG
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        settings = LoraSettings(**data)
        return dataclasses.replace(settings, target_modules=tuple(settings.target_modules))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as e:
        raise CheckpointError(f"bundle file {path} is corrupt: {e}") from e


def _load_into(model: PixelVLA, state: dict[str, torch.Tensor], what: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{what} weights do not fit the config: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise CheckpointError(
                f"{what}: {k} has shape {tuple(v.shape)}, the config needs {tuple(expected[k].shape)}"
            )
    model.load_state_dict(state, strict=True)


def sim_normalizer() -> ActionNormalizer:
    """Plausible per-step delta ranges for the simulated arm (metres, radians; gripper 0..1)."""
    arm = (0.02, 0.02, 0.02, 0.1, 0.1, 0.1)
    return ActionNormalizer(q01=(*(-a for a in arm), 0.0), q99=(*arm, 1.0), key="random-init")


def make_random_tiny_bundle(out_dir: str | os.PathLike[str], seed: int = 0) -> Path:
    """A loadable stage-2 tiny bundle with random weights (the server and studio use it until a
    trained model exists). Deterministic in `seed`: same seed, same model_id."""
    rng_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = PixelVLA(tiny_config())
        # The browser half is the one exported to public/models (seed 0), so the studio's encoder
        # hash matches the served random model and browser tokens are used, not discarded.
        model.prompt_encoder.load_state_dict(make_prompt_encoder(0).state_dict())
        apply_stage(model, "stage2")
        # peft initialises lora_B to zero; give the adapters weight so the merge path is exercised.
        with torch.no_grad():
            for k, v in lora_state_dict(model).items():
                if "lora_B" in k:
                    v.normal_(0.0, 0.01)
    finally:
        torch.random.set_rng_state(rng_state)
    return save_bundle(model.eval(), out_dir, sim_normalizer(), name=f"tiny-random-{seed}", stage="stage2")
