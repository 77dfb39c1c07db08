"""The training loop shared by every stage: build or load the model, apply the stage's rules, train
with AdamW + warm-up/cosine, log metrics, checkpoint atomically, resume exactly, export a bundle.

Runs on CPU for `tiny` and under `torchrun` for one or many GPUs (DDP, or FSDP for `full`: see
`parallel.py`; rank 0 writes). A resumed run continues the same run: weights, optimizer, scheduler, RNG
and data position all come back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..checkpoint import load_bundle, save_bundle
from ..config import PixelVLAConfig, load_config
from ..data import DatasetError, LocalDataset, open_dataset
from ..model import PixelVLA
from ..normalize import ActionNormalizer
from ..stages import LoraSettings, apply_stage, get_stage
from ..tokenizer import build_tokenizer
from . import atomic, rng
from .batches import BatchBuilder
from .checkpointing import CheckpointManager, CheckpointStateError, TrainingState
from .config import TrainConfig, TrainConfigError
from .grounding import PREFIX as GROUNDING_PREFIX
from .grounding import GroundingHead, HiddenCapture, grounding_loss
from .metrics import ACTION_DIMS, MetricsLog
from .parallel import Parallel, TensorSources, choose, process_group, total_norm
from .sampler import ResumableSampler
from .schedule import lr_factor

log = logging.getLogger("pixelvla.train")
CONFIG_FILE = "train_config.json"
BUNDLE_DIR = "bundle"
# An OpenVLA init's tokenizer files, copied into the run folder (the bundle copies them from here).
OPENVLA_TOKENIZER_DIR = "openvla_tokenizer"


@dataclass
class RunResult:
    run_dir: Path
    step: int
    bundle: Path | None  # None when the run halted or was cancelled before the end
    final_loss: float | None


def resolve_init(path: str) -> Path:
    """A bundle folder, or a run folder whose finished bundle is `RUN/bundle`."""
    p = Path(path)
    if (p / "manifest.json").is_file():
        return p
    if (p / BUNDLE_DIR / "manifest.json").is_file():
        return p / BUNDLE_DIR
    raise TrainConfigError(f"--init {path}: neither a bundle nor a finished run folder (no manifest.json)")


def _device(setting: str) -> torch.device:
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    return torch.device(setting)


def _bf16(cfg: TrainConfig, device: torch.device) -> bool:
    return cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 itself (AMX or AVX512-BF16, as oneDNN sees it). Without it,
    autocast emulates bf16 and a step is many times slower than fp32 (the demo's stage 2, batch 32,
    on an AVX2-only 2-core box: 51.5 s/step in bf16, 2.6 s in fp32, 2026-12-08)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN: do not guess, do not warn
        return True


def _autocast(cfg: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    if not _bf16(cfg, device):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _mem_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def model_config_name(cfg: TrainConfig) -> str:
    """The name of the configuration the run will train (it picks the parallel strategy), read
    before any model is built."""
    from ..openvla_import import is_openvla_folder

    if cfg.init is not None and is_openvla_folder(cfg.init):
        return load_config(cfg.model).name if cfg.model else "full"
    if cfg.init is not None:
        try:
            return str(json.loads((resolve_init(cfg.init) / "config.json").read_text())["name"])
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise TrainConfigError(f"--init {cfg.init}: unreadable config.json: {e}") from e
    return load_config(cfg.model or "tiny").name


def build_empty(cfg: TrainConfig) -> tuple[PixelVLA, TensorSources] | None:
    """For FSDP from a file: the model with its backbone on meta plus where the backbone's tensors
    are on disk (Parallel.shard_and_load reads each rank's rows). None: this init loads whole (a
    bundle with LoRA adapters, which are merged into the weights at load)."""
    from ..openvla_import import empty_openvla, is_openvla_folder

    assert cfg.init is not None
    if is_openvla_folder(cfg.init):
        return empty_openvla(
            cfg.init,
            Path(cfg.out_dir) / OPENVLA_TOKENIZER_DIR,
            base=load_config(cfg.model) if cfg.model else None,
            seed=cfg.seed,
        )
    return _empty_from_bundle(resolve_init(cfg.init))


def _empty_from_bundle(root: Path) -> tuple[PixelVLA, TensorSources] | None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ..checkpoint import ADAPTER_FILE, BASE_FILE, HEADS_FILE, CheckpointError, read_manifest

    manifest = read_manifest(root, verify=True)
    if ADAPTER_FILE in manifest["files"]:
        return None
    config = PixelVLAConfig.from_json((root / "config.json").read_text())
    if config.tokenizer.kind == "llama":
        config = replace(config, tokenizer=replace(config.tokenizer, path=str(root / "tokenizer")))
    model = PixelVLA(config, empty_backbone=True)
    result = model.load_state_dict(load_file(str(root / HEADS_FILE)), strict=False)
    with safe_open(str(root / BASE_FILE), framework="pt") as f:
        sources = {k: (root / BASE_FILE, k) for k in f.keys()}  # noqa: SIM118 - not a mapping
    left = [k for k in result.missing_keys if k not in sources]
    extra = sorted(set(sources) - set(model.state_dict()))
    if result.unexpected_keys or left or extra:
        raise CheckpointError(
            f"bundle {root} does not fit its config: missing {left[:3]}, "
            f"unexpected {(result.unexpected_keys + extra)[:3]}"
        )
    return model, sources


@torch.no_grad()
def _materialize_lora(model: PixelVLA, seed: int) -> None:
    """LoRA injected into meta layers is meta too: give it real tensors and peft's own init
    (A Kaiming-uniform, B zero), from `seed`, so every rank draws the same adapters."""
    from peft.tuners.lora import LoraLayer

    from ..stages import ADAPTER

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.modules():
            if not isinstance(module, LoraLayer) or ADAPTER not in module.lora_A:
                continue
            for part in (module.lora_A[ADAPTER], module.lora_B[ADAPTER]):
                w = part.weight
                if w.device.type == "meta":
                    empty = torch.empty(w.shape, dtype=w.dtype)
                    part.weight = torch.nn.Parameter(empty, requires_grad=w.requires_grad)
            module.reset_lora_parameters(ADAPTER, True)


def build_model(
    cfg: TrainConfig, device: torch.device, dataset: LocalDataset | None = None
) -> tuple[PixelVLA, bool]:
    """The starting model and whether it came from a file (False: seeded random init, sized for
    ``dataset`` when given)."""
    from ..openvla_import import import_openvla, is_openvla_folder, unnorm_keys

    if cfg.init is not None and is_openvla_folder(cfg.init):
        # OpenVLA straight from its folder: the import builds the backbone empty and streams the
        # shards in; the new modules are initialised from the run's seed. The normaliser comes
        # from the training data, so any of OpenVLA's statistics keys will do here.
        imported = import_openvla(
            cfg.init,
            Path(cfg.out_dir) / OPENVLA_TOKENIZER_DIR,
            base=load_config(cfg.model) if cfg.model else None,
            unnorm_key=unnorm_keys(cfg.init)[0],
            device=device,
            seed=cfg.seed,
        )
        return imported.model, True
    if cfg.init is not None:
        bundle = load_bundle(resolve_init(cfg.init), device=device, merge=True)
        return bundle.model, True
    rng.seed_everything(cfg.seed)
    config = load_config(cfg.model or "tiny")
    if dataset is not None:
        config = sized_for(config, dataset)
    with torch.device(device):
        model = PixelVLA(config)
    if cfg.vision_init is not None:
        from .vision_pretrain import load_tower

        load_tower(model.vision, cfg.vision_init)
    return model, False


def sized_for(config: PixelVLAConfig, dataset: LocalDataset) -> PixelVLAConfig:
    """A fresh model takes its action and state widths from the dataset's metadata (a 6-D SO-101
    joint dataset gets a 6-D action head and a 6-D state token; a configuration without a state
    token, `full`, keeps none)."""
    state_dim = dataset.state_dim if config.state_dim > 0 else 0
    return replace(
        config,
        action=replace(config.action, action_dim=dataset.action_dim),
        state_dim=state_dim,
    )


def check_fits_dataset(config: PixelVLAConfig, dataset: LocalDataset, start: str) -> None:
    """A start checkpoint whose action or state width differs from the dataset's is a typed error
    naming both shapes, before any episode is loaded."""
    problems = []
    if config.action.action_dim != dataset.action_dim:
        problems.append(
            f"actions: the dataset's are {dataset.action_dim}-D, the model's {config.action.action_dim}-D"
        )
    if config.state_dim > 0 and dataset.state_dim != config.state_dim:
        problems.append(
            f"state: the dataset's is {dataset.state_dim}-D, the model takes {config.state_dim}-D"
        )
    if problems:
        raise DatasetError(
            f"the dataset {dataset.root} does not fit the start checkpoint {start}: " + "; ".join(problems)
        )


def action_dim_names(dataset: LocalDataset) -> tuple[str, ...]:
    """Names for the per-dimension metrics: our 7-D end-effector deltas keep the schema's names,
    any other dataset uses its own (info.json), else a0, a1, ..."""
    n = dataset.action_dim
    if n == len(ACTION_DIMS):
        return ACTION_DIMS
    names = dataset.action_names()
    return tuple(names) if names is not None and len(set(names)) == n else tuple(f"a{i}" for i in range(n))


def _trainable(model: PixelVLA, cfg: TrainConfig, from_file: bool) -> list[str]:
    names = apply_stage(model, cfg.stage)
    # (ours) The tiny configuration has no pretrained vision towers to freeze: a fresh base stage
    # without pretrained towers (the stand-in for OpenVLA's pretraining) also trains them. Stages 1
    # and 2, and a base run from pretrained towers (vision_init), freeze them, as the paper does.
    train_vision = cfg.train_vision
    if train_vision is None:
        train_vision = cfg.stage == "base" and not from_file and cfg.vision_init is None
    if train_vision:
        for name, p in model.named_parameters():
            if name.startswith("vision."):
                p.requires_grad_(True)
        names = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    return names


class _Grounding:
    """The base stage's text-to-patch grounding loss (train/grounding.py): its head, the hook that
    reads the LLM's hidden states, and its tensors in the run's checkpoints."""

    def __init__(self, model: PixelVLA, device: torch.device) -> None:
        self.head = GroundingHead(model.config.llm.hidden_size).to(device)
        self.capture = HiddenCapture(model.llm.model)
        self.n_patches = model.config.vision.num_patches
        self.k = model.config.action.base_steps * model.config.action.action_dim

    def loss(self, data: BatchBuilder, sample_ids: list[int], device: torch.device) -> torch.Tensor:
        hidden, mask = self.capture.take()
        # The position that predicts the first action token: it has read the image and the text.
        query = mask.long().sum(1) - self.k - 1
        target, valid = data.grounding(sample_ids)
        logits = self.head(hidden, query, self.n_patches)
        return grounding_loss(logits, target.to(device), valid.to(device))

    def state(self) -> dict[str, torch.Tensor]:
        return {GROUNDING_PREFIX + k: v.detach().cpu() for k, v in self.head.state_dict().items()}

    def load(self, weights: dict[str, torch.Tensor]) -> None:
        if not weights:
            raise CheckpointStateError("the checkpoint has no grounding head; resume with grounding_weight 0")
        self.head.load_state_dict({k[len(GROUNDING_PREFIX) :]: v for k, v in weights.items()})


def _grounding(
    cfg: TrainConfig, model: PixelVLA, device: torch.device, strategy: str, world: int
) -> _Grounding | None:
    if cfg.grounding_weight <= 0:
        return None
    if world > 1 or model.config.head != "tokens" or model.config.action.slot_attention != "causal":
        raise TrainConfigError(
            "grounding_weight is for a single-process base stage (tokens head, causal attention)"
        )
    return _Grounding(model, device)


def _param_groups(model: PixelVLA, cfg: TrainConfig) -> list[dict[str, Any]]:
    lora = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n]
    groups = [{"name": "modules", "params": rest, "lr": cfg.lr}]
    if lora:
        groups.append({"name": "lora", "params": lora, "lr": cfg.lora_lr})
    return groups


class _Cancel:
    """SIGTERM (the server's cancel) finishes the current step, checkpoints, and exits."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> _Cancel:
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, *_: Any) -> None:
        self.requested = True

    def __exit__(self, *_: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True) -> RunResult:
    run_dir = Path(cfg.out_dir)
    config_path = run_dir / CONFIG_FILE
    mgr = CheckpointManager(run_dir, keep=cfg.keep_checkpoints)
    if resume:
        if not config_path.exists():
            raise TrainConfigError(f"cannot resume: {config_path} does not exist")
        cfg = TrainConfig.load(config_path).with_overrides({"halt_after_steps": cfg.halt_after_steps})
    elif mgr.complete_steps():
        raise TrainConfigError(
            f"{run_dir} already holds checkpoints; resume it (--resume) or pick a new folder"
        )
    cfg.validate()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = _device(cfg.device)
    with process_group(device, world):
        main = rank == 0
        if main and not resume:
            atomic.write_text(config_path, cfg.to_json() + "\n")

        metrics = MetricsLog(run_dir, tensorboard=cfg.tensorboard, enabled=main)
        try:
            return _train(cfg, run_dir, mgr, metrics, device, rank, world, resume, progress and main)
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt | SystemExit):
                metrics.event("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            metrics.close()


def _train(
    cfg: TrainConfig,
    run_dir: Path,
    mgr: CheckpointManager,
    metrics: MetricsLog,
    device: torch.device,
    rank: int,
    world: int,
    resume: bool,
    progress: bool,
) -> RunResult:
    main = rank == 0
    get_stage(cfg.stage)  # typed error for an unknown stage before any heavy work
    dataset = open_dataset(cfg.dataset)
    q01, q99 = dataset.action_bounds()
    normalizer = ActionNormalizer(
        tuple(map(float, q01)),
        tuple(map(float, q99)),
        gripper_dims=dataset.gripper_dims(),
        key=dataset.root.name,
    )

    strategy = choose(cfg.parallel, world, model_config_name(cfg))
    empty = build_empty(cfg) if strategy == "fsdp" and cfg.init is not None else None
    sources: TensorSources | None = None
    if empty is not None:
        (model, sources), from_file = empty, True
    else:
        model, from_file = build_model(cfg, device, dataset)
    if from_file:
        check_fits_dataset(model.config, dataset, str(cfg.init))
    dim_names = action_dim_names(dataset)
    if not from_file and model.state_projector is not None:
        low, high = dataset.state_bounds()  # a fresh model scales the state with this data's range
        model.state_projector.set_bounds(torch.from_numpy(low), torch.from_numpy(high))
    trainable = _trainable(model, cfg, from_file)
    if sources is not None:
        _materialize_lora(model, cfg.seed)
    model.train()
    tokenizer = build_tokenizer(model.config.tokenizer)
    data = BatchBuilder(dataset, model.config, tokenizer, normalizer, cfg, progress=progress)
    sampler = ResumableSampler(len(data), seed=cfg.seed, rank=rank, world_size=world)
    trainable_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # Under FSDP with bf16, parameters are all-gathered in bf16 and gradients reduced in fp32.
    par = Parallel(strategy, device, world, bf16=_bf16(cfg, device))
    # Before the optimizer: FSDP replaces the parameters by their shards. From a file under FSDP,
    # each rank reads only its shards (no rank builds or reads the whole model).
    net = par.wrap(model) if sources is None else par.shard_and_load(model, sources)
    grounding = _grounding(cfg, model, device, par.strategy, world)
    groups = _param_groups(model, cfg)
    if grounding is not None:
        groups.append({"name": "grounding", "params": list(grounding.head.parameters()), "lr": cfg.lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: lr_factor(
            s, warmup_steps=cfg.warmup_steps, total_steps=cfg.steps, min_factor=cfg.min_lr_factor
        ),
    )
    # A random-initialised model is saved whole; one loaded from a file saves only what trains.
    saved_names = set(trainable) if from_file else {n for n, _ in model.named_parameters()}

    step = 0
    if resume and mgr.complete_steps():
        state = mgr.load()
        sharded = state.extra.get("parallel") == "fsdp"
        if sharded != (par.strategy == "fsdp"):
            raise CheckpointStateError(
                f"the checkpoint was written {'under' if sharded else 'without'} FSDP; resume it "
                f"{'under' if sharded else 'without'} FSDP (parallel setting, number of processes)"
            )
        weights = dict(state.weights)
        if grounding is not None:
            grounding.load({k: weights.pop(k) for k in list(weights) if k.startswith(GROUNDING_PREFIX)})
        if set(weights) != saved_names:
            raise CheckpointStateError("checkpoint weights do not fit the model (different names)")
        par.load(model, optimizer, weights, state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        sampler.load_state_dict(state.sampler)
        rng.restore(state.rng)
        step = state.step
        metrics.event("resume", step=step, total_steps=cfg.steps)
    else:
        if _bf16(cfg, device) and device.type == "cpu" and not cpu_has_native_bf16():
            log.warning(
                "precision bf16 on a CPU without native bf16 (%s): autocast emulates it and steps "
                "run many times slower than fp32 (precision auto keeps fp32 on CPU)",
                torch.backends.cpu.get_cpu_capability(),
            )
        metrics.event(
            "start",
            step=0,
            total_steps=cfg.steps,
            trainable_params=trainable_params,
            samples=len(data),
            episodes=len(data.episodes),
            studio_annotated_episodes=data.studio_annotated,
            parallel=par.strategy,
            # FSDP: each rank read only its shards of the start weights; the dtype parameters are
            # all-gathered in (MixedPrecisionPolicy).
            sharded_load=sources is not None,
            param_dtype="bfloat16" if par.strategy == "fsdp" and par.bf16 else "float32",
        )

    params = [p for p in model.parameters() if p.requires_grad]

    def checkpoint() -> Path | None:
        full = par.model_state(model)  # collective under FSDP: every rank takes part
        optim_state = par.optimizer_state(model, optimizer)
        if not main:
            return None
        weights: dict[str, torch.Tensor] = {n: t for n, t in full.items() if n in saved_names}
        if grounding is not None:
            weights.update(grounding.state())
        path = mgr.save(
            TrainingState(
                step=step,
                weights=weights,
                optimizer=optim_state,
                scheduler=scheduler.state_dict(),
                sampler=sampler.state_dict(),
                rng=rng.capture(),
                extra={"stage": cfg.stage, "parallel": par.strategy},
            )
        )
        metrics.event("checkpoint", step=step, total_steps=cfg.steps, path=str(path.relative_to(run_dir)))
        return path

    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.stage}", disable=not progress)
    last_loss: float | None = None
    window: list[float] = []
    g_window: list[float] = []
    with _Cancel() as cancel:
        while step < cfg.steps:
            t0 = time.perf_counter()
            epoch = sampler.state.epoch
            # One draw for the whole step, cut into micro-batches: the same examples, in the same
            # order, as one batch of batch_size x grad_accum_steps.
            accum, bs = cfg.grad_accum_steps, cfg.batch_size
            indices = sampler.next_indices(bs * accum)
            optimizer.zero_grad(set_to_none=True)
            t_data, step_loss, g_sum = 0.0, 0.0, 0.0
            errors: list[torch.Tensor] = []
            for i in range(accum):
                t1 = time.perf_counter()
                batch = data.batch(indices[i * bs : (i + 1) * bs], epoch).to(device)
                t_data += time.perf_counter() - t1
                # Gradients are reduced across ranks on the last micro-batch only.
                with par.gradient_sync(net, i == accum - 1):
                    with _autocast(cfg, device):
                        out = net(batch)
                        assert out.loss is not None
                        loss = out.loss
                        if grounding is not None:
                            g = grounding.loss(data, indices[i * bs : (i + 1) * bs], device)
                            g_sum += float(g.detach()) / accum
                            loss = loss + cfg.grounding_weight * g
                    # The mean over micro-batches of equal size is the mean over the whole batch.
                    (loss / accum).backward()
                step_loss += float(out.loss.detach()) / accum
                assert batch.actions is not None
                n = min(out.actions.shape[1], batch.actions.shape[1])
                errors.append((out.actions[:, :n].detach().float() - batch.actions[:, :n].float()).abs())
            # grad_clip 0 is "off": clip_grad_norm_ with max_norm 0 would zero every gradient.
            clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = total_norm(torch.nn.utils.clip_grad_norm_(params, clip))
            g_window.append(g_sum)
            optimizer.step()
            scheduler.step()
            step += 1
            last_loss = step_loss
            window.append(last_loss)
            step_time = time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}")
            if main and (step % cfg.log_every == 0 or step == cfg.steps):
                err = torch.cat(errors)
                per_dim = err.mean(dim=(0, 1)).tolist()
                metrics.train(
                    step=step,
                    total_steps=cfg.steps,
                    epoch=epoch,
                    loss=sum(window) / len(window),
                    l1=float(err.mean()),
                    l1_per_dim=dict(zip(dim_names, per_dim, strict=True)),
                    lr=optimizer.param_groups[0]["lr"],
                    lrs={g["name"]: g["lr"] for g in optimizer.param_groups},
                    grad_norm=grad_norm,
                    samples_per_s=cfg.batch_size * cfg.grad_accum_steps * world / step_time,
                    step_time_s=step_time,
                    data_time_s=t_data,
                    mem_mb=_mem_mb(device),
                    **({"grounding_loss": sum(g_window) / len(g_window)} if grounding is not None else {}),
                )
                window.clear()
                g_window.clear()
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                checkpoint()
            if par.any_rank(cancel.requested):
                if step % cfg.checkpoint_every:
                    checkpoint()
                metrics.event("cancelled", step=step, total_steps=cfg.steps)
                bar.close()
                raise SystemExit(143)
            if cfg.halt_after_steps is not None and step >= cfg.halt_after_steps and step < cfg.steps:
                bar.close()
                return RunResult(run_dir, step, None, last_loss)
    bar.close()

    bundle = None
    final = par.model_state(model) if par.strategy == "fsdp" else None  # collective
    if main:
        rule = get_stage(cfg.stage)
        bundle = save_bundle(
            model,
            run_dir / BUNDLE_DIR,
            normalizer,
            name=f"{model.config.name}-{cfg.stage}",
            stage=cfg.stage,
            lora=LoraSettings() if rule.lora is not None else None,
            extra={"dataset": str(cfg.dataset), "train_steps": step, "seed": cfg.seed},
            state=final,
        )
        if cfg.text_grounder is not None:  # the policy learned with it: it goes with the bundle
            from .text_grounder import attach

            attach(Path(cfg.text_grounder), bundle, targets_as_prompt=True)
        metrics.event("done", step=step, total_steps=cfg.steps, bundle=str(bundle.relative_to(run_dir)))
        (run_dir / "summary.json").write_text(json.dumps({"step": step, "final_loss": last_loss}))
    return RunResult(run_dir, step, bundle, last_loss)
