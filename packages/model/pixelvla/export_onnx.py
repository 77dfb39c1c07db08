"""Export the browser half of the prompt encoder to ONNX (static shapes, batch 1).

    .venv/bin/python -m pixelvla.export_onnx [--out public/models] [--seed 0]

writes ``prompt_encoder.onnx`` and ``prompt_encoder.json`` ({sha256, encoder_hash, opset, inputs,
outputs}). With no checkpoint it exports the seeded random encoder the studio runs before a
trained model exists; training calls :func:`export_prompt_encoder` with the trained module.
The export is deterministic: the same weights give the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Final

import onnx
import torch

from pixelvla import prompts as P
from pixelvla.prompt_encoder import PromptEncoder, encoder_hash, make_prompt_encoder

OPSET: Final = 17
INPUT_NAMES: Final = ("coords", "types", "index", "mask_slot", "masks", "valid")
OUTPUT_NAME: Final = "tokens"
ONNX_FILE: Final = "prompt_encoder.onnx"
META_FILE: Final = "prompt_encoder.json"
DEFAULT_OUT: Final = Path(__file__).resolve().parents[3] / "public" / "models"


def example_inputs(module: PromptEncoder) -> tuple[torch.Tensor, ...]:
    cfg = module.config
    t, m, s = cfg.max_tokens, cfg.max_masks, cfg.mask_size
    types = torch.zeros(1, t, dtype=torch.int32)
    types[0, 0] = P.TYPE_NONE
    valid = torch.zeros(1, t, dtype=torch.bool)
    valid[0, 0] = True
    return (
        torch.zeros(1, t, 2),
        types,
        torch.zeros(1, t, dtype=torch.int32),
        torch.zeros(1, t, dtype=torch.int32),
        torch.zeros(1, m, s, s),
        valid,
    )


def io_spec(module: PromptEncoder) -> dict[str, Any]:
    ex = example_inputs(module)
    dtypes = {torch.float32: "float32", torch.int32: "int32", torch.bool: "bool"}
    cfg = module.config
    return {
        "inputs": {
            n: {"shape": list(x.shape), "dtype": dtypes[x.dtype]}
            for n, x in zip(INPUT_NAMES, ex, strict=True)
        },
        "outputs": {OUTPUT_NAME: {"shape": [1, cfg.max_tokens, cfg.dim], "dtype": "float32"}},
    }


def cpu_float32_copy(module: PromptEncoder) -> PromptEncoder:
    """An eval-mode float32 copy on the CPU: what the browser runs, whatever the caller trained in."""
    return copy.deepcopy(module).to(device="cpu", dtype=torch.float32).eval()


def export_bytes(module: PromptEncoder) -> bytes:
    """The ONNX model as bytes, with the encoder hash stored in its metadata."""
    module = cpu_float32_copy(module)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated but still shipped; it needs no onnxscript and
        # gives a small static graph. Its deprecation warning is noise for our CLI.
        warnings.simplefilter("ignore", DeprecationWarning)
        path = Path(tmp) / ONNX_FILE
        torch.onnx.export(
            module,
            example_inputs(module),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
        model = onnx.load(str(path))
    model.producer_name = "pixelvla"
    model.producer_version = "1"  # not torch's version: keeps bytes stable across torch upgrades
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "encoder_hash", encoder_hash(module)
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these files are served and committed
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_prompt_encoder(module: PromptEncoder, out_dir: str | Path) -> Path:
    """Write ``prompt_encoder.onnx`` and its ``prompt_encoder.json`` into ``out_dir``."""
    out = Path(out_dir)
    module = cpu_float32_copy(module)  # the hash then describes exactly the exported weights
    data = export_bytes(module)
    meta = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "encoder_hash": encoder_hash(module),
        "opset": OPSET,
        "bytes": len(data),
        **io_spec(module),
    }
    _atomic_write(out / ONNX_FILE, data)
    _atomic_write(out / META_FILE, (json.dumps(meta, indent=2) + "\n").encode())
    return out / ONNX_FILE


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random (untrained) encoder")
    args = ap.parse_args(argv)
    path = export_prompt_encoder(make_prompt_encoder(seed=args.seed), args.out)
    print(json.dumps({"onnx": str(path), **json.loads((args.out / META_FILE).read_text())}))


if __name__ == "__main__":
    main()
