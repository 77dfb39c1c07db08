"""The FastAPI application factory. Routes live in their own rooms and are mounted here."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pixelvla.errors import PixelVLAError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__, preload
from .config import ConfigError, Settings
from .datasets.catalog import Catalog
from .datasets.routes import router as datasets_router
from .device import DeviceInfo, resolve
from .docs import install_docs
from .errors import ApiError, ErrorBody, ErrorResponse
from .health import router as health_router
from .policy.routes import router as policy_router
from .policy.service import PolicyService
from .robots.launcher import Launcher
from .robots.launcher import router as launcher_router
from .robots.remote import router as remote_robots_router
from .robots.routes import RobotManager
from .robots.routes import router as robots_router
from .runs.manager import RunManager
from .runs.registry import RunRegistry
from .runs.routes import router as runs_router
from .runs.runner import RayJobRunner, Runner, SubprocessRunner
from .security import Edge

log = logging.getLogger("pixelvla_server")


class AppState:
    """Everything the routes share, hung on app.state.studio."""

    def __init__(self, settings: Settings, device: DeviceInfo, runner: Runner):
        self.settings = settings
        self.device = device
        self.started_at = time.time()
        slots = settings.run_slots or (device_count(device) if device.kind == "cuda" else 1)
        self.datasets = Catalog(settings)
        self.policy = PolicyService(settings, device.name)
        self.policy.frame_loader = self.datasets.load_frame_ref
        self.robots = RobotManager(settings, self.policy)
        self.launcher = Launcher(settings, self.robots.remote)  # LIBERO robots started on request
        self.runs = RunManager(settings, RunRegistry(settings.data_dir / "registry.sqlite"), runner, slots)


def device_count(device: DeviceInfo) -> int:
    import torch

    return max(1, torch.cuda.device_count()) if device.kind == "cuda" else 1


def build_runner(settings: Settings) -> Runner:
    """The run backend that settings.runner names. For Ray, connects now: a missing package or an
    unreachable cluster is a configuration error at start, not a failed run later."""
    if settings.runner != "ray":
        return SubprocessRunner()
    address = settings.ray_address or ""
    try:
        import ray.job_submission  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "--runner ray needs the ray package (with the job API): install pixelvla-server[ray] "
            "(`pip install 'pixelvla-server[ray]'`; the workspace's `npm run bootstrap` installs it)"
        ) from exc
    _check_reachable(address)
    try:
        return RayJobRunner.connect(address, submit_wait_s=settings.ray_submit_wait_s)
    except Exception as exc:  # ConnectionError, RuntimeError (version check), ValueError (bad address)
        raise ConfigError(
            f"cannot reach the Ray job API at {address!r}: {exc}. Start the cluster with "
            "`ray start --head --dashboard-host 0.0.0.0` (its job API listens on port 8265) "
            "and pass that address with --ray-address"
        ) from exc


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds rather than hang on a TCP connect to a host that drops packets."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(address)
    if url.scheme not in ("http", "https") or not url.hostname:
        return  # "auto", ray://... and the like: Ray resolves those itself
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError as exc:
        raise ConfigError(f"--ray-address {address!r} has an invalid port") from exc
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot connect to the Ray job API at {url.hostname}:{port} ({exc}); is the Ray head "
            "running with its dashboard on that address (`ray start --head --dashboard-host ...`)?"
        ) from exc


def create_app(settings: Settings | None = None, *, runner: Runner | None = None) -> FastAPI:
    settings = (settings or Settings()).validate()
    runner = runner or build_runner(settings)  # first: an unreachable Ray cluster fails before torch loads
    device = resolve(settings.device)
    preload.torch_stack()  # before any robot session renders (see preload.py)
    state = AppState(settings, device, runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        log.info("server starting", extra={"device": device.name, "version": __version__})
        state.runs.start()
        loader = None
        if settings.load_model:
            # Load in the background: the server answers /healthz and /v1/meta while the model warms up.
            loader = threading.Thread(target=state.policy.load_default, name="model-load", daemon=True)
            loader.start()
        try:
            yield
        finally:
            if loader is not None:
                # A load cannot be interrupted; let it finish rather than leave torch running at exit.
                loader.join(timeout=120)
            state.robots.close()
            state.launcher.close()  # after the sessions: they stop their robots first
            state.policy.close()
            state.runs.stop()
            state.runs.registry.close()
            log.info("server stopped")

    app = FastAPI(
        title="PixelVLA Studio GPU server",
        version=__version__,
        lifespan=lifespan,
        separate_input_output_schemas=False,  # one schema name per model for the studio's generated types
        responses={422: {"model": ErrorResponse, "description": "Validation error"}},
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN: docs.py serves its own
        redoc_url=None,
    )
    app.state.studio = state
    # The middleware added last is the outermost: CORS wraps Edge, so the studio can read Edge's typed
    # 401/403/413 bodies (a refused origin gets no CORS headers either way).
    app.add_middleware(Edge, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.studio_origins),
        allow_methods=["*"],
        allow_headers=["*"],
    )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(PixelVLAError)
    async def pixelvla_error(_request: Request, exc: PixelVLAError) -> JSONResponse:
        # Errors of the model/data packages carry a stable code; they are the client's fault (400).
        body = ErrorResponse(error=ErrorBody(code=exc.code, message=exc.message))
        return JSONResponse(body.model_dump(), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        body = ErrorResponse(
            error=ErrorBody(code="validation_error", message="request failed validation", detail=detail)
        )
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        body = ErrorResponse(error=ErrorBody(code=code, message=str(exc.detail)))
        return JSONResponse(
            body.model_dump(), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's fault (decode failures of client data are 400s where they happen).
        log.error(
            "unhandled error",
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"method": request.method, "path": request.url.path},
        )
        body = ErrorResponse(
            error=ErrorBody(code="internal", message=f"internal error: {type(exc).__name__}")
        )
        return JSONResponse(body.model_dump(), status_code=500)

    app.include_router(health_router)
    app.include_router(runs_router)
    app.include_router(policy_router)
    app.include_router(robots_router)
    app.include_router(remote_robots_router)
    app.include_router(launcher_router)
    app.include_router(datasets_router)
    install_docs(app)
    return app
