"""/v1/datasets: datasets, episodes, frames (JPEG), actions and versioned annotations. Ids only, never paths."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..errors import ERROR_RESPONSES, ApiError
from ..ids import ID_PATTERN
from ..schemas import RleMask
from .catalog import Catalog

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


class DatasetSummary(BaseModel):
    id: str
    num_episodes: int
    num_frames: int
    fps: int
    cameras: list[str]
    tasks: list[str]


class DatasetList(BaseModel):
    datasets: list[DatasetSummary]
    unreadable: dict[str, str] = Field(description="dataset id -> why it cannot be read")


class DatasetDetail(DatasetSummary):
    action_q01: list[float] | None
    action_q99: list[float] | None


class EpisodeSummary(BaseModel):
    index: int
    length: int
    task: str
    has_sidecar: bool


class EpisodeList(BaseModel):
    episodes: list[EpisodeSummary]


class EpisodeData(BaseModel):
    index: int
    length: int
    task: str
    fps: int
    cameras: list[str]
    actions: list[list[float]] = Field(description="(T, 7)")
    state: list[list[float]] = Field(description="(T, S)")
    timestamps: list[float]


class AnnotationMask(BaseModel):
    frame: int = Field(ge=0)
    camera: str = Field(default="front", pattern=ID_PATTERN)
    label: str = Field(default="", max_length=200)
    rle: RleMask


class AnnotationCreate(BaseModel):
    frame: int = Field(default=0, ge=0, description="frame the prompts were drawn on")
    camera: str = Field(default="front", pattern=ID_PATTERN)
    instruction: str | None = Field(default=None, max_length=1000)
    target_object: str | None = Field(default=None, max_length=200)
    prompts: list[dict[str, Any]] = Field(default_factory=list, max_length=16, description="prompt JSON")
    masks: list[AnnotationMask] = Field(default_factory=list, max_length=8)
    note: str = Field(default="", max_length=2000)
    base_version: int | None = Field(
        default=None, ge=0, description="the version this edit starts from; 409 if someone saved since"
    )


class AnnotationVersion(BaseModel):
    version: int
    created_at: float
    frame: int
    camera: str
    instruction: str | None
    target_object: str | None
    prompts: list[dict[str, Any]]
    masks: list[AnnotationMask]
    note: str


class AnnotationHistory(BaseModel):
    sidecar: dict[str, Any] | None = Field(description="the dataset's own Pixel annotation (auto-generated)")
    versions: list[AnnotationVersion]
    latest: int = Field(description="0 when the studio has not saved any version")


def catalog(request: Request) -> Catalog:
    return request.app.state.studio.datasets  # type: ignore[no-any-return]


Cat = Annotated[Catalog, Depends(catalog)]


def _summary(dataset_id: str, ds: Any) -> DatasetSummary:
    return DatasetSummary(
        id=dataset_id,
        num_episodes=ds.num_episodes,
        num_frames=ds.num_frames,
        fps=ds.fps,
        cameras=list(ds.cameras),
        tasks=list(ds.tasks),
    )


@router.get("", response_model=DatasetList)
def list_datasets(cat: Cat) -> DatasetList:
    out, bad = [], {}
    for i in cat.ids():
        try:
            out.append(_summary(i, cat.open(i)))
        except ApiError as exc:
            bad[i] = exc.message
    return DatasetList(datasets=out, unreadable=bad)


@router.get("/{dataset_id}", response_model=DatasetDetail)
def get_dataset(dataset_id: str, cat: Cat) -> DatasetDetail:
    ds = cat.open(dataset_id)
    try:
        q01, q99 = ds.action_bounds()
        bounds: tuple[list[float] | None, list[float] | None] = (q01.tolist(), q99.tolist())
    except ValueError:
        bounds = (None, None)
    return DatasetDetail(**_summary(dataset_id, ds).model_dump(), action_q01=bounds[0], action_q99=bounds[1])


@router.get("/{dataset_id}/episodes", response_model=EpisodeList)
def list_episodes(dataset_id: str, cat: Cat) -> EpisodeList:
    ds = cat.open(dataset_id)
    ann = ds.annotations
    return EpisodeList(
        episodes=[
            EpisodeSummary(index=e.index, length=e.length, task=e.task, has_sidecar=e.index in ann)
            for e in ds.episodes
        ]
    )


@router.get("/{dataset_id}/episodes/{index}", response_model=EpisodeData)
def get_episode(dataset_id: str, index: int, cat: Cat) -> EpisodeData:
    ep = cat.episode(dataset_id, index)
    ds = cat.open(dataset_id)
    return EpisodeData(
        index=ep.index,
        length=ep.length,
        task=ep.task,
        fps=ds.fps,
        cameras=list(ds.cameras),
        actions=ep.actions.tolist(),
        state=ep.state.tolist(),
        timestamps=ep.timestamps.tolist(),
    )


@router.get(
    "/{dataset_id}/episodes/{index}/frames/{t}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the frame as JPEG"}},
)
def get_frame(
    dataset_id: str,
    index: int,
    t: int,
    cat: Cat,
    camera: str = Query("front", pattern=ID_PATTERN),
    quality: int = Query(90, ge=30, le=100),
) -> Response:
    from PIL import Image

    img = cat.frame(dataset_id, index, t, camera)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    # Datasets are immutable: let the browser cache frames.
    return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/{dataset_id}/episodes/{index}/annotations", response_model=AnnotationHistory)
def get_annotations(dataset_id: str, index: int, cat: Cat) -> AnnotationHistory:
    ep = cat.episode(dataset_id, index)
    versions = cat.annotation_versions(dataset_id, index)
    return AnnotationHistory(
        sidecar=ep.annotation,
        versions=[AnnotationVersion(**v) for v in versions],
        latest=versions[-1]["version"] if versions else 0,
    )


@router.post("/{dataset_id}/episodes/{index}/annotations", response_model=AnnotationVersion, status_code=201)
def add_annotation(dataset_id: str, index: int, body: AnnotationCreate, cat: Cat) -> AnnotationVersion:
    from pixelvla import rle
    from pixelvla.prompts import prompts_from_json, prompts_to_json

    ep = cat.episode(dataset_id, index)
    ds = cat.open(dataset_id)
    if body.frame >= ep.length:
        raise ApiError(
            f"frame {body.frame} is past the episode's end ({ep.length} frames)", code="unknown_frame"
        )
    prompts = prompts_to_json(prompts_from_json(body.prompts))  # PromptError -> 400 invalid_prompt
    if body.camera not in ds.cameras:
        raise ApiError(f"camera {body.camera!r} is not in this dataset ({ds.cameras})", code="unknown_camera")
    for m in body.masks:
        if m.camera not in ds.cameras:
            raise ApiError(
                f"camera {m.camera!r} is not in this dataset ({ds.cameras})", code="unknown_camera"
            )
        if m.frame >= ep.length:
            raise ApiError(f"mask frame {m.frame} is past the episode's end", code="unknown_frame")
        h, w = rle.validate(m.rle.model_dump())  # RleError -> 400 invalid_rle
        size = _camera_size(ds, m.camera)
        if size is not None and (h, w) != size:
            raise ApiError(
                f"mask size {[h, w]} does not match the {m.camera} camera ({list(size)})", code="invalid_rle"
            )
    record = body.model_dump(exclude={"base_version"})
    record["prompts"] = prompts
    saved = cat.add_annotation(dataset_id, index, record, body.base_version)
    return AnnotationVersion(**saved)


def _camera_size(ds: Any, camera: str) -> tuple[int, int] | None:
    feat = ds.features.get(f"observation.images.{camera}")
    shape = feat.get("shape") if isinstance(feat, dict) else None
    if isinstance(shape, list) and len(shape) == 3:
        return int(shape[0]), int(shape[1])
    return None
