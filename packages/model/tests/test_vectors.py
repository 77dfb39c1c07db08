"""The committed cross-language vectors are current, and PyTorch = onnxruntime on them."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from pixelvla import rle, wire
from pixelvla.errors import PixelVLAError
from pixelvla.prompts import FEATURE_SPEC, featurize, prompts_from_json
from pixelvla.testvectors import DEFAULT_OUT, build

TESTDATA = DEFAULT_OUT


def _load(name: str) -> Any:
    return json.loads((TESTDATA / name).read_text())


def _array(d: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.dtype(d["dtype"])).reshape(d["shape"])


@pytest.fixture(scope="module")
def fresh() -> dict[str, bytes]:
    return build()


@pytest.mark.parametrize(
    "name", ["featurize.json", "prompt_errors.json", "rle.json", "wire.json", "prompt_encoder.onnx"]
)
def test_committed_vectors_are_current(fresh: dict[str, bytes], name: str) -> None:
    committed = (Path(TESTDATA) / name).read_bytes()
    stale = f"testdata/{name} is stale: run `.venv/bin/python -m pixelvla.testvectors`"
    if name.endswith(".json"):  # prettier owns the layout, so compare values
        assert json.loads(committed) == json.loads(fresh[name]), stale
    else:
        assert committed == fresh[name], stale


def test_featurize_vectors_and_onnx_parity() -> None:
    sess = ort.InferenceSession(str(TESTDATA / "prompt_encoder.onnx"), providers=["CPUExecutionProvider"])
    cases = _load("featurize.json")["cases"]
    assert len(cases) >= 10
    for case in cases:
        feats = featurize(prompts_from_json(case["prompts"]))
        for key in FEATURE_SPEC:
            want = _array(case["features"][key])
            got = feats[key][: len(want)] if key == "masks" else feats[key]
            np.testing.assert_array_equal(got, want, err_msg=f"{case['name']}:{key}")
        assert not feats["masks"][len(_array(case["features"]["masks"])) :].any()
        if case["tokens"] is None:  # random geometry cases pin featurisation only
            continue
        tokens = sess.run(None, {k: v[None] for k, v in feats.items()})[0][0]
        want_tokens = _array(case["tokens"])
        np.testing.assert_allclose(tokens[: len(want_tokens)], want_tokens, atol=1e-4, rtol=0)
        assert not tokens[len(want_tokens) :].any()


def test_error_vectors() -> None:
    for case in _load("prompt_errors.json")["cases"]:
        with pytest.raises(PixelVLAError) as info:
            featurize(prompts_from_json(case["prompts"]))
        assert info.value.code == case["code"], case["name"]


def test_rle_vectors() -> None:
    for case in _load("rle.json")["cases"]:
        r = {"size": case["size"], "counts": case["counts"]}
        assert rle.area(r) == case["area"]
        assert rle.string_to_counts(case["counts"]) == case["counts_list"]
        if case["mask"] is not None:
            m = _array(case["mask"]).astype(bool)
            assert rle.encode(m)["counts"] == case["counts"]
            np.testing.assert_array_equal(rle.decode(r), m)


def test_wire_vectors_decode() -> None:
    for case in _load("wire.json")["cases"]:
        msg = wire.unpackb(base64.b64decode(case["msgpack"]))
        assert set(msg) == set(case["value"])
