"""`python -m pixelvla.bench`: latency per action chunk, printed as JSON.

- tiny on CPU, batch 1, random weights: p50/p95 of one predict (image -> 8 x 7 actions) with a
  point prompt and one pixel mask, the per-stage split, the same chunk through ONNX Runtime
  (`pixelvla.fast_tiny`: the slot graph exported to ONNX) and torch.compile'd for serving
  (`PixelVLA.compile_for_serving`): p50/p95 of each and their ratios to eager, one run.
- when CUDA is available: `full` with random weights in bf16, batch 1, eager and torch.compile'd,
  p50/p95 per chunk and peak memory. Without CUDA that part reports "unavailable".
- `--full`: only the GPU suite for `full`: the batch-1 chunk latency (eager vs compiled), and for
  stage 1 and stage 2 at batch 8 and 16, with and without activation checkpointing, the peak memory
  of a training step (fp32 weights, bf16 autocast, AdamW) and tokens/s. Without CUDA it prints
  "needs CUDA" and exits 0; nothing is estimated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from pixelvla import prompts as P
from pixelvla.config import PixelVLAConfig, full_config, tiny_config
from pixelvla.model import ModelInputs, PixelVLA

INSTRUCTION = "pick up the red cube and place it in the bowl"


def example_inputs(config: PixelVLAConfig, device: torch.device, dtype: torch.dtype) -> ModelInputs:
    """Batch-1 inputs the size of a real request: template text, one point prompt, one mask."""
    size, grid = config.vision.image_size, config.vision.grid
    text_len = len(config.prompt_template.format(task=INSTRUCTION))
    if config.tokenizer.kind == "llama":
        text_len = text_len // 4  # roughly 4 characters per SentencePiece token
    gen = torch.Generator().manual_seed(0)
    feats = P.featurize([P.Point(0.4, 0.6)])
    mask = np.zeros((224, 224), bool)
    mask[80:140, 90:150] = True
    pixel, pixel_valid = P.pixel_mask_grid([mask], grid=grid, max_masks=config.pixel.max_masks)
    return ModelInputs(
        pixel_values=torch.rand(1, 3, size, size, generator=gen).to(device, dtype),
        input_ids=torch.randint(3, 200, (1, text_len), generator=gen).to(device),
        text_mask=torch.ones(1, text_len, dtype=torch.bool, device=device),
        pixel_mask=torch.from_numpy(pixel)[None].to(device, dtype),
        pixel_mask_valid=torch.from_numpy(pixel_valid)[None].to(device),
        prompt_features={k: torch.from_numpy(v)[None].to(device) for k, v in feats.items()},
    )


def _time(fn: Callable[[], Any], iters: int, warmup: int, device: torch.device) -> dict[str, float]:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 3),
        "iters": iters,
    }


def bench_tiny(
    iters: int, compile_mode: str | None = None, compiled: bool = True, onnx: bool = True
) -> dict[str, Any]:
    torch.manual_seed(0)
    model = PixelVLA(tiny_config()).eval()
    device = torch.device("cpu")
    inputs = example_inputs(model.config, device, torch.float32)
    stages: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def timer(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        stages.setdefault(name, []).append((time.perf_counter() - t0) * 1000.0)

    with torch.inference_mode():
        result = _time(lambda: model.predict(inputs), iters, warmup=3, device=device)
        for _ in range(10):
            model.predict(inputs, timer)
        eager = model.predict(inputs)
    out: dict[str, Any] = {
        **result,
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "stage_p50_ms": {k: round(statistics.median(v), 3) for k, v in stages.items()},
    }
    if onnx:
        out["onnx"] = _onnx_tiny(model, inputs, eager, iters, result["p50_ms"])
    if compiled:
        out["compiled"] = _compiled_tiny(model, inputs, eager, iters, compile_mode, result["p50_ms"])
    return out


def _onnx_tiny(
    model: PixelVLA, inputs: ModelInputs, eager: torch.Tensor, iters: int, eager_p50: float
) -> dict[str, Any]:
    """The same chunk through pixelvla.fast_tiny (slot graph exported to ONNX, ONNX Runtime CPU, the
    same thread count), fp32 and int8 (backend "onnx-int8"): export + first run time, p50/p95, the
    eager/ONNX p50 ratio, the three again interleaved request by request, and how far each one's
    actions are from the eager ones."""
    from pixelvla.fast_tiny import OnnxChunk

    try:
        fast, int8 = OnnxChunk(model), OnnxChunk(model, int8=True)
        t0 = time.perf_counter()
        first = fast.predict(inputs)
        export_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        first_int8 = int8.predict(inputs)
        quantize_s = time.perf_counter() - t0
        timed = _time(lambda: fast.predict(inputs), iters, warmup=3, device=torch.device("cpu"))
        timed_int8 = _time(lambda: int8.predict(inputs), iters, warmup=3, device=torch.device("cpu"))
        # Eager, ONNX and int8 alternating, request by request: a shared box's load falls on all alike.
        pairs: dict[str, list[float]] = {"eager": [], "onnx": [], "int8": []}
        with torch.inference_mode():
            for _ in range(iters):
                for name, fn in (
                    ("eager", lambda: model.predict(inputs)),
                    ("onnx", lambda: fast.predict(inputs)),
                    ("int8", lambda: int8.predict(inputs)),
                ):
                    t1 = time.perf_counter()
                    fn()
                    pairs[name].append((time.perf_counter() - t1) * 1000.0)
    except Exception as e:  # report, don't hide: the eager numbers still stand
        return {"error": f"{type(e).__name__}: {e}"[:500]}
    alt = {k: statistics.median(v) for k, v in pairs.items()}
    return {
        **timed,
        "runtime": "onnxruntime CPU, slot graph (pixelvla.fast_tiny)",
        "export_s": round(export_s, 2),
        "eager_over_onnx_p50": round(eager_p50 / timed["p50_ms"], 3),
        "max_abs_diff_vs_eager": float((first - eager).abs().max()),
        "int8": {
            **timed_int8,
            "runtime": "the same graph, MatMul/Gemm weights int8 (backend onnx-int8)",
            "export_and_quantize_s": round(quantize_s, 2),
            "eager_over_int8_p50": round(eager_p50 / timed_int8["p50_ms"], 3),
            "max_abs_diff_vs_eager": float((first_int8 - eager).abs().max()),
            "mean_abs_diff_vs_eager": float((first_int8 - eager).abs().mean()),
        },
        "interleaved": {
            "eager_p50_ms": round(alt["eager"], 3),
            "onnx_p50_ms": round(alt["onnx"], 3),
            "int8_p50_ms": round(alt["int8"], 3),
            "eager_over_onnx_p50": round(alt["eager"] / alt["onnx"], 3),
            "eager_over_int8_p50": round(alt["eager"] / alt["int8"], 3),
        },
    }


def _compiled_tiny(
    model: PixelVLA,
    inputs: ModelInputs,
    eager: torch.Tensor,
    iters: int,
    mode: str | None,
    eager_p50: float,
) -> dict[str, Any]:
    """The same predict through torch.compile (the serving flag): compile time, p50/p95, the
    eager/compiled p50 ratio, and how far the compiled actions are from the eager ones."""
    try:
        model.compile_for_serving(mode)
        t0 = time.perf_counter()
        with torch.inference_mode():
            first = model.predict(inputs)
            compile_s = time.perf_counter() - t0
            timed = _time(lambda: model.predict(inputs), iters, warmup=3, device=torch.device("cpu"))
    except Exception as e:  # report, don't hide: the eager numbers still stand
        return {"error": f"{type(e).__name__}: {e}"[:500]}
    finally:
        model._compiled = None
    return {
        **timed,
        "mode": mode or "default",
        "compile_s": round(compile_s, 1),
        "eager_over_compiled_p50": round(eager_p50 / timed["p50_ms"], 3),
        "max_abs_diff_vs_eager": float((first - eager).abs().max()),
    }


def bench_full_cuda(iters: int, compile_mode: str) -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {"cuda": "unavailable"}
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with device:
            model = PixelVLA(full_config()).eval()
    finally:
        torch.set_default_dtype(old)
    inputs = example_inputs(model.config, device, torch.bfloat16)
    out: dict[str, Any] = {"cuda": torch.cuda.get_device_name(device), "dtype": "bfloat16"}
    torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode():
        out["eager"] = _time(lambda: model.predict(inputs), iters, warmup=3, device=device)
    out["eager"]["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    try:
        model.compile_for_serving(compile_mode)  # what Policy(compile=True) serves
        torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.predict(inputs)
            torch.cuda.synchronize(device)
            warm_s = time.perf_counter() - t0
            out["compiled"] = _time(lambda: model.predict(inputs), iters, warmup=3, device=device)
        out["compiled"].update(
            mode=compile_mode,
            compile_s=round(warm_s, 1),
            peak_memory_gib=round(torch.cuda.max_memory_allocated(device) / 2**30, 3),
            eager_over_compiled_p50=round(out["eager"]["p50_ms"] / out["compiled"]["p50_ms"], 3),
        )
    except Exception as e:  # report, don't hide: the eager numbers still stand
        out["compiled"] = {"error": f"{type(e).__name__}: {e}"[:500]}
    return out


def _batch(config: PixelVLAConfig, b: int, device: torch.device, prompted: bool) -> ModelInputs:
    """Batch-b training inputs (the example request repeated, with target actions)."""
    one = example_inputs(config, device, torch.float32)

    def rep(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.expand(b, *t.shape[1:]).contiguous()

    gen = torch.Generator().manual_seed(1)
    return ModelInputs(
        pixel_values=rep(one.pixel_values),  # type: ignore[arg-type]
        input_ids=rep(one.input_ids),  # type: ignore[arg-type]
        text_mask=rep(one.text_mask),  # type: ignore[arg-type]
        pixel_mask=rep(one.pixel_mask) if prompted else None,
        pixel_mask_valid=rep(one.pixel_mask_valid) if prompted else None,
        prompt_features={k: rep(v) for k, v in (one.prompt_features or {}).items()} if prompted else None,  # type: ignore[misc]
        actions=(torch.rand(b, config.action.chunk_size, config.action.action_dim, generator=gen) * 2 - 1).to(
            device
        ),
        state=torch.zeros(b, config.state_dim, device=device) if config.state_dim > 0 else None,
    )


def bench_train(
    config: PixelVLAConfig,
    device: torch.device,
    *,
    stages: tuple[str, ...] = ("stage1", "stage2"),
    batches: tuple[int, ...] = (8, 16),
    checkpointing: tuple[bool, ...] = (False, True),
    steps: int = 3,
) -> list[dict[str, Any]]:
    """Peak memory and throughput of a training step (forward, backward, AdamW; fp32 weights, bf16
    autocast on CUDA) per stage x batch x activation checkpointing. One model, random weights;
    stage 2 adds LoRA to it. A configuration that runs out of memory is reported as such."""
    from pixelvla.stages import apply_stage

    torch.manual_seed(0)
    with device:
        model = PixelVLA(config)
    rows: list[dict[str, Any]] = []
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    for stage in stages:
        apply_stage(model, stage)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        with torch.no_grad():
            tokens = int(
                model._sequence(
                    _batch(model.config, 1, device, stage == "stage2"), lambda _: contextlib.nullcontext()
                )[1].sum()
            )
        for b in batches:
            batch = _batch(model.config, b, device, stage == "stage2")
            for ckpt in checkpointing:
                model.set_activation_checkpointing(ckpt)
                optimizer = torch.optim.AdamW(params, lr=1e-5)
                row: dict[str, Any] = {"stage": stage, "batch": b, "activation_checkpointing": ckpt}
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                try:
                    times = []
                    for _ in range(steps):
                        t0 = time.perf_counter()
                        with autocast:
                            loss = model(batch).loss
                        assert loss is not None
                        loss.backward()
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
                        if device.type == "cuda":
                            torch.cuda.synchronize(device)
                        times.append(time.perf_counter() - t0)
                    step_s = statistics.median(times[1:] if len(times) > 1 else times)  # first: warm-up
                    row.update(
                        step_s=round(step_s, 4),
                        tokens_per_example=tokens,
                        tokens_per_s=round(b * tokens / step_s, 1),
                        peak_memory_gib=round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
                        if device.type == "cuda"
                        else None,
                    )
                except torch.OutOfMemoryError as e:
                    row["error"] = f"out of memory: {str(e)[:200]}"
                finally:
                    optimizer.zero_grad(set_to_none=True)
                    del optimizer
                rows.append(row)
        model.set_activation_checkpointing(model.config.llm.activation_checkpointing)
    return rows


def bench_full_suite(iters: int, compile_mode: str) -> dict[str, Any]:
    """`--full`: the GPU numbers for the paper's model; nothing without CUDA."""
    if not torch.cuda.is_available():
        return {"cuda": "needs CUDA: no GPU is visible to torch here, nothing was measured"}
    out = {"chunk_batch1": bench_full_cuda(iters, compile_mode)}
    torch.cuda.empty_cache()
    out["train"] = bench_train(full_config(), torch.device("cuda"))  # type: ignore[assignment]
    return out


def _thread_counts() -> list[int]:
    return sorted({1, torch.get_num_threads()})


def _with_threads(n: int, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--compile-mode", default="max-autotune-no-cudagraphs")
    parser.add_argument("--skip-cuda", action="store_true")
    parser.add_argument("--full", action="store_true", help="only the full model's GPU suite (needs CUDA)")
    parser.add_argument("--no-compile", action="store_true", help="tiny: no torch.compile run")
    parser.add_argument("--no-onnx", action="store_true", help="tiny: no ONNX Runtime run")
    parser.add_argument(
        "--tiny-compile-mode", default=None, help="tiny's torch.compile mode (default: default)"
    )
    args = parser.parse_args()
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__}
    if args.full:
        print(
            json.dumps(
                {"machine": machine, "full": bench_full_suite(args.iters, args.compile_mode)}, indent=2
            )
        )
        return
    result = {
        "machine": machine,
        # Both thread counts: 2 intra-op threads win on an idle box, 1 is far steadier on a busy one.
        "tiny_cpu_batch1": {
            f"threads_{n}": _with_threads(
                n,
                lambda: bench_tiny(
                    args.iters, args.tiny_compile_mode, compiled=not args.no_compile, onnx=not args.no_onnx
                ),
            )
            for n in _thread_counts()
        },
        "full_cuda_batch1": {"cuda": "skipped"}
        if args.skip_cuda
        else bench_full_cuda(args.iters, args.compile_mode),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
