"""Data parallelism for the training loop under `torchrun`: DDP (every rank holds the whole model) or
FSDP (PyTorch's per-parameter `fully_shard`: each rank holds 1/world of every parameter, gradient and
optimizer state, which is what lets the `full` configuration's 7B backbone train on 80 GB cards).

The loop talks to one `Parallel` object and never to the wrapper: wrap the model, then read the whole
weights / optimizer state for a checkpoint (collective under FSDP: every rank must call it; rank 0 gets
the tensors) and load them back on resume. Checkpoints record the strategy; a run resumes only under
the strategy that wrote it (the optimizer state is keyed differently).

Starting a run from a file under FSDP (`shard_and_load`), no rank ever holds the whole model: the
model is built with its backbone on the meta device (`PixelVLA(empty_backbone=True)`; the new
modules, ~3% of `full`, are real), sharded while still empty, and then each rank materialises only
its own shards and reads only its rows of every tensor from the safetensors files (memory-mapped
slices). Before, every rank built the fp32 model (31 GB for `full`) and read the whole checkpoint.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import nn

from .config import ParallelSetting

Strategy = Literal["none", "ddp", "fsdp"]
# Where a parameter's values are on disk: our name -> (safetensors file, the tensor's key in it).
TensorSources = Mapping[str, tuple[Path, str]]


def choose(setting: ParallelSetting, world: int, model_config: str) -> Strategy:
    """`auto`: FSDP for the `full` configuration, DDP otherwise; nothing with one process."""
    if world <= 1:
        return "none"
    if setting == "auto":
        return "fsdp" if model_config == "full" else "ddp"
    return setting


def _shard_units(model: nn.Module) -> list[nn.Module]:
    """The repeated blocks FSDP gathers one at a time: the LLM's decoder layers and the vision towers'
    transformer blocks (found by class name, so peft's wrappers and timm's towers need no imports)."""
    names = {"LlamaDecoderLayer", "Block"}
    return [m for m in model.modules() if type(m).__name__ in names]


# The device meshes FSDP runs made in this process (see `process_group`).
_meshes: list[Any] = []


@contextlib.contextmanager
def process_group(device: torch.device, world: int) -> Iterator[None]:
    """The run's process group under torchrun (gloo on CPU, NCCL on CUDA), destroyed for real on the
    way out. `destroy_process_group` alone drops only torch's own references, while FSDP's
    parameter groups hold the group in reference cycles (so may a wrapper such as DDP), and a
    device mesh holds it in `_pg_registry` for as long as DTensor's sharding caches hold the mesh
    (the whole process).
    A group that outlives Python's teardown aborts it: gloo's threads go after the interpreter,
    "terminate called without an active exception", SIGABRT, and torchrun kills the other rank, so
    a finished run fails. Measured: with only `destroy_process_group`, the worker still held 3 gloo
    sockets when `train` returned; with this, none."""
    if world <= 1:
        yield
        return
    import torch.distributed as dist

    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        yield
    except BaseException as exc:
        # A failed run's traceback holds its frames, and they the model: let go of their locals
        # (the traceback still prints) so the group goes here too.
        traceback.clear_frames(exc.__traceback__)
        raise
    finally:
        gc.collect()  # the run's modules, wrappers and optimizer, and the group references in them
        for mesh in _meshes:
            registry = getattr(mesh, "_pg_registry", None)
            if isinstance(registry, dict):
                registry.clear()
        _meshes.clear()
        dist.destroy_process_group()
        gc.collect()


class Parallel:
    def __init__(self, strategy: Strategy, device: torch.device, world: int, *, bf16: bool = False) -> None:
        """bf16: the run computes in bf16 (autocast); FSDP then all-gathers the parameters in bf16
        (half the traffic and the unsharded memory of fp32) and reduces gradients in fp32, while
        the sharded master weights and the optimizer state stay fp32."""
        self.strategy = strategy
        self.device = device
        self.world = world
        self.bf16 = bf16

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to call in the training step. Build the optimizer after this: FSDP replaces
        the parameters by sharded ones."""
        if self.strategy == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            return DistributedDataParallel(model, find_unused_parameters=True)
        if self.strategy == "fsdp":
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            mesh = init_device_mesh(self.device.type, (self.world,))
            _meshes.append(mesh)
            mp = self.mixed_precision()
            for unit in _shard_units(model):
                fully_shard(unit, mesh=mesh, mp_policy=mp)
            fully_shard(model, mesh=mesh, mp_policy=mp)
        return model

    @torch.no_grad()
    def shard_and_load(self, model: nn.Module, sources: TensorSources) -> nn.Module:
        """FSDP from files without a whole copy anywhere: `model` holds meta parameters (to come
        from `sources`) and real ones (the new modules, initialised, and any that `sources`
        overrides); every rank ends up with its shards only. Returns the module to call (as `wrap`)."""
        if self.strategy != "fsdp":
            raise ValueError("shard_and_load is FSDP's; other strategies load the whole model")
        import torch.distributed as dist
        from safetensors import safe_open

        # Keep the real tensors (new modules, buffers such as rotary frequencies) before every
        # tensor becomes meta; sharding an empty model costs no memory.
        real = {
            n: t.detach().clone()
            for n, t in itertools.chain(model.named_parameters(), model.named_buffers())
            if t.device.type != "meta"
        }
        model.to_empty(device="meta")
        self.wrap(model)
        model.to_empty(device=self.device)
        rank = dist.get_rank()
        with contextlib.ExitStack() as stack:
            files: dict[Path, Any] = {}

            def read(name: str, start: int, rows: int, sharded: bool) -> torch.Tensor:
                plain = name.replace(".base_layer.", ".")  # LoRA-wrapped layers keep the plain names on disk
                if plain in sources:
                    path, key = sources[plain]
                    if path not in files:
                        files[path] = stack.enter_context(safe_open(str(path), framework="pt"))
                    view = files[path].get_slice(key)
                    return view[start : start + rows] if sharded else view[:]
                if name in real:
                    return real[name][start : start + rows] if sharded else real[name]
                raise KeyError(f"no values for {name}: neither in the files nor initialised")

            for name, param in model.named_parameters():
                sharded = hasattr(param, "to_local") and param.dim() > 0
                local = cast(Any, param).to_local() if hasattr(param, "to_local") else param
                rows = local.shape[0] if sharded else 0
                if sharded and rows == 0:
                    continue  # fewer rows than ranks: this rank's shard is empty
                # fully_shard splits dim 0 like torch.chunk: ceil(n / world) rows per rank.
                start = rank * math.ceil(param.shape[0] / self.world) if sharded else 0
                value = read(name, start, rows, sharded)
                if tuple(value.shape) != tuple(local.shape):
                    raise ValueError(
                        f"{name}: {tuple(value.shape)} on disk for a shard of {tuple(local.shape)}"
                    )
                local.copy_(value.to(local.dtype))
            for name, buf in model.named_buffers():
                buf.copy_(read(name, 0, 0, False).to(buf.dtype))
        return model

    def mixed_precision(self) -> Any:
        """FSDP's MixedPrecisionPolicy: bf16 parameters and fp32 gradient reduction under bf16,
        everything fp32 otherwise."""
        from torch.distributed.fsdp import MixedPrecisionPolicy

        if not self.bf16:
            return MixedPrecisionPolicy()
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)

    @contextlib.contextmanager
    def gradient_sync(self, net: nn.Module, sync: bool) -> Iterator[None]:
        """Around one micro-batch's forward and backward: with sync=False the gradients only
        accumulate locally (gradient accumulation); the last micro-batch reduces them across ranks."""
        if sync or self.strategy == "none":
            yield
        elif self.strategy == "ddp":
            with cast(Any, net).no_sync():
                yield
        else:
            cast(Any, net).set_requires_gradient_sync(False)
            try:
                yield
            finally:
                cast(Any, net).set_requires_gradient_sync(True)

    def _options(self, **kw: Any) -> Any:
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, **kw)

    def model_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Every tensor of the model, whole (under FSDP: collective, and only rank 0's dict is filled)."""
        if self.strategy != "fsdp":
            return dict(model.state_dict())
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        state = get_model_state_dict(model, options=self._options(cpu_offload=True))
        return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        if self.strategy != "fsdp":
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return dict(get_optimizer_state_dict(model, optimizer, options=self._options(cpu_offload=True)))

    def load(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        weights: dict[str, torch.Tensor],
        optim_state: dict[str, Any],
    ) -> None:
        """Checkpointed weights (a subset of the model's parameters: the caller checks the names)
        and optimizer state back in."""
        if self.strategy != "fsdp":
            model.load_state_dict(weights, strict=False)
            optimizer.load_state_dict(optim_state)
            return
        from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

        set_model_state_dict(model, cast(dict[str, Any], weights), options=self._options(strict=False))
        # strict=False: a parameter that never got a gradient (an unused tower block) has no
        # AdamW state yet, exactly as in the checkpoint.
        set_optimizer_state_dict(model, optimizer, optim_state, options=self._options(strict=False))

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when it is true on one (a cancel that reached only some ranks must
        stop all of them at the same step, or the next collective hangs)."""
        if self.strategy == "none":
            return flag
        import torch.distributed as dist

        t = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def total_norm(norm: torch.Tensor) -> float:
    """clip_grad_norm_'s result as a float (a DTensor under FSDP)."""
    full = getattr(norm, "full_tensor", None)
    return float(full() if full is not None else norm)
