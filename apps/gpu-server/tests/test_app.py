"""The server skeleton over real HTTP semantics (Starlette's TestClient drives the ASGI app)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pixelvla_server import __version__
from pixelvla_server.app import create_app
from pixelvla_server.config import ConfigError, Settings, from_env


@pytest.fixture()
def client(tmp_path):
    app = create_app(Settings(device="cpu", data_dir=tmp_path, max_request_bytes=1024, load_model=False))
    with TestClient(app) as c:
        yield c


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["uptime_s"] >= 0


def test_meta_reports_version_device_and_no_model(client):
    r = client.get("/v1/meta")
    assert r.status_code == 200
    body = r.json()
    assert body["server_version"] == __version__
    assert body["device"]["kind"] == "cpu"
    assert body["device"]["torch_version"]
    assert body["model"] is None


def test_unknown_route_is_a_typed_404(client):
    r = client.get("/v1/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_wrong_method_is_typed(client):
    r = client.post("/healthz")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_oversized_body_is_rejected_before_parsing(client):
    r = client.post("/v1/meta", content=b"x" * 2048, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_cors_allows_only_the_studio_origin(client):
    ok = client.get("/healthz", headers={"Origin": "http://127.0.0.1:5173"})
    assert ok.headers.get("access-control-allow-origin") == "http://127.0.0.1:5173"
    other = client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_describes_routes_and_error_schema(client):
    doc = client.get("/openapi.json").json()
    assert "/healthz" in doc["paths"] and "/v1/meta" in doc["paths"]
    assert "ErrorResponse" in doc["components"]["schemas"]
    for path in ("/v1/runs", "/v1/policy/predict", "/v1/datasets", "/v1/robots", "/v1/models"):
        assert path in doc["paths"], path
    # The studio generates TS types from these names: plain PascalCase, one per model.
    bad = [n for n in doc["components"]["schemas"] if not re.fullmatch(r"[A-Z][A-Za-z]+", n)]
    assert not bad, bad
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, f"{method} {path} has no success response"


def test_non_loopback_bind_requires_token():
    with pytest.raises(ConfigError, match="API token"):
        Settings(host="0.0.0.0").validate()
    Settings(host="0.0.0.0", api_token="t").validate()


def test_env_overrides_and_bad_values():
    s = from_env({"PIXELVLA_PORT": "9001", "PIXELVLA_DEVICE": "cpu"})
    assert s.port == 9001 and s.device == "cpu"
    with pytest.raises(ConfigError, match="PIXELVLA_PORT"):
        from_env({"PIXELVLA_PORT": "eighty"})
    with pytest.raises(ConfigError, match="device"):
        from_env({"PIXELVLA_DEVICE": "tpu"})
    assert from_env({"PIXELVLA_PORT": "9001"}, port=9002).port == 9002
