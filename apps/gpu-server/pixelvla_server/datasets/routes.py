"""/v1/datasets: datasets, episodes, frames (JPEG), actions and versioned annotations. Ids only, never paths."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pixelvla.observation import MAX_INSTRUCTION_CHARS, MAX_PROMPTS
from pydantic import BaseModel, Field, ValidationError

from ..errors import ERROR_RESPONSES, ApiError, ErrorResponse
from ..ids import ID_PATTERN
from ..schemas import RleMask
from ..security import require_operator
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
    action_dim: int = Field(default=0, description="size of the action vector (0: no action feature)")
    state_dim: int = Field(default=0, description="size of observation.state (0: none)")
    video_cameras: list[str] = Field(default_factory=list, description="cameras stored as mp4 video")
    notes: list[str] = Field(
        default_factory=list, description="what the reader worked around (e.g. quantiles computed)"
    )


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
    actions: list[list[float]] = Field(description="(T, A): A is the dataset's action size")
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
    instruction: str | None = Field(default=None, max_length=MAX_INSTRUCTION_CHARS)
    target_object: str | None = Field(default=None, max_length=200)
    prompts: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_PROMPTS, description="prompt JSON"
    )
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
    """Every dataset the server can read (its own <data-dir>/datasets and any --datasets-dir), with
    episode and frame counts, fps, cameras and tasks; a folder that fails to open is listed under
    `unreadable` with the reason instead of failing the whole list."""
    out, bad = [], {}
    for i in cat.ids():
        try:
            out.append(_summary(i, cat.open(i)))
        except ApiError as exc:
            bad[i] = exc.message
    return DatasetList(datasets=out, unreadable=bad)


@router.get("/{dataset_id}", response_model=DatasetDetail)
def get_dataset(dataset_id: str, cat: Cat) -> DatasetDetail:
    """One dataset in detail: the summary plus the action q01/q99 bounds (null when its stats have
    none), action and state sizes, which cameras are video features, and the reader's notes."""
    ds = cat.open(dataset_id)
    try:
        q01, q99 = ds.action_bounds()
        bounds: tuple[list[float] | None, list[float] | None] = (q01.tolist(), q99.tolist())
    except ValueError:
        bounds = (None, None)
    return DatasetDetail(
        **_summary(dataset_id, ds).model_dump(),
        action_q01=bounds[0],
        action_q99=bounds[1],
        action_dim=ds.action_dim,
        state_dim=ds.state_dim,
        video_cameras=[c for c in ds.cameras if ds.features[ds.camera_key(c)]["dtype"] == "video"],
        notes=list(ds.notes),
    )


@router.get("/{dataset_id}/episodes", response_model=EpisodeList)
def list_episodes(dataset_id: str, cat: Cat) -> EpisodeList:
    """The dataset's episodes: index, length in frames, task text, and whether its Pixel sidecar
    (auto-annotation) exists."""
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
    """One episode's numbers: every frame's recorded action and proprioceptive state, timestamps,
    fps and cameras (frames themselves come from .../frames/{t})."""
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
    """Frame `t` of the episode from one camera, as JPEG (decoded server-side for video features,
    through the frame cache). Cacheable: datasets do not change under a running server."""
    from PIL import Image

    img = cat.frame(dataset_id, index, t, camera)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    # Datasets are immutable: let the browser cache frames.
    return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/{dataset_id}/episodes/{index}/annotations", response_model=AnnotationHistory)
def get_annotations(dataset_id: str, index: int, cat: Cat) -> AnnotationHistory:
    """The episode's annotations: the dataset's own sidecar (auto-annotation, camera models) and
    every version saved from the studio, oldest first; `latest` is what a new version's
    `base_version` is checked against."""
    ep = cat.episode(dataset_id, index)
    records = cat.annotation_versions(dataset_id, index)
    versions = []
    for v in records:
        try:
            versions.append(AnnotationVersion.model_validate(v))
        except ValidationError:
            continue  # a stored file that is not a version this server writes: not shown
    return AnnotationHistory(
        sidecar=ep.annotation,
        versions=versions,
        latest=records[-1]["version"] if records else 0,  # what base_version is checked against
    )


@router.post(
    "/{dataset_id}/episodes/{index}/annotations",
    response_model=AnnotationVersion,
    status_code=201,
    responses={403: {"model": ErrorResponse, "description": "Operator token missing or wrong"}},
    dependencies=[Depends(require_operator)],
)
def add_annotation(dataset_id: str, index: int, body: AnnotationCreate, cat: Cat) -> AnnotationVersion:
    """Saves a version that training will read: operator only (it changes what every later run on
    the dataset learns), and checked with the validators training applies to stored versions
    (pixelvla.train.annotations): prompt JSON, RLE, every mask the size of its camera's frames."""
    from pixelvla.prompts import Mask, prompts_from_json, prompts_to_json
    from pixelvla.train.annotations import check_mask_size

    ep = cat.episode(dataset_id, index)
    ds = cat.open(dataset_id)
    if body.frame >= ep.length:
        raise ApiError(
            f"frame {body.frame} is past the episode's end ({ep.length} frames)", code="unknown_frame"
        )
    parsed = prompts_from_json(body.prompts)  # PromptError / RleError -> 400 invalid_prompt / invalid_rle
    if body.camera not in ds.cameras:
        raise ApiError(f"camera {body.camera!r} is not in this dataset ({ds.cameras})", code="unknown_camera")
    size = cat.frame_size(dataset_id, index, body.camera)
    for p in parsed:
        if isinstance(p, Mask):  # RleError -> 400 invalid_rle
            check_mask_size(p.rle, size, f"{body.camera} mask prompt")
    for m in body.masks:
        if m.camera not in ds.cameras:
            raise ApiError(
                f"camera {m.camera!r} is not in this dataset ({ds.cameras})", code="unknown_camera"
            )
        if m.frame >= ep.length:
            raise ApiError(f"mask frame {m.frame} is past the episode's end", code="unknown_frame")
        check_mask_size(m.rle.model_dump(), cat.frame_size(dataset_id, index, m.camera), f"{m.camera} mask")
    record = body.model_dump(exclude={"base_version"})
    record["prompts"] = prompts_to_json(parsed)
    saved = cat.add_annotation(dataset_id, index, record, body.base_version)
    return AnnotationVersion(**saved)
