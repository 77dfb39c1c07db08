"""Liveness and metadata: what the studio's status area shows."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from . import __version__
from .schemas import PolicyMetadata

router = APIRouter(tags=["meta"])


class Health(BaseModel):
    status: str = Field(description='"ok", or "degraded" when part of the server cannot work (see problems)')
    uptime_s: float
    problems: list[str] = Field(
        default_factory=list, description="what is wrong when degraded (e.g. a damaged run registry)"
    )


class DeviceModel(BaseModel):
    kind: str
    name: str
    description: str
    torch_version: str


class Meta(BaseModel):
    server_version: str
    device: DeviceModel
    model: PolicyMetadata | None = Field(description="the served model (GET /v1/policy/metadata)")
    model_loading: str | None
    model_error: str | None
    operator_token_required: bool


@router.get("/healthz", response_model=Health)
def healthz(request: Request) -> Health:
    """Never "ok" while something the server stands on is broken: a damaged run registry (read-only,
    runs cannot be launched) makes it "degraded", with the reasons."""
    state = request.app.state.studio
    problems = list(state.runs.registry.problems)
    return Health(
        status="degraded" if problems else "ok",
        uptime_s=round(time.time() - state.started_at, 3),
        problems=problems,
    )


@router.get("/v1/meta", response_model=Meta)
def meta(request: Request) -> Meta:
    """What the studio shows in its status bar: server version, device, the served model (with its
    prompt encoder's hash, compared with the browser's, and its observation contract, whose limits
    the studio uses), a model load in progress or its error, and whether commands need the operator
    token."""
    from .policy.routes import metadata_of

    state = request.app.state.studio
    current = state.policy.current
    d = state.device
    return Meta(
        server_version=__version__,
        device=DeviceModel(
            kind=d.kind, name=d.name, description=d.description, torch_version=d.torch_version
        ),
        model=metadata_of(current) if current else None,
        model_loading=state.policy.loading,
        model_error=state.policy.load_error,
        operator_token_required=state.settings.operator_token is not None,
    )
