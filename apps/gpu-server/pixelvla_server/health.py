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
    name: str
    config: str
    chunk_size: int
    action_dim: int
    image_size: int
    encoder_hash: str | None = None


class Meta(BaseModel):
    server_version: str
    device: DeviceModel
    model: LoadedModel | None
    operator_token_required: bool


@router.get("/healthz", response_model=Health)
def healthz(request: Request) -> Health:
    state = request.app.state.studio
    return Health(status="ok", uptime_s=round(time.time() - state.started_at, 3))


@router.get("/v1/meta", response_model=Meta)
def meta(request: Request) -> Meta:
    state = request.app.state.studio
    d = state.device
    return Meta(
        server_version=__version__,
        device=DeviceModel(
            kind=d.kind, name=d.name, description=d.description, torch_version=d.torch_version
        ),
        model=LoadedModel(**state.model) if state.model else None,
        operator_token_required=state.settings.operator_token is not None,
    )
