"""REST under /v1/runs, plus progress pushed as Server-Sent Events from the run's metrics.jsonl."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from ..errors import ERROR_RESPONSES, ErrorResponse
from ..ids import ID_PATTERN
from ..policy.routes import PolicyMetadata, Svc, metadata_of
from ..security import require_operator
from .manager import RunManager
from .metrics import last_progress, list_checkpoints, read_metrics, tail_log
from .registry import TERMINAL, RunRecord

router = APIRouter(prefix="/v1/runs", tags=["runs"], responses=ERROR_RESPONSES)
OPERATOR: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "Operator token missing or wrong"}
}
# Routes that write the registry: refused while it is damaged (read-only, see GET /healthz).
WRITES: dict[int | str, dict[str, Any]] = {
    **OPERATOR,
    503: {"model": ErrorResponse, "description": "registry_degraded: the run registry is damaged, read-only"},
}
MAX_OVERRIDES_BYTES = 16 * 1024

RunStage = Literal["base", "stage1", "stage2", "eval"]
RunStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class RunCreate(BaseModel):
    stage: RunStage
    name: str | None = Field(default=None, max_length=200)
    base_checkpoint: str | None = Field(default=None, pattern=ID_PATTERN, description="model id")
    dataset: str | None = Field(default=None, pattern=ID_PATTERN, description="dataset id")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="config overrides passed to the run in config.json"
    )

    @field_validator("overrides")
    @classmethod
    def _small(cls, v: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(v)) > MAX_OVERRIDES_BYTES:
            raise ValueError(f"overrides exceed {MAX_OVERRIDES_BYTES} bytes of JSON")
        return v


class RunProgress(BaseModel):
    step: int
    total_steps: int | None = None
    loss: float | None = None
    samples_per_s: float | None = None


class Run(BaseModel):
    id: str
    name: str
    stage: RunStage
    status: RunStatusName
    base_checkpoint: str | None
    dataset: str | None
    overrides: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    error: str | None
    attempts: int
    resumed: bool
    progress: RunProgress | None
    checkpoints: list[str]
    has_bundle: bool = Field(description="a finished bundle exists (POST /v1/runs/{id}/deploy serves it)")
    model: str = Field(description="the model id this run's bundle gets when deployed")


class RunList(BaseModel):
    runs: list[Run]


class MetricsPage(BaseModel):
    records: list[dict[str, Any]]
    next_offset: int = Field(description="pass as ?offset= to get only newer records")
    skipped: int = Field(description="lines in this page that were not JSON objects")


class RunLogs(BaseModel):
    lines: list[str]


def manager(request: Request) -> RunManager:
    return request.app.state.studio.runs  # type: ignore[no-any-return]


Mgr = Annotated[RunManager, Depends(manager)]


def to_model(m: RunManager, rec: RunRecord) -> Run:
    run_dir = m.run_dir(rec.id)
    prog = last_progress(run_dir / "metrics.jsonl")
    progress = None
    if prog is not None:
        progress = RunProgress(
            step=prog["step"],
            total_steps=prog.get("total_steps") if isinstance(prog.get("total_steps"), int) else None,
            loss=prog.get("loss") if isinstance(prog.get("loss"), int | float) else None,
            samples_per_s=prog.get("samples_per_s")
            if isinstance(prog.get("samples_per_s"), int | float)
            else None,
        )
    return Run(
        id=rec.id,
        name=rec.name,
        stage=rec.stage,  # type: ignore[arg-type]
        status=rec.status,  # type: ignore[arg-type]
        base_checkpoint=rec.base_checkpoint,
        dataset=rec.dataset,
        overrides=rec.overrides,
        created_at=rec.created_at,
        started_at=rec.started_at,
        finished_at=rec.finished_at,
        exit_code=rec.exit_code,
        error=rec.error,
        attempts=rec.attempts,
        resumed=rec.resume,
        progress=progress,
        checkpoints=list_checkpoints(run_dir),
        has_bundle=m.has_bundle(rec.id),
        model=m.deployed_model_id(rec.id),
    )


@router.post(
    "", response_model=Run, status_code=201, responses=WRITES, dependencies=[Depends(require_operator)]
)
def create_run(body: RunCreate, m: Mgr) -> Run:
    rec = m.create(
        stage=body.stage,
        name=body.name,
        base_checkpoint=body.base_checkpoint,
        dataset=body.dataset,
        overrides=body.overrides,
    )
    return to_model(m, rec)


class ConfigField(BaseModel):
    type: Literal["integer", "number", "string", "boolean"]
    default: int | float | str | bool | None
    title: str | None = None
    description: str | None = None
    enum: list[str | int | float] | None = None
    minimum: float | None = None
    maximum: float | None = None


class ConfigSchema(BaseModel):
    title: str
    properties: dict[str, ConfigField]


@router.get("/config-schema", response_model=ConfigSchema)
def config_schema(stage: RunStage = "stage2") -> ConfigSchema:
    """The tunable config fields of a stage (types, defaults, limits): TrainConfig for the training
    stages, EvalConfig for eval. The studio's launch form is generated from it and sends only the
    fields that differ from the defaults, as `overrides`."""
    from pixelvla import evaluation
    from pixelvla.train import config

    schema = evaluation.config_schema() if stage == "eval" else config.config_schema()
    return ConfigSchema.model_validate(schema)


@router.get("", response_model=RunList)
def list_runs(m: Mgr, status: RunStatusName | None = None) -> RunList:
    return RunList(runs=[to_model(m, r) for r in m.registry.find(status)])


@router.get("/{run_id}", response_model=Run)
def get_run(run_id: str, m: Mgr) -> Run:
    return to_model(m, m.get(run_id))


@router.post(
    "/{run_id}/cancel", response_model=Run, responses=WRITES, dependencies=[Depends(require_operator)]
)
async def cancel_run(run_id: str, m: Mgr) -> Run:
    # Cancel may wait for the process group to exit: keep it off the event loop.
    rec = await asyncio.to_thread(m.cancel, run_id)
    return to_model(m, rec)


@router.post(
    "/{run_id}/resume", response_model=Run, responses=WRITES, dependencies=[Depends(require_operator)]
)
def resume_run(run_id: str, m: Mgr) -> Run:
    return to_model(m, m.resume(run_id))


@router.post(
    "/{run_id}/deploy",
    response_model=PolicyMetadata,
    responses={**OPERATOR, 409: {"model": ErrorResponse}},
    dependencies=[Depends(require_operator)],
)
async def deploy_run(run_id: str, m: Mgr, svc: Svc) -> PolicyMetadata:
    """Add the run's bundle to the model registry as `run-<id>` and hot-swap the served policy to it."""
    model_id = await asyncio.to_thread(m.deploy, run_id)
    return metadata_of(await asyncio.to_thread(svc.load, model_id))


@router.delete("/{run_id}", status_code=204, responses=WRITES, dependencies=[Depends(require_operator)])
def delete_run(run_id: str, m: Mgr) -> None:
    m.delete(run_id)


@router.get("/{run_id}/metrics", response_model=MetricsPage)
def run_metrics(
    run_id: str,
    m: Mgr,
    offset: int = Query(0, ge=0, le=2**50),
    limit: int = Query(1000, ge=1, le=10000),
) -> MetricsPage:
    m.get(run_id)
    records, next_offset, skipped = read_metrics(m.run_dir(run_id) / "metrics.jsonl", offset, limit)
    return MetricsPage(records=records, next_offset=next_offset, skipped=skipped)


@router.get("/{run_id}/logs", response_model=RunLogs)
def run_logs(run_id: str, m: Mgr, tail: int = Query(200, ge=1, le=5000)) -> RunLogs:
    m.get(run_id)
    return RunLogs(lines=tail_log(m.run_dir(run_id) / "log.txt", tail))


@router.get(
    "/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "metrics and status events"}},
)
async def run_events(
    run_id: str,
    request: Request,
    m: Mgr,
    offset: int = Query(0, ge=0, le=2**50),
) -> StreamingResponse:
    """SSE: `event: metrics` (data = one JSONL record), `event: status` (data = the Run); ends when the run does."""
    m.get(run_id)
    path = m.run_dir(run_id) / "metrics.jsonl"

    async def events() -> AsyncIterator[str]:
        pos = offset
        last_status = None
        while True:
            rec = m.registry.get(run_id)
            records, pos, _ = await asyncio.to_thread(read_metrics, path, pos, 500)
            for r in records:
                yield f"event: metrics\ndata: {json.dumps(r)}\n\n"
            if rec is None:
                yield 'event: status\ndata: {"status": "deleted"}\n\n'
                return
            if rec.status != last_status:
                last_status = rec.status
                yield f"event: status\ndata: {to_model(m, rec).model_dump_json()}\n\n"
            if rec.status in TERMINAL and not records:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
