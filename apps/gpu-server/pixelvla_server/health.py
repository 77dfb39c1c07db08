"""Liveness and metadata: what the studio's status area shows."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from . import __version__

router = APIRouter(tags=["meta"])


class Health(BaseModel):
    status: str
    uptime_s: float


class DeviceModel(BaseModel):
    kind: str
    name: str
    description: str
    torch_version: str


class LoadedModel(BaseModel):
    id: str
    model_id: str
    name: str
    config: str
    chunk_size: int
    action_dim: int
    image_size: int
    encoder_hash: str | None = None
    normalization_key: str | None = None


class Meta(BaseModel):
    server_version: str
    device: DeviceModel
    model: LoadedModel | None
    model_loading: str | None
    model_error: str | None
    operator_token_required: bool


@router.get("/healthz", response_model=Health)
def healthz(request: Request) -> Health:
    state = request.app.state.studio
    return Health(status="ok", uptime_s=round(time.time() - state.started_at, 3))


@router.get("/v1/meta", response_model=Meta)
def meta(request: Request) -> Meta:
    from .policy.routes import metadata_of

    state = request.app.state.studio
    current = state.policy.current
    d = state.device
    return Meta(
        server_version=__version__,
        device=DeviceModel(
            kind=d.kind, name=d.name, description=d.description, torch_version=d.torch_version
        ),
        model=LoadedModel(**metadata_of(current).model_dump()) if current else None,
        model_loading=state.policy.loading,
        model_error=state.policy.load_error,
        operator_token_required=state.settings.operator_token is not None,
    )
