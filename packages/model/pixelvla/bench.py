"""`python -m pixelvla.bench`: latency per action chunk, printed as JSON.

- tiny on CPU, batch 1, random weights: p50/p95 of one full forward (image -> 8 x 7 actions) with
  a point prompt and one pixel mask, plus the per-stage split.
- when CUDA is available: `full` with random weights in bf16, batch 1, eager and torch.compile'd,
  p50/p95 per chunk and peak memory. Without CUDA that part reports "unavailable".
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


def bench_tiny(iters: int) -> dict[str, Any]:
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
    return {
        **result,
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "stage_p50_ms": {k: round(statistics.median(v), 3) for k, v in stages.items()},
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
        compiled = torch.compile(model.forward, mode=compile_mode, dynamic=False)
        torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            compiled(inputs)
            torch.cuda.synchronize(device)
            warm_s = time.perf_counter() - t0
            out["compiled"] = _time(lambda: compiled(inputs).actions, iters, warmup=3, device=device)
        out["compiled"].update(
            mode=compile_mode,
            compile_s=round(warm_s, 1),
            peak_memory_gib=round(torch.cuda.max_memory_allocated(device) / 2**30, 3),
        )
    except Exception as e:  # report, don't hide: the eager numbers still stand
        out["compiled"] = {"error": f"{type(e).__name__}: {e}"[:500]}
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
    args = parser.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        # Both thread counts: 2 intra-op threads win on an idle box, 1 is far steadier on a busy one.
        "tiny_cpu_batch1": {
            f"threads_{n}": _with_threads(n, lambda: bench_tiny(args.iters)) for n in _thread_counts()
        },
        "full_cuda_batch1": {"cuda": "skipped"}
        if args.skip_cuda
        else bench_full_cuda(args.iters, args.compile_mode),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
