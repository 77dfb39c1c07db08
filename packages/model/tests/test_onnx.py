"""ONNX export of the prompt encoder: parity with PyTorch, static I/O, the committed public file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from pixelvla import rle
from pixelvla.export_onnx import (
    DEFAULT_OUT,
    INPUT_NAMES,
    META_FILE,
    ONNX_FILE,
    export_bytes,
    export_prompt_encoder,
)
from pixelvla.prompt_encoder import encoder_hash, features_to_tensors, make_prompt_encoder
from pixelvla.prompts import Box, Line, Mask, Point, featurize


def _features() -> list[dict[str, np.ndarray]]:
    m = np.zeros((50, 70), bool)
    m[10:40, 5:30] = True
    return [
        featurize([]),
        featurize([Point(0.3, 0.6), Box(0.1, 0.2, 0.9, 0.8), Point(0.9, 0.9, positive=False)]),
        featurize([Line([(0.0, 0.0), (0.4, 1.0), (1.0, 0.5)]), Mask(dict(rle.encode(m)))]),
    ]


def _session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_onnx_matches_pytorch_for_trained_like_weights(tmp_path: Path) -> None:
    module = make_prompt_encoder(seed=3)
    with torch.no_grad():  # move away from init so parity is not only checked at one point
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    path = export_prompt_encoder(module, tmp_path)
    sess = _session(path.read_bytes())
    for feats in _features():
        with torch.no_grad():
            want = module(**features_to_tensors(feats)).numpy()
        got = sess.run(None, {k: v[None] for k, v in feats.items()})[0]
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
        assert not got[0, ~feats["valid"]].any()


def test_graph_is_static_with_the_contract_names(tmp_path: Path) -> None:
    model = onnx.load_from_string(export_bytes(make_prompt_encoder(seed=0)))
    assert model.opset_import[0].version >= 17
    assert [i.name for i in model.graph.input] == list(INPUT_NAMES)
    assert [o.name for o in model.graph.output] == ["tokens"]
    for vi in [*model.graph.input, *model.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        assert all(d.HasField("dim_value") for d in dims), f"{vi.name} has a symbolic dim"
    out_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == [1, 16, 256]


def test_export_is_deterministic_and_records_hashes(tmp_path: Path) -> None:
    a = export_prompt_encoder(make_prompt_encoder(seed=0), tmp_path / "a")
    b = export_prompt_encoder(make_prompt_encoder(seed=0), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    meta = json.loads((tmp_path / "a" / META_FILE).read_text())
    assert meta["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert meta["encoder_hash"] == encoder_hash(make_prompt_encoder(seed=0))
    assert meta["inputs"]["masks"]["shape"] == [1, 2, 64, 64]
    assert meta["inputs"]["valid"]["dtype"] == "bool"
    assert meta["outputs"]["tokens"]["shape"] == [1, 16, 256]
    assert len(a.read_bytes()) < 2_000_000


def test_committed_public_model_is_consistent() -> None:
    onnx_path, meta_path = DEFAULT_OUT / ONNX_FILE, DEFAULT_OUT / META_FILE
    data = onnx_path.read_bytes()
    meta = json.loads(meta_path.read_text())
    assert meta["sha256"] == hashlib.sha256(data).hexdigest(), "json does not describe the .onnx"
    props = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
    assert props["encoder_hash"] == meta["encoder_hash"]
    seeded = make_prompt_encoder(seed=0)
    if meta["encoder_hash"] == encoder_hash(seeded):
        # Still the untrained default: it must be exactly what the exporter produces today.
        assert data == export_bytes(seeded), "re-run: python -m pixelvla.export_onnx"
    sess = _session(data)
    out = sess.run(None, {k: v[None] for k, v in _features()[1].items()})[0]
    assert out.shape == (1, 16, 256) and np.isfinite(out).all()


def test_bad_feeds_are_rejected_by_the_runtime() -> None:
    sess = _session(export_bytes(make_prompt_encoder(seed=0)))
    feeds = {k: v[None] for k, v in _features()[0].items()}
    with pytest.raises(Exception, match=r"(?i)type|invalid"):
        sess.run(None, dict(feeds, types=feeds["types"].astype(np.int64)))
    with pytest.raises(Exception, match=r"(?i)dimension|shape|invalid"):
        sess.run(None, dict(feeds, coords=np.zeros((1, 15, 2), np.float32)))


def test_integer_inputs_feed_only_gathers() -> None:
    # ORT's WebGPU EP has no int64 kernels; a graph that cast the int32 inputs to int64 for
    # comparisons returned wrong embedding rows there. Integer inputs must go straight to Gathers.
    model = onnx.load_from_string(export_bytes(make_prompt_encoder(seed=0)))
    for node in model.graph.node:
        for name in node.input:
            if name in ("types", "index", "mask_slot"):
                assert node.op_type == "Gather", f"{name} feeds a {node.op_type}"
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "GatherElements"}


def test_export_accepts_a_bfloat16_module(tmp_path: Path) -> None:
    # Training may hand over its encoder in bf16; the export is float32 and its hash says so.
    module = make_prompt_encoder(seed=0)
    path = export_prompt_encoder(module.to(torch.bfloat16), tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["encoder_hash"] == encoder_hash(module.to(torch.float32))
    out = _session(path.read_bytes()).run(None, {k: v[None] for k, v in _features()[1].items()})[0]
    assert np.isfinite(out).all()
