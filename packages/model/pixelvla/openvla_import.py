"""Import an OpenVLA checkpoint (Hugging Face layout, a local folder) into PixelVLA.

The folder, as `openvla/openvla-7b` ships it: `config.json` (PrismaticConfig: `timm_model_ids`,
`image_sizes`, `text_config`, `pad_to_multiple_of`, `n_action_bins`, `norm_stats`, ...),
`model.safetensors.index.json` + `model-0000k-of-0000n.safetensors` (or one `model.safetensors`),
and the Llama tokenizer files. Nothing is ever downloaded.

OpenVLA's checkpoint keys and ours:
    vision_backbone.featurizer.*        -> vision.featurizer.*        (timm DINOv2)
    vision_backbone.fused_featurizer.*  -> vision.fused_featurizer.*  (timm SigLIP)
    projector.fc{1,2,3}.*               -> projector.fc{1,2,3}.*
    language_model.*                    -> llm.*                      (LlamaForCausalLM)
OpenVLA renamed timm's LayerScale `gamma` to `scale_factor` (HF's loader mangles names ending in
`gamma`), so `.ls{1,2}.scale_factor` maps back to `.ls{1,2}.gamma`. The new PixelVLA modules
(pixel/prompt encoders, action slots and decoder) are absent from OpenVLA and keep their init.

`import_openvla` builds the model with the backbone's parameters on the meta device and streams
the tensors shard by shard into it, so a 7B import holds one copy of the weights (plus one
tensor), never a random-initialised 7B model first. The imported model is OpenVLA as it is: the
tokens head with OpenVLA's action-token layout (`action.token_layout = "openvla"`), OpenVLA's
prompt and trailing "▁" token, and OpenVLA's un-normalisation (`norm_stats[key]["action"]`:
q01/q99, the gripper passed through where `mask` is false). `pixelvla eval` then scores it
unchanged, and `pixelvla train stage1 --init FOLDER` starts the paper's stage 1 from it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from pixelvla.checkpoint import CheckpointError
from pixelvla.config import PixelVLAConfig, TowerConfig, full_config
from pixelvla.errors import PixelVLAError
from pixelvla.model import PixelVLA
from pixelvla.normalize import ActionNormalizer

PREFIXES = (
    ("vision_backbone.featurizer.", "vision.featurizer."),
    ("vision_backbone.fused_featurizer.", "vision.fused_featurizer."),
    ("projector.", "projector."),
    ("language_model.", "llm."),
)
BACKBONE_PREFIXES = tuple(ours for _, ours in PREFIXES)
_LAYER_SCALE = re.compile(r"\.ls([12])\.scale_factor$")
# OpenVLA's prompt (prismatic's PurePromptBuilder for `llama2-7b-pure`, as predict_action builds it).
OPENVLA_PROMPT = "In: What action should the robot take to {task}?\nOut:"
# The Llama tokenizer's files in an OpenVLA folder (copied into the bundle; nothing else is).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
# SentencePiece's lone word-start piece: OpenVLA's predict_action appends it (id 29871 in Llama-2).
SPIECE_SPACE = "\u2581"


def map_openvla_key(key: str) -> str | None:
    """OpenVLA checkpoint key -> PixelVLA state_dict key (None: not part of the backbone)."""
    for theirs, ours in PREFIXES:
        if key.startswith(theirs):
            return _LAYER_SCALE.sub(r".ls\1.gamma", ours + key[len(theirs) :])
    return None


@dataclass
class ImportReport:
    loaded: list[str] = field(default_factory=list)
    # Ours, not in the checkpoint (expected: the new PixelVLA modules).
    missing: list[str] = field(default_factory=list)
    # In the checkpoint, not ours (e.g. a non-fused OpenVLA variant).
    unexpected: list[str] = field(default_factory=list)
    loaded_params: int = 0  # elements loaded from the checkpoint
    new_params: int = 0  # elements of the model's parameters left at their init (the new modules)

    def summary(self) -> dict[str, Any]:
        """The counts `pixelvla import` prints: tensors loaded / missing / unexpected, elements."""
        modules: dict[str, int] = {}
        for k in self.missing:
            top = k.split(".", 1)[0]
            modules[top] = modules.get(top, 0) + 1
        return {
            "tensors": {
                "loaded": len(self.loaded),
                "missing": len(self.missing),
                "unexpected": len(self.unexpected),
            },
            "missing_by_module": dict(sorted(modules.items())),
            "unexpected_examples": self.unexpected[:5],
            "params": {
                "loaded": self.loaded_params,
                "new": self.new_params,
                "total": self.loaded_params + self.new_params,
            },
        }


def checkpoint_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
            names = sorted(set(weight_map.values()))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise CheckpointError(f"{index} is not a safetensors index: {e!r}") from e
        if not names or not all(isinstance(n, str) and "/" not in n and n != ".." for n in names):
            raise CheckpointError(f"{index} names no shards, or names outside the folder")
        return [folder / name for name in names]
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    raise CheckpointError(f"{folder} holds no model.safetensors or model.safetensors.index.json")


def _assign(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Put `tensor` in place of the (meta) parameter or buffer `name`."""
    owner, _, attr = name.rpartition(".")
    module = model.get_submodule(owner) if owner else model
    if attr in module._parameters:
        old = module._parameters[attr]
        module._parameters[attr] = nn.Parameter(
            tensor, requires_grad=bool(old is not None and old.requires_grad)
        )
    else:
        module._buffers[attr] = tensor


def _real_device(model: nn.Module) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        if t.device.type != "meta":
            return t.device
    return torch.device("cpu")


@torch.no_grad()
def load_openvla(folder: str | os.PathLike[str], model: PixelVLA, *, strict: bool = True) -> ImportReport:
    """Copy OpenVLA weights into `model`. Tensors whose target is on the meta device (a model built
    with `empty_backbone=True`) are materialised on the model's device, in the target's dtype.

    strict: every backbone parameter must be present and every checkpoint key must map."""
    root = Path(folder)
    if not root.is_dir():
        raise CheckpointError(f"OpenVLA folder {root} does not exist")
    targets = model.state_dict()
    device = _real_device(model)
    report = ImportReport()
    for path in checkpoint_files(root):
        if not path.is_file():
            raise CheckpointError(f"checkpoint shard {path.name} is missing")
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    ours = map_openvla_key(key)
                    if ours is None or ours not in targets:
                        report.unexpected.append(key)
                        continue
                    tensor = f.get_tensor(key)
                    target = targets[ours]
                    if tensor.shape != target.shape:
                        raise CheckpointError(
                            f"{key}: checkpoint shape {tuple(tensor.shape)} != model shape {tuple(target.shape)}"
                        )
                    if target.device.type == "meta":
                        _assign(model, ours, tensor.to(device=device, dtype=target.dtype))
                    else:
                        target.copy_(tensor.to(target.dtype))
                    report.loaded.append(ours)
                    report.loaded_params += tensor.numel()
        except (OSError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"cannot read {path.name}: {e}") from e
    loaded = set(report.loaded)
    report.missing = sorted(k for k in targets if k not in loaded)
    params = dict(model.named_parameters())
    report.new_params = sum(params[k].numel() for k in report.missing if k in params)
    still_meta = [
        n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.device.type == "meta"
    ]
    missing_backbone = [k for k in report.missing if k.startswith(BACKBONE_PREFIXES)]
    if still_meta or (strict and (missing_backbone or report.unexpected)):
        raise CheckpointError(
            f"OpenVLA import does not fit: {len(missing_backbone)} backbone tensors missing "
            f"(e.g. {missing_backbone[:3]}), {len(report.unexpected)} unexpected (e.g. {report.unexpected[:3]})"
        )
    return report


# ---------------------------------------------------------------- the folder's config


def is_openvla_folder(path: str | os.PathLike[str]) -> bool:
    """A folder with an OpenVLA config.json (PrismaticConfig with norm_stats) and no bundle manifest."""
    p = Path(path)
    if not (p / "config.json").is_file() or (p / "manifest.json").exists():
        return False
    try:
        data = json.loads((p / "config.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "timm_model_ids" in data and "text_config" in data


def read_openvla_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; not an OpenVLA folder") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is unreadable: {e}") from e
    required = ("timm_model_ids", "image_sizes", "text_config", "norm_stats")
    if not isinstance(data, dict) or any(k not in data for k in required):
        raise CheckpointError(f"{path} is not an OpenVLA config (needs {', '.join(required)})")
    return data


def unnorm_keys(folder: str | os.PathLike[str]) -> list[str]:
    stats = read_openvla_config(folder)["norm_stats"]
    if not isinstance(stats, dict):
        raise CheckpointError("config.json norm_stats is not an object")
    return sorted(stats)


def choose_unnorm_key(folder: str | os.PathLike[str], key: str | None) -> str:
    """OpenVLA's rule: the key must be given unless the checkpoint holds statistics for one dataset."""
    keys = unnorm_keys(folder)
    if key is None:
        if len(keys) != 1:
            raise CheckpointError(f"this OpenVLA has statistics for {len(keys)} datasets; pick one: {keys}")
        return keys[0]
    if key not in keys:
        raise CheckpointError(f"no norm_stats for {key!r}; known: {keys}")
    return key


def openvla_normalizer(folder: str | os.PathLike[str], dataset: str) -> ActionNormalizer:
    """OpenVLA's action statistics `norm_stats[dataset]["action"]` (q01/q99, mask), with its rule."""
    path = Path(folder) / "config.json"
    try:
        stats = json.loads(path.read_text())["norm_stats"]
        entry = stats[dataset]["action"]
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} has no norm_stats for {dataset!r}: {e!r}") from e
    try:
        return ActionNormalizer.from_openvla(entry, key=dataset)
    except PixelVLAError as e:
        raise CheckpointError(f"{path}: {e.message}") from e


def copy_tokenizer(folder: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """The tokenizer's files only (the bundle must not copy the weights along with them)."""
    src, out = Path(folder), Path(out_dir)
    present = [name for name in TOKENIZER_FILES if (src / name).is_file()]
    if "tokenizer_config.json" not in present or not {"tokenizer.json", "tokenizer.model"} & set(present):
        raise CheckpointError(
            f"{src} holds no Llama tokenizer (tokenizer_config.json + tokenizer.json/.model)"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in present:
        # Copy, then rename: every rank of a torchrun job imports into the same run folder, and a
        # reader must never see a half-written file.
        tmp = out / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, out / name)
    return out


def _tower(timm_id: str, base: TowerConfig | None, role: str) -> TowerConfig:
    """timm id (`vit_large_patch14_reg4_dinov2.lvd142m`) -> the base config's tower of that
    architecture (its overrides and pixel statistics); another architecture is an error."""
    arch = timm_id.split(".", 1)[0]
    if base is None or base.arch != arch:
        raise CheckpointError(
            f"OpenVLA's {role} is {arch!r}, the base model config has {base.arch if base else None!r}; "
            "pass a model config (--model) whose towers match"
        )
    return base


def _llm_fields(text: dict[str, Any]) -> dict[str, Any]:
    """PrismaticConfig builds LlamaConfig(**text_config): its defaults fill what the file omits
    (OpenVLA's text_config holds little more than vocab_size and pad_token_id)."""
    from transformers import LlamaConfig

    if text.get("model_type", "llama") != "llama":
        raise CheckpointError(f"text_config.model_type {text.get('model_type')!r}: only Llama is supported")
    ignored = {"model_type", "torch_dtype", "dtype", "architectures", "transformers_version"}
    lc = LlamaConfig(**{k: v for k, v in text.items() if k not in ignored})
    unsupported = {
        "hidden_act": (lc.hidden_act, "silu"),
        "attention_bias": (lc.attention_bias, False),
        "mlp_bias": (lc.mlp_bias, False),
    }
    bad = {k: v for k, (v, want) in unsupported.items() if v != want}
    if bad:
        raise CheckpointError(f"text_config has unsupported settings: {bad}")
    rope = getattr(lc, "rope_parameters", None) or {}
    return {
        "vocab_size": int(lc.vocab_size),
        "hidden_size": int(lc.hidden_size),
        "intermediate_size": int(lc.intermediate_size),
        "num_layers": int(lc.num_hidden_layers),
        "num_heads": int(lc.num_attention_heads),
        "num_kv_heads": int(lc.num_key_value_heads or lc.num_attention_heads),
        "rms_norm_eps": float(lc.rms_norm_eps),
        "max_position_embeddings": int(lc.max_position_embeddings),
        "rope_theta": float(rope.get("rope_theta", getattr(lc, "rope_theta", None) or 10000.0)),
        "tie_word_embeddings": bool(lc.tie_word_embeddings),
    }


def openvla_model_config(
    folder: str | os.PathLike[str], tokenizer_dir: str | os.PathLike[str], base: PixelVLAConfig | None = None
) -> PixelVLAConfig:
    """The PixelVLA config of an OpenVLA checkpoint: the base config's towers (by architecture),
    the LLM and vocabulary from `text_config`, OpenVLA's prompt, tokens head, OpenVLA token layout."""
    ov = read_openvla_config(folder)
    base = base or full_config()
    ids, sizes = ov["timm_model_ids"], ov["image_sizes"]
    fused = bool(ov.get("use_fused_vision_backbone", len(ids) > 1))
    if (
        not isinstance(ids, list)
        or len(ids) != (2 if fused else 1)
        or not all(isinstance(i, str) for i in ids)
    ):
        raise CheckpointError(f"timm_model_ids {ids!r} does not fit use_fused_vision_backbone={fused}")
    if any(a is not None for a in ov.get("timm_override_act_layers") or []):
        raise CheckpointError("timm_override_act_layers is set; those towers are not supported")
    if not (isinstance(sizes, list) and sizes and all(s == sizes[0] for s in sizes)):
        raise CheckpointError(f"image_sizes {sizes!r}: one square size is supported")
    if not str(ov.get("arch_specifier", "fused-gelu-mlp")).endswith("fused-gelu-mlp"):
        raise CheckpointError(
            f"arch_specifier {ov.get('arch_specifier')!r}: only the fused GELU MLP projector"
        )
    vision = dataclasses.replace(
        base.vision,
        image_size=int(sizes[0]),
        featurizer=_tower(ids[0], base.vision.featurizer, "featurizer"),
        fused_featurizer=_tower(ids[1], base.vision.fused_featurizer, "fused featurizer") if fused else None,
        pixel_tower=base.vision.pixel_tower if fused else "featurizer",
    )
    if not isinstance(ov["text_config"], dict):
        raise CheckpointError("config.json text_config is not an object")
    llm = dataclasses.replace(base.llm, **_llm_fields(ov["text_config"]))

    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot load the tokenizer of {folder}: {e}") from e
    # OpenVLA's action ids count back from the tokenizer's size: text_config.vocab_size minus
    # the padding to a multiple of 64 (predict_action), which is tokenizer.vocab_size (its
    # ActionTokenizer). Both must agree, or its tokens would decode to other bins.
    pad_to = int(ov.get("pad_to_multiple_of", 0) or 0)
    vocab = llm.vocab_size - pad_to
    if int(tok.vocab_size) != vocab:
        raise CheckpointError(
            f"tokenizer vocab_size {tok.vocab_size} != text_config.vocab_size {llm.vocab_size} - "
            f"pad_to_multiple_of {pad_to}"
        )
    bins = int(ov.get("n_action_bins", base.action.bins))
    space = tok.convert_tokens_to_ids(SPIECE_SPACE)
    suffix = (space,) if isinstance(space, int) and space != tok.unk_token_id else ()
    pad_id = ov.get("pad_token_id", ov["text_config"].get("pad_token_id", tok.pad_token_id))
    tokenizer = dataclasses.replace(
        base.tokenizer,
        kind="llama",
        vocab_size=vocab,
        bos_token_id=int(tok.bos_token_id),
        eos_token_id=int(tok.eos_token_id),
        pad_token_id=int(pad_id if pad_id is not None else vocab),
        path=str(tokenizer_dir),
    )
    return dataclasses.replace(
        base,
        vision=vision,
        llm=llm,
        tokenizer=tokenizer,
        action=dataclasses.replace(base.action, bins=bins, base_steps=1, token_layout="openvla"),
        prompt_template=OPENVLA_PROMPT,
        head="tokens",
        use_pixel_encoder=False,
        use_prompt_encoder=False,
        state_dim=0,
        text_suffix_ids=suffix,
    )


# ---------------------------------------------------------------- the whole import


@dataclass
class ImportedOpenVLA:
    model: PixelVLA
    config: PixelVLAConfig
    normalizer: ActionNormalizer
    report: ImportReport


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def import_openvla(
    folder: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    *,
    base: PixelVLAConfig | None = None,
    unnorm_key: str | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> ImportedOpenVLA:
    """OpenVLA folder -> PixelVLA with its weights (tokens head), OpenVLA's normaliser for
    `unnorm_key`, and the report. The tokenizer's files are copied to `tokenizer_dir`, which the
    returned config points at. The new modules are initialised from `seed`."""
    root = Path(folder)
    if not root.is_dir():
        raise CheckpointError(f"OpenVLA folder {root} does not exist")
    key = choose_unnorm_key(root, unnorm_key)
    normalizer = openvla_normalizer(root, key)
    copy_tokenizer(root, tokenizer_dir)
    config = openvla_model_config(root, tokenizer_dir, base)
    if normalizer.dim != config.action.action_dim:
        raise CheckpointError(
            f"norm_stats[{key!r}] has {normalizer.dim} dims; the model has {config.action.action_dim}"
        )
    model = _empty_model(config, seed, device, dtype)
    report = load_openvla(root, model, strict=True)
    return ImportedOpenVLA(model.eval(), config, normalizer, report)


def _empty_model(
    config: PixelVLAConfig, seed: int, device: str | torch.device, dtype: torch.dtype
) -> PixelVLA:
    """The backbone on meta, the new modules initialised from `seed` (the global RNG is restored)."""
    rng_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        with torch.device(device), _default_dtype(dtype):
            return PixelVLA(config, empty_backbone=True)
    finally:
        torch.random.set_rng_state(rng_state)


def openvla_sources(folder: str | os.PathLike[str]) -> dict[str, tuple[Path, str]]:
    """Where each of our backbone tensors lies in the checkpoint: our name -> (shard, its key),
    read from the shards' headers only (for loading each rank's slices under FSDP)."""
    out: dict[str, tuple[Path, str]] = {}
    for path in checkpoint_files(Path(folder)):
        if not path.is_file():
            raise CheckpointError(f"checkpoint shard {path.name} is missing")
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    ours = map_openvla_key(key)
                    if ours is None:
                        raise CheckpointError(f"OpenVLA import does not fit: unexpected tensor {key}")
                    out[ours] = (path, key)
        except (OSError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"cannot read {path.name}: {e}") from e
    return out


def empty_openvla(
    folder: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    *,
    base: PixelVLAConfig | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> tuple[PixelVLA, dict[str, tuple[Path, str]]]:
    """The imported model with its backbone still on meta, and where its tensors are: for
    `Parallel.shard_and_load`, which reads each rank's rows only. Same config and new-module init
    as `import_openvla`; every meta parameter must have a source (checked here, before any work)."""
    root = Path(folder)
    if not root.is_dir():
        raise CheckpointError(f"OpenVLA folder {root} does not exist")
    copy_tokenizer(root, tokenizer_dir)
    config = openvla_model_config(root, tokenizer_dir, base)
    model = _empty_model(config, seed, "cpu", dtype)
    sources = openvla_sources(root)
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.device.type == "meta" and n not in sources]
    unexpected = [n for n in sources if n not in params]
    if missing or unexpected:
        raise CheckpointError(
            f"OpenVLA import does not fit: {len(missing)} backbone tensors missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})"
        )
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for name, (path, key) in sources.items():
        by_file.setdefault(path, []).append((name, key))
    for path, items in by_file.items():
        with safe_open(str(path), framework="pt") as f:
            for name, key in items:
                shape = tuple(f.get_slice(key).get_shape())
                if shape != tuple(params[name].shape):
                    raise CheckpointError(
                        f"{key}: checkpoint shape {shape} != model shape {tuple(params[name].shape)}"
                    )
    return model, sources
