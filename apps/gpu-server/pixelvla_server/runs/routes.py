"""REST under /v1/runs, plus progress pushed as Server-Sent Events from the run's metrics.jsonl.

Every operation says what it does in its docstring (the OpenAPI description /docs shows). An eval
run's results are served as data (GET /v1/runs/{id}/eval: the run's eval.json, typed), so the
studio draws tables and charts instead of reading the markdown in the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError, field_validator

from ..errors import ERROR_RESPONSES, ApiError, ErrorResponse, NotFound
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
MAX_EVAL_BYTES = 64 * 1024 * 1024  # eval.json of 1000 episodes per cell x 20 cells is about 3 MB

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
    """Queue a run: base / stage1 / stage2 train on `dataset` (stages after base start from the model
    `base_checkpoint`), eval evaluates `base_checkpoint` in the simulator. `overrides` are checked
    now against the stage's config (GET /v1/runs/config-schema) and unknown or out-of-range fields
    are a 400 `invalid_overrides`; nothing is queued then. Operator only."""
    if body.stage == "eval":
        check_eval_lists(body.overrides)
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


class ChoiceField(BaseModel):
    """A list-valued setting whose items come from a fixed set (an eval's tasks, its prompt types)."""

    title: str
    description: str | None = None
    options: list[str] = Field(description="every value the item may take, in display order")
    default: list[str] = Field(description="what a run gets when the field is not overridden")


class ConfigSchema(BaseModel):
    title: str
    properties: dict[str, ConfigField]
    choices: dict[str, ChoiceField] = Field(
        default_factory=dict,
        description="list-valued settings (sent in `overrides` as lists of names): an eval's tasks "
        "and prompt types",
    )


def eval_choices() -> dict[str, ChoiceField]:
    """The lists an eval run may narrow: tasks the simulator knows and the prompt types evaluated."""
    from pixelvla.evaluation import PROMPT_TYPES, EvalConfig
    from pixelvla_sim.tasks import TASKS

    cfg = EvalConfig()
    return {
        "tasks": ChoiceField(
            title="tasks",
            description="simulator tasks to evaluate (rows of the result table)",
            options=list(TASKS),
            default=list(cfg.tasks),
        ),
        "prompt_types": ChoiceField(
            title="prompt types",
            description="prompt types to evaluate ('none' is text only; columns of the result table)",
            options=list(PROMPT_TYPES),
            default=list(cfg.prompt_types),
        ),
    }


def check_eval_lists(overrides: dict[str, Any]) -> None:
    """Typed 400 for an eval's task / prompt-type lists that name nothing known or are empty: the
    simulator would only fail on them minutes later, inside the run."""
    for key, field in eval_choices().items():
        if key not in overrides:
            continue
        value = overrides[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(f"overrides.{key} must be a list of names", code="invalid_overrides")
        if not value:
            raise ApiError(
                f"overrides.{key} is empty: choose at least one of {', '.join(field.options)}",
                code="invalid_overrides",
            )
        unknown = [v for v in value if v not in field.options]
        if unknown:
            raise ApiError(
                f"overrides.{key} names unknown {field.title} {unknown}; known: {', '.join(field.options)}",
                code="invalid_overrides",
            )


@router.get("/config-schema", response_model=ConfigSchema)
def config_schema(stage: RunStage = "stage2") -> ConfigSchema:
    """The tunable config fields of a stage (types, defaults, limits): TrainConfig for the training
    stages, EvalConfig for eval. The studio's launch form is generated from it and sends only the
    fields that differ from the defaults, as `overrides`."""
    from pixelvla import evaluation
    from pixelvla.train import config

    if stage == "eval":
        return ConfigSchema.model_validate({**evaluation.config_schema(), "choices": eval_choices()})
    return ConfigSchema.model_validate(config.config_schema())


@router.get("", response_model=RunList)
def list_runs(m: Mgr, status: RunStatusName | None = None) -> RunList:
    """Every run in the registry (optionally only those with `status`), each with its latest
    progress from metrics.jsonl, finished checkpoints and whether a bundle can be deployed."""
    return RunList(runs=[to_model(m, r) for r in m.registry.find(status)])


@router.get("/{run_id}", response_model=Run)
def get_run(run_id: str, m: Mgr) -> Run:
    """One run: its request, status, times (Unix seconds), attempts, progress and the model id its
    bundle gets when deployed."""
    return to_model(m, m.get(run_id))


@router.post(
    "/{run_id}/cancel", response_model=Run, responses=WRITES, dependencies=[Depends(require_operator)]
)
async def cancel_run(run_id: str, m: Mgr) -> Run:
    """Cancel a queued or running run (its process group is stopped); 409 `run_finished` when it has
    already ended. A cancelled run can be resumed. Operator only."""
    # Cancel may wait for the process group to exit: keep it off the event loop.
    rec = await asyncio.to_thread(m.cancel, run_id)
    return to_model(m, rec)


@router.post(
    "/{run_id}/resume", response_model=Run, responses=WRITES, dependencies=[Depends(require_operator)]
)
def resume_run(run_id: str, m: Mgr) -> Run:
    """Queue a failed or cancelled run again; it continues from its last checkpoint (`--resume`).
    409 `run_not_resumable` for other states. Operator only."""
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
    """Delete a finished run: its registry row and its folder (checkpoints, logs, bundle). A bundle
    already deployed stays in the model registry. 409 `run_active` while it is queued or running
    (cancel it first). Operator only."""
    m.delete(run_id)


@router.get("/{run_id}/metrics", response_model=MetricsPage)
def run_metrics(
    run_id: str,
    m: Mgr,
    offset: int = Query(0, ge=0, le=2**50),
    limit: int = Query(1000, ge=1, le=10000),
) -> MetricsPage:
    """Records of the run's metrics.jsonl from byte `offset` (at most `limit`): training steps with
    loss and throughput, events (start, done, failed), an eval run's summary record. Poll with
    `offset=next_offset` to get only newer records."""
    m.get(run_id)
    records, next_offset, skipped = read_metrics(m.run_dir(run_id) / "metrics.jsonl", offset, limit)
    return MetricsPage(records=records, next_offset=next_offset, skipped=skipped)


@router.get("/{run_id}/logs", response_model=RunLogs)
def run_logs(run_id: str, m: Mgr, tail: int = Query(200, ge=1, le=5000)) -> RunLogs:
    """The last `tail` lines of the run's log (stdout and stderr of every attempt). A progress bar
    that redraws itself with carriage returns counts as one line, its latest state."""
    m.get(run_id)
    return RunLogs(lines=tail_log(m.run_dir(run_id) / "log.txt", tail))


class EvalRate(BaseModel):
    success: float = Field(description="fraction of the episodes that succeeded, 0..1")
    n: int = Field(description="episodes")


class EvalSummary(BaseModel):
    overall: EvalRate
    task: dict[str, EvalRate] = Field(default_factory=dict)
    prompt_type: dict[str, EvalRate] = Field(default_factory=dict)
    scene: dict[str, EvalRate] = Field(default_factory=dict, description="ambiguous / unambiguous")
    scene_prompt: dict[str, EvalRate] = Field(default_factory=dict, description='"scene/prompt_type"')
    cell: dict[str, EvalRate] = Field(default_factory=dict, description='"task/prompt_type"')


class EvalEpisode(BaseModel):
    task: str
    prompt_type: str
    seed: int
    ambiguous: bool
    success: bool
    steps: int


class EvalResult(BaseModel):
    run_id: str
    tasks: list[str] = Field(description="the table's rows, in the run's order")
    prompt_types: list[str] = Field(description="the table's columns, in the run's order")
    config: dict[str, Any] = Field(description="the EvalConfig the run used")
    summary: EvalSummary
    episodes: list[EvalEpisode]


def read_eval(run_id: str, path: Path) -> EvalResult:
    """eval.json as the run wrote it (pixelvla.evaluation.EvalReport.to_json), checked: a file that
    is not a report is a typed 500 naming it, never a half-drawn table."""
    try:
        if path.stat().st_size > MAX_EVAL_BYTES:
            raise ApiError(
                f"{path.name} of run {run_id} exceeds {MAX_EVAL_BYTES} bytes",
                code="eval_unreadable",
                status=500,
            )
        raw = json.loads(path.read_bytes())
        summary = EvalSummary.model_validate(raw["summary"])
        episodes = [EvalEpisode.model_validate(e) for e in raw.get("episodes", [])]
        config = raw.get("config") or {}
        if not isinstance(config, dict):
            raise ValueError("config is not an object")
    except FileNotFoundError:
        raise NotFound(
            f"run {run_id} has no evaluation result (an eval run writes eval.json when it finishes)",
            code="no_eval_result",
        ) from None
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ApiError(
            f"{path.name} of run {run_id} is not an evaluation report: {exc}",
            code="eval_unreadable",
            status=500,
        ) from exc

    def order(configured: Any, seen: dict[str, EvalRate]) -> list[str]:
        names = [n for n in configured if n in seen] if isinstance(configured, list) else []
        return names + sorted(n for n in seen if n not in names)

    return EvalResult(
        run_id=run_id,
        tasks=order(config.get("tasks"), summary.task),
        prompt_types=order(config.get("prompt_types"), summary.prompt_type),
        config=config,
        summary=summary,
        episodes=episodes,
    )


@router.get(
    "/{run_id}/eval",
    response_model=EvalResult,
    responses={500: {"model": ErrorResponse, "description": "eval_unreadable: eval.json is damaged"}},
)
def run_eval(run_id: str, m: Mgr) -> EvalResult:
    """An eval run's results (its eval.json): success per task x prompt type (`summary.cell`), per
    task, per prompt type, per scene (ambiguous or not), overall, and every episode. 404
    `no_eval_result` until the run has written it (or for training runs)."""
    m.get(run_id)
    return read_eval(run_id, m.run_dir(run_id) / "eval.json")


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
