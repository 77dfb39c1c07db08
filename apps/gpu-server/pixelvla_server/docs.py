"""The API docs (/docs: Swagger UI, /redoc: ReDoc) served from the server's own files.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so on a machine without internet
(a lab robot's network, CI) they are blank. The JavaScript and CSS here come from the
`fastapi-offline` wheel, a locked dependency (its static/ folder: Swagger UI 5, ReDoc 2); this
module serves them under /docs-assets and writes both pages without any outside URL (no Google
fonts, no validator badge, a local favicon), under a Content-Security-Policy that keeps the
bundles' own outside requests (ReDoc's logo) from reaching the network at all.

Every operation's description is its route's docstring, in the route's own room (tests/test_docs.py
fails on an operation without one), so /docs never lists a bare operation name.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_URL = "/docs-assets"
# The pages may load nothing from outside the server, whatever their scripts ask for (ReDoc's
# sidebar shows a logo from its CDN and hides it when that fails): the browser refuses instead of
# trying the network. Inline script / style: FastAPI's pages start the bundles inline; blob: for
# ReDoc's search worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)
DOCS_URL = "/docs"
REDOC_URL = "/redoc"

API_DESCRIPTION = (
    "The PixelVLA Studio GPU server: policy serving (HTTP predict and the `/v1/policy/stream` "
    "WebSocket), robot sessions (the `/v1/robots/{id}/stream` WebSocket, msgpack), training and "
    "evaluation runs, datasets and their annotations. The WebSocket protocols are described in "
    "docs/PROTOCOLS.md of the repository. Commands that change things (launch runs, drive robots, "
    "save annotations) need the operator token when the server was started with one."
)


def assets_dir() -> Path:
    """Swagger UI's and ReDoc's files as the fastapi-offline wheel installs them."""
    path = Path(str(files("fastapi_offline") / "static"))
    missing = [n for n in ASSET_FILES if not (path / n).is_file()]
    if missing:
        raise RuntimeError(
            f"the API docs' files {missing} are missing from {path}; reinstall fastapi-offline"
        )
    return path


ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def install_docs(app: FastAPI) -> None:
    """Mount the assets and the two pages. The app must be created with docs_url=None and
    redoc_url=None (FastAPI's CDN pages off); call after every router is included."""
    if not app.description:
        app.description = API_DESCRIPTION
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = base(request)
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - API docs",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None,
            # Swagger UI would otherwise ask validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = base(request)
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page
