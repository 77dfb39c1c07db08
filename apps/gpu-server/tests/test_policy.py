"""Policy serving over a real uvicorn server: HTTP predict, the WebSocket stream, hot-swap, concurrency."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgpack
import numpy as np
import pytest
from PIL import Image
from pixelvla.wire import packb, unpackb
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

OP = {"X-Operator-Token": "op"}


class OpenpiStyleClient:
    """Written from the protocol description the way openpi's WebsocketClientPolicy works:
    connect, read one metadata message, then send a msgpack observation and read back {"actions": ...}.
    Arrays use openpi's layout with *bin* keys, exactly what openpi's msgpack_numpy packer writes."""

    def __init__(self, url: str):
        self.ws = connect(url, max_size=None, open_timeout=10).__enter__()
        self.metadata = self._unpack(self.ws.recv(timeout=10))

    @staticmethod
    def _pack_array(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return {
                b"__ndarray__": True,
                b"data": obj.tobytes(),
                b"dtype": obj.dtype.str,
                b"shape": obj.shape,
            }
        return obj

    @staticmethod
    def _unpack(data: bytes) -> dict[str, Any]:
        def hook(d: dict[Any, Any]) -> Any:
            if b"__ndarray__" in d or "__ndarray__" in d:
                g = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
                return np.frombuffer(g["data"], dtype=np.dtype(g["dtype"])).reshape(g["shape"])
            return d

        out = msgpack.unpackb(data, object_hook=hook, strict_map_key=False)
        assert isinstance(out, dict)
        return out

    def infer(self, obs: dict[str, Any]) -> dict[str, Any]:
        self.ws.send(msgpack.packb(obs, default=self._pack_array))
        response = self.ws.recv(timeout=30)
        if isinstance(response, str):
            raise RuntimeError(f"error in inference server:\n{response}")
        return self._unpack(response)

    def close(self) -> None:
        self.ws.close()


def frame(size: int = 96, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)


def jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG")
    return buf.getvalue()


def stream(live: Any, query: str = "") -> ClientConnection:
    return connect(f"{live.ws_url}/v1/policy/stream{query}", max_size=None, open_timeout=10)


def test_openpi_style_client_works_unchanged(live):
    client = OpenpiStyleClient(f"{live.ws_url}/v1/policy/stream")
    meta = client.metadata
    assert meta["type"] == "metadata" and meta["id"] == "tiny-a"
    assert meta["action_dim"] == 7 and meta["chunk_size"] >= 1 and meta["image_size"] > 0
    assert meta["model_id"] and meta["encoder_hash"] and "normalization_key" in meta
    out = client.infer(
        {
            "observation/image": frame(),
            "observation/state": np.zeros(8, np.float32),
            "prompt": "pick the red cube",
        }
    )
    assert out["actions"].shape == (meta["chunk_size"], 7) and out["actions"].dtype == np.float32
    assert np.isfinite(out["actions"]).all()
    client.close()


def test_stream_reply_timing_seq_and_deterministic_actions(live):
    with stream(live) as ws:
        meta = unpackb(ws.recv(timeout=10))
        obs = {
            "image": jpeg(frame(128)),
            "instruction": "put the cube in the bowl",
            "seq": 7,
            "prompt_tokens": np.zeros((16, 256), np.float16),
            "prompt_valid": np.eye(16, dtype=bool)[0],
            "state": np.zeros(8, np.float32),
        }
        ws.send(packb(obs))
        a = unpackb(ws.recv(timeout=30))
        ws.send(packb(obs))
        b = unpackb(ws.recv(timeout=30))
    assert a["type"] == "actions" and a["seq"] == 7 and a["model_id"] == meta["id"]
    np.testing.assert_array_equal(a["actions"], b["actions"])
    t = a["timing_ms"]
    for key in (
        "decode",
        "vision",
        "llm",
        "decoder",
        "total",
        "queue",
        "server_decode",
        "forward",
        "server_total",
    ):
        assert key in t and t[key] >= 0, key
    assert t["server_total"] >= t["forward"]


def test_stream_bad_messages_get_typed_error_frames_and_the_socket_stays_open(live):
    with stream(live) as ws:
        unpackb(ws.recv(timeout=10))

        def ask(payload: bytes) -> dict[str, Any]:
            ws.send(payload)
            msg = unpackb(ws.recv(timeout=30))
            assert msg["type"] == "error", msg
            return msg["error"]  # type: ignore[no-any-return]

        assert ask(b"\xc1\x00garbage")["code"] == "invalid_message"
        assert ask(packb([1, 2, 3]))["code"] == "invalid_observation"
        assert ask(packb({"instruction": "no image"}))["code"] == "invalid_observation"
        bad_dtype = {"__ndarray__": True, "data": b"\0" * 8, "dtype": "|O", "shape": [1]}
        assert ask(msgpack.packb({"image": bad_dtype}))["code"] == "invalid_message"
        assert "uint8" in ask(packb({"image": frame().astype(np.float32)}))["message"]
        assert ask(packb({"image": frame()[:, :, :2]}))["code"] == "invalid_observation"
        wrong = {
            "image": frame(),
            "prompt_tokens": np.zeros((16, 128), np.float32),
            "prompt_valid": np.ones(16, bool),
        }
        assert "prompt_tokens" in ask(packb(wrong))["message"]
        assert ask(packb({"image": b"not a jpeg"}))["code"] == "invalid_observation"
        assert (
            ask(packb({"image": frame(), "pixel_masks": [{"size": [4, 4], "counts": "zz"}]}))["code"]
            == "invalid_rle"
        )
        assert (
            ask(packb({"image": frame(), "prompts": [{"type": "point", "x": 3}]}))["code"] == "invalid_prompt"
        )
        ws.send(packb({"image": frame(), "instruction": "pick"}))
        assert unpackb(ws.recv(timeout=30))["type"] == "actions"  # still serving


def test_stream_close_codes(live):
    with stream(live) as ws:
        ws.recv(timeout=10)
        ws.send("a text frame")
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
        assert ws.close_code == 1003
    with stream(live) as ws:
        ws.recv(timeout=10)
        ws.send(b"\0" * (live.settings.max_request_bytes + 1))
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
        assert ws.close_code == 1009


def test_http_predict_and_bad_input(live):
    body = {"image_b64": base64.b64encode(jpeg(frame())).decode(), "instruction": "pick", "state": [0.0] * 8}
    r = httpx.post(f"{live.url}/v1/policy/predict", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_id"] == "tiny-a" and len(out["actions"][0]) == 7 and out["timing_ms"]["forward"] > 0
    assert (
        httpx.post(f"{live.url}/v1/policy/predict", json={"instruction": "x"}).json()["error"]["code"]
        == "invalid_observation"
    )
    r = httpx.post(f"{live.url}/v1/policy/predict", json={"image_b64": "@@@"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_observation"
    r = httpx.post(f"{live.url}/v1/policy/predict", json={"image_b64": "", "state": [0.0] * 65})
    assert r.status_code == 422
    r = httpx.post(
        f"{live.url}/v1/policy/predict", json={"frame_ref": {"dataset": "nope", "episode": 0, "frame": 0}}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_dataset"
    big = httpx.post(
        f"{live.url}/v1/policy/predict",
        content=b"x" * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413


def test_concurrent_clients_and_hot_swap_without_dropping_connections(live):
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []
    swapped = threading.Event()

    def client(i: int) -> None:
        try:
            with stream(live) as ws:
                unpackb(ws.recv(timeout=10))
                ids: list[str] = []
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not (swapped.is_set() and ids and ids[-1] == "tiny-b"):
                    ws.send(packb({"image": frame(64, i), "instruction": f"client {i}", "seq": len(ids)}))
                    reply = unpackb(ws.recv(timeout=30))
                    assert reply["type"] == "actions", reply
                    if reply["model_id"] != (ids[-1] if ids else reply["model_id"]):
                        assert reply["metadata"]["id"] == reply["model_id"]  # new metadata rides along
                    ids.append(reply["model_id"])
                results[i] = ids
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert httpx.post(f"{live.url}/v1/models/tiny-b/load", timeout=60).status_code == 403
    r = httpx.post(f"{live.url}/v1/models/tiny-b/load", headers=OP, timeout=120)
    assert r.status_code == 200 and r.json()["id"] == "tiny-b"
    swapped.set()
    for t in threads:
        t.join(timeout=90)
    assert not errors, errors
    for ids in results.values():
        assert ids[0] == "tiny-a" and ids[-1] == "tiny-b"  # same connection, both models
    models = httpx.get(f"{live.url}/v1/models").json()
    assert models["loaded"] == "tiny-b" and {m["id"] for m in models["models"]} >= {"tiny-a", "tiny-b"}
    assert httpx.get(f"{live.url}/v1/meta").json()["model"]["id"] == "tiny-b"
    assert (
        httpx.post(f"{live.url}/v1/models/nope/load", headers=OP).json()["error"]["code"] == "unknown_model"
    )
    assert httpx.post(f"{live.url}/v1/models/..%2Fetc/load", headers=OP).status_code in (400, 404)
    r = httpx.post(f"{live.url}/v1/models/tiny-a/load", headers=OP, timeout=120)
    assert r.status_code == 200


def test_stale_observations_are_dropped_not_queued(live):
    with stream(live) as ws:
        unpackb(ws.recv(timeout=10))
        for seq in range(20):  # pipeline: far faster than the model answers
            ws.send(packb({"image": frame(64), "instruction": "pick", "seq": seq}))
        replies = []
        while not replies or replies[-1].get("seq") != 19:
            replies.append(unpackb(ws.recv(timeout=30)))
    kinds = {r["type"] for r in replies}
    served = [r["seq"] for r in replies if r["type"] == "actions"]
    assert "dropped" in kinds and len(served) < 20 and served[-1] == 19
    assert len(replies) == 20  # every observation gets exactly one answer


def test_api_token_on_the_stream(tmp_path, models_root):
    from pixelvla_server.config import Settings
    from pixelvla_server.live import serve

    s = Settings(
        device="cpu",
        data_dir=tmp_path,
        models_dir=models_root,
        model="tiny-a",
        api_token="tok",
        load_model=False,
    )
    with serve(s) as server:
        with connect(f"{server.ws_url}/v1/policy/stream", open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 1008
        with connect(f"{server.ws_url}/v1/policy/stream?token=tok", open_timeout=10) as ws:
            msg = unpackb(ws.recv(timeout=10))
            assert msg["error"]["code"] == "model_not_loaded"  # authenticated, but no model in this server
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 1013
        assert httpx.get(f"{server.url}/v1/models").status_code == 401
        assert (
            httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer tok"}).status_code == 200
        )


PINNED_SPEC = (
    Path(__file__).resolve().parents[3] / "packages" / "model" / "testdata" / "observation_spec.json"
)


def test_the_served_observation_spec_is_published_everywhere(live):
    """One spec, from the model's config: /v1/meta, GET /v1/policy/metadata and the stream's first frame
    say the same, and for the tiny config it is the one testdata/observation_spec.json pins for the
    studio's @pixelvla/model constants (observation.test.ts)."""
    pinned = json.loads(PINNED_SPEC.read_text())["tiny"]
    meta = httpx.get(f"{live.url}/v1/meta").json()
    assert meta["model"]["observation"] == pinned
    assert httpx.get(f"{live.url}/v1/policy/metadata").json()["observation"] == pinned
    with stream(live) as ws:
        assert unpackb(ws.recv(timeout=10))["observation"] == pinned
    # The HTTP model's field bounds are the server-wide ceilings of the same module.
    from pixelvla.observation import ObservationSpec

    ceilings = ObservationSpec()
    props = httpx.get(f"{live.url}/openapi.json").json()["components"]["schemas"]["PredictRequest"][
        "properties"
    ]

    def bound(name: str) -> int:
        p = props[name]
        return next(
            a.get("maxLength", a.get("maxItems"))
            for a in [p, *p.get("anyOf", [])]
            if set(a) & {"maxLength", "maxItems"}
        )

    assert bound("instruction") == ceilings.max_instruction_chars
    assert bound("prompt_tokens") == bound("prompt_valid") == ceilings.prompt_tokens[0]
    assert bound("prompts") == ceilings.max_prompts
    assert bound("pixel_masks") == ceilings.max_pixel_masks
    assert bound("state") == ceilings.max_state_values


def predict_msgpack(url: str, obs: Any) -> httpx.Response:
    body = obs if isinstance(obs, bytes) else packb(obs)
    return httpx.post(
        f"{url}/v1/policy/predict/msgpack",
        content=body,
        headers={"content-type": "application/msgpack"},
        timeout=30,
    )


def test_binary_http_predict_is_the_streams_encoding(live):
    """The Prompt page's path: one msgpack observation in, the stream's msgpack reply out; the same
    actions as the JSON endpoint for the same frame, tokens as float32 bytes."""
    img = jpeg(frame())
    tokens = np.zeros((16, 256), np.float32)
    valid = np.eye(16, dtype=bool)[0]
    r = predict_msgpack(
        live.url,
        {
            "image": img,
            "instruction": "pick",
            "state": np.zeros(8, np.float32),
            "seq": 7,
            "prompt_tokens": tokens,
            "prompt_valid": valid,
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/msgpack"
    out = unpackb(r.content)
    assert out["type"] == "actions" and out["seq"] == 7 and out["model_id"] == "tiny-a"
    assert out["actions"].dtype == np.float32 and out["actions"].shape[1] == 7
    assert out["timing_ms"]["server_total"] >= out["timing_ms"]["forward"] > 0
    js = httpx.post(
        f"{live.url}/v1/policy/predict",
        json={
            "image_b64": base64.b64encode(img).decode(),
            "instruction": "pick",
            "state": [0.0] * 8,
            "prompt_tokens": tokens.tolist(),
            "prompt_valid": valid.tolist(),
        },
        timeout=30,
    ).json()
    np.testing.assert_allclose(out["actions"], np.asarray(js["actions"], np.float32), rtol=1e-5, atol=1e-6)
    # Errors are the usual JSON bodies with their codes.
    bad = predict_msgpack(live.url, b"\xc1 not msgpack")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_message"
    bad = predict_msgpack(live.url, {"instruction": "no image"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_observation"
    bad = predict_msgpack(live.url, {"image": img, "instruction": "x", "state": np.zeros(5, np.float32)})
    assert bad.status_code == 400 and "takes 8" in bad.json()["error"]["message"]
    assert predict_msgpack(live.url, b"\x90" * (2 * 1024 * 1024)).status_code == 413


def test_a_models_own_limits_reach_every_door(tmp_path, models_root):
    """Change a limit in one place (the model's config: 2 pixel masks, a 3-D state) and the
    published spec, the JSON request, the msgpack request and the stream all follow it."""
    import dataclasses

    import torch
    from pixelvla.checkpoint import save_bundle, sim_normalizer
    from pixelvla.config import PixelEncoderConfig, tiny_config
    from pixelvla.model import PixelVLA
    from pixelvla.rle import encode
    from pixelvla_server.config import Settings
    from pixelvla_server.live import serve, wait_model

    torch.manual_seed(0)
    cfg = dataclasses.replace(tiny_config(), pixel=PixelEncoderConfig(max_masks=2), state_dim=3)
    save_bundle(PixelVLA(cfg).eval(), tmp_path / "models" / "narrow", sim_normalizer())
    s = Settings(device="cpu", data_dir=tmp_path / "data", models_dir=tmp_path / "models", model="narrow")
    m = np.zeros((32, 32), bool)
    m[4:20, 4:20] = True
    mask = encode(m)
    mask_json = {"size": list(mask["size"]), "counts": mask["counts"]}
    with serve(s) as server:
        wait_model(server.app)
        spec = httpx.get(f"{server.url}/v1/meta").json()["model"]["observation"]
        assert (spec["max_pixel_masks"], spec["state_dim"]) == (2, 3)
        b64 = base64.b64encode(jpeg(frame())).decode()

        def http(masks: int, state: int) -> httpx.Response:
            body = {
                "image_b64": b64,
                "instruction": "pick",
                "pixel_masks": [mask_json] * masks,
                "state": [0.0] * state,
            }
            return httpx.post(f"{server.url}/v1/policy/predict", json=body, timeout=30)

        def binary(masks: int, state: int) -> httpx.Response:
            obs = {
                "image": jpeg(frame()),
                "instruction": "pick",
                "pixel_masks": [mask_json] * masks,
                "state": np.zeros(state, np.float32),
            }
            return predict_msgpack(server.url, obs)

        for send in (http, binary):
            assert send(2, 3).status_code == 200
            r = send(3, 3)
            assert r.status_code == 400 and "at most 2" in r.json()["error"]["message"], r.text
            r = send(0, 8)
            assert r.status_code == 400 and "takes 3" in r.json()["error"]["message"], r.text
        with stream(server) as ws:
            assert unpackb(ws.recv(timeout=10))["observation"] == spec
            ws.send(packb({"image": frame(), "instruction": "pick", "pixel_masks": [mask_json] * 3}))
            assert "at most 2" in unpackb(ws.recv(timeout=30))["error"]["message"]


def test_the_onnx_policy_backend_serves_the_same_actions(live, model_server):
    """--policy-backend onnx: the same bundle's chunk through ONNX Runtime answers what eager PyTorch
    answers (fp32 both: equal to well below a robot's resolution), with prompts and a pixel mask."""
    body = {
        "image_b64": base64.b64encode(jpeg(frame(seed=3))).decode(),
        "instruction": "pick up the red cube",
        "prompts": [
            {"type": "point", "x": 0.4, "y": 0.6},
            {"type": "box", "x0": 0.1, "y0": 0.1, "x1": 0.5, "y1": 0.4},
        ],
        "state": [0.1] * 8,
    }
    eager = httpx.post(f"{live.url}/v1/policy/predict", json=body, timeout=60)
    assert eager.status_code == 200, eager.text
    with model_server("onnx", policy_backend="onnx") as server:
        meta = httpx.get(f"{server.url}/v1/policy/metadata", timeout=30).json()
        fast = httpx.post(f"{server.url}/v1/policy/predict", json=body, timeout=60)
    assert fast.status_code == 200, fast.text
    a, b = np.asarray(eager.json()["actions"]), np.asarray(fast.json()["actions"])
    assert meta["id"] == "tiny-a" and a.shape == b.shape == (meta["chunk_size"], 7)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)


def test_an_unknown_policy_backend_is_a_configuration_error():
    from pixelvla_server.config import ConfigError, from_env

    with pytest.raises(ConfigError, match="policy backend 'tensorrt'"):
        from_env({"PIXELVLA_POLICY_BACKEND": "tensorrt"})
    assert from_env({"PIXELVLA_POLICY_BACKEND": "onnx"}).policy_backend == "onnx"
    assert from_env({"PIXELVLA_POLICY_BACKEND": "onnx-int8"}).policy_backend == "onnx-int8"
    from pixelvla.fast_tiny import BACKENDS
    from pixelvla_server.config import POLICY_BACKENDS

    assert POLICY_BACKENDS == BACKENDS  # the server's list (no torch import at config time) is the model's
