"""/docs and /redoc work without internet: the pages name only the server's own files, those files
are served, and every operation in the OpenAPI document has a description."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pixelvla_server.app import create_app
from pixelvla_server.docs import ASSET_FILES, ASSETS_URL


@pytest.fixture(scope="module")
def client(tmp_path_factory, run_settings):
    with TestClient(create_app(run_settings(tmp_path_factory.mktemp("docs")))) as c:
        yield c


def referenced_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_nothing_from_outside(client, page):
    r = client.get(page)
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    urls = referenced_urls(r.text)
    assert urls, r.text
    outside = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert outside == [], f"{page} loads {outside}"
    assert "fonts.googleapis" not in r.text and "cdn.jsdelivr" not in r.text
    # Whatever the bundles themselves ask for stays on the server (ReDoc's sidebar logo is on a CDN).
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data:" in csp and "https:" not in csp
    for u in urls:
        got = client.get(u)
        assert got.status_code == 200, f"{page} references {u}: {got.status_code}"


def test_assets_are_the_real_bundles(client):
    for name in ASSET_FILES:
        r = client.get(f"{ASSETS_URL}/{name}")
        assert r.status_code == 200, name
    assert b"SwaggerUIBundle" in client.get(f"{ASSETS_URL}/swagger-ui-bundle.js").content
    assert b"Redoc" in client.get(f"{ASSETS_URL}/redoc.standalone.js").content


def test_every_operation_has_a_description(client):
    doc = client.get("/openapi.json").json()
    ops = [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(ops) >= 28
    bare = [f"{m} {p}" for m, p, op in ops if len(op.get("description", "").strip()) < 20]
    assert bare == []
    assert doc["info"].get("description")
    # The docs pages themselves are not API operations.
    assert "/docs" not in doc["paths"] and "/redoc" not in doc["paths"]
