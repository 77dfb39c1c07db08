"""Policy serving: the model registry, POST /v1/policy/predict (JSON), POST /v1/policy/predict/msgpack
(the stream's msgpack observation and reply over HTTP: what the studio's Prompt page sends) and the
WebSocket /v1/policy/stream.

The same stream is also served at "/" for openpi clients: openpi-client's default
`WebsocketClientPolicy(host, port)` connects to ws://host:port with no path, and its `unpack_array` decodes
only arrays whose keys are msgpack bin, so replies on "/" write them that way (wire.packb(bin_keys=True)).
Everything else (frames, errors, close codes) is the same on both paths.

Stream protocol (binary msgpack frames, arrays in openpi's layout via pixelvla.wire):
- server -> client, first frame: metadata {"type": "metadata", "protocol", "id", "model_id", "name", "config",
  "chunk_size", "action_dim", "image_size", "encoder_hash", "normalization_key", "observation" (the
  model's ObservationSpec), "max_message_bytes"}.
- client -> server: an observation map (see codec.py); one reply per observation, unless a newer one from the
  same connection replaced it before it ran (then {"type": "dropped", "seq"}).
- server -> client reply: {"type": "actions", "actions": f32 (N, 7), "actions_normalized", "model_id", "seq",
  "timing_ms": {...}}; after a hot-swap the first reply also carries "metadata" (the new model's).
- errors that concern one message: {"type": "error", "error": {"code", "message"}, "seq"}; the socket stays open.
  A bug while handling one message is answered the same way with code "internal" (and logged).
- close codes: 1003 text frame, 1008 bad token, 1009 message too large, 1011 server error, 1001 shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import logging
import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from pixelvla import observation as spec
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketState

from .. import __version__
from ..errors import ERROR_RESPONSES, ApiError, ErrorResponse
from ..ids import ID_PATTERN, list_model_dirs
from ..schemas import ObservationSpec, PolicyMetadata, RleMask
from ..security import api_token_ok, require_operator
from .codec import InvalidObservation
from .service import LoadedPolicy, PolicyService, PredictResult
from .worker import StaleDropped

log = logging.getLogger("pixelvla_server.policy")
router = APIRouter(tags=["policy"], responses=ERROR_RESPONSES)
PROTOCOL = "pixelvla.policy.v1"
_conn_ids = itertools.count()

CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011


class ModelInfo(BaseModel):
    id: str
    loaded: bool


class ModelList(BaseModel):
    models: list[ModelInfo]
    loaded: str | None
    loading: str | None
    load_error: str | None


class FrameRef(BaseModel):
    dataset: str = Field(pattern=ID_PATTERN)
    episode: int = Field(ge=0)
    frame: int = Field(ge=0)
    camera: str = Field(default="front", pattern=ID_PATTERN)


class PredictRequest(BaseModel):
    """Bounds are the server-wide ceilings of pixelvla.observation; the served model's own limits
    (its ObservationSpec in /v1/meta) are checked after, by the same code as every other door."""

    image_b64: str | None = Field(default=None, max_length=12_000_000, description="JPEG or PNG, base64")
    frame_ref: FrameRef | None = None
    instruction: str = Field(default="", max_length=spec.MAX_INSTRUCTION_CHARS)
    prompt_tokens: list[list[float]] | None = Field(
        default=None,
        max_length=spec.PROMPT_TOKENS_SHAPE[0],
        description="(N_s, dim): observation.prompt_tokens",
    )
    prompt_valid: list[bool] | None = Field(default=None, max_length=spec.PROMPT_TOKENS_SHAPE[0])
    prompts: list[dict[str, Any]] | None = Field(
        default=None, max_length=spec.MAX_PROMPTS, description="prompt JSON"
    )
    pixel_masks: list[RleMask] | None = Field(default=None, max_length=spec.MAX_PIXEL_MASKS)
    state: list[float] | None = Field(default=None, max_length=spec.MAX_STATE_VALUES)


class Grounding(BaseModel):
    """What the model's text grounder (pixelvla.text_grounder) found for the instruction."""

    object_found: bool = Field(description="the object the instruction acts on was found in the frame")
    object_score: float = Field(description="the most confident pixel's probability, 0-1")
    object_box: list[float] | None = Field(
        description="[x0, y0, x1, y1] in normalised image coordinates, of the likeliest match"
    )
    matches: int = Field(
        default=0, description='separate objects that fit the words (3 for "the cube" among three cubes)'
    )
    target_found: bool = Field(description="the container the instruction names was found")
    target_box: list[float] | None
    used: bool = Field(description="nothing was drawn, so the found object was the prompt")
    agrees: bool | None = Field(
        description="a prompt was drawn: whether it overlaps the object the instruction names (the prompt "
        "wins either way); null when nothing was drawn or the instruction's object was not found"
    )


class PredictResponse(BaseModel):
    model_id: str
    actions: list[list[float]] = Field(description="(chunk_size, 7) un-normalised")
    actions_normalized: list[list[float]]
    timing_ms: dict[str, float]
    grounding: Grounding | None = Field(default=None, description="null: the model has no text grounder")


def service(request: Request) -> PolicyService:
    return request.app.state.studio.policy  # type: ignore[no-any-return]


Svc = Annotated[PolicyService, Depends(service)]


def metadata_of(model: LoadedPolicy) -> PolicyMetadata:
    m = model.metadata
    return PolicyMetadata(
        id=model.id,
        model_id=str(m.get("model_id", "")),
        name=str(m.get("name", model.id)),
        config=str(m.get("config", "")),
        chunk_size=int(m["chunk_size"]),
        action_dim=int(m["action_dim"]),
        image_size=int(m["image_size"]),
        encoder_hash=m.get("encoder_hash"),
        normalization_key=m.get("normalization_key"),
        observation=ObservationSpec(**m["observation"]),
        grounds_text=bool(m.get("grounds_text", False)),
        grounds_targets=bool(m.get("grounds_targets", False)),
    )


@router.get("/v1/models", response_model=ModelList)
def list_models(request: Request, svc: Svc) -> ModelList:
    """Every bundle in the model registry (the models folder and deployed runs), which one the
    policy serves now, a load in progress and the last load error."""
    current = svc.current
    found = list_model_dirs(request.app.state.studio.settings)
    return ModelList(
        models=[ModelInfo(id=i, loaded=current is not None and current.id == i) for i in found],
        loaded=current.id if current else None,
        loading=svc.loading,
        load_error=svc.load_error,
    )


@router.post(
    "/v1/models/{model_id}/load",
    response_model=PolicyMetadata,
    dependencies=[Depends(require_operator)],
    responses={403: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
async def load_model(model_id: str, svc: Svc) -> PolicyMetadata:
    """Hot-swap: load + warm up beside the serving model, then switch; open streams keep going."""
    loaded = await asyncio.to_thread(svc.load, model_id)
    return metadata_of(loaded)


@router.get("/v1/policy/metadata", response_model=PolicyMetadata, responses={503: {"model": ErrorResponse}})
def policy_metadata(svc: Svc) -> PolicyMetadata:
    """The served model: registry id, weights hash, config name, action chunk size and dimension,
    image size, its prompt encoder's hash and its observation spec (the limits every observation is
    checked against). 503 while no model is loaded."""
    if svc.current is None:
        raise ApiError("no model is loaded yet", code="model_not_loaded", status=503)
    return metadata_of(svc.current)


@router.post("/v1/policy/predict", response_model=PredictResponse, responses={503: {"model": ErrorResponse}})
async def predict(body: PredictRequest, svc: Svc) -> PredictResponse:
    """One action chunk for a frame (`image_b64`, JPEG or PNG within the observation spec's
    largest side, or `frame_ref` to a dataset frame), an instruction and visual prompts:
    browser-encoded `prompt_tokens` + `prompt_valid` when the encoders match, else prompt JSON for
    the server to encode, plus the model's `pixel_masks` (COCO RLE) and the robot's `state`. Returns
    actions in robot units and normalised, with per-stage timings. The studio uses the msgpack twin
    below (tokens as float32 bytes); this JSON form is for curl and scripts."""
    obs: dict[str, Any] = body.model_dump(
        exclude={"image_b64", "frame_ref", "pixel_masks"}, exclude_none=True
    )
    if body.image_b64 is not None:
        try:
            obs["image"] = base64.b64decode(body.image_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidObservation(f"image_b64 is not valid base64: {exc}") from exc
    if body.frame_ref is not None:
        obs["frame_ref"] = body.frame_ref.model_dump()
    if body.pixel_masks is not None:
        obs["pixel_masks"] = [m.model_dump() for m in body.pixel_masks]
    if body.prompt_tokens is not None:
        obs["prompt_tokens"] = (
            np.asarray(body.prompt_tokens, dtype=np.float32) if _rect(body.prompt_tokens) else []
        )
    result = await svc.predict(("http", next(_conn_ids)), obs)
    return PredictResponse(
        model_id=result.model.id,
        actions=result.actions.tolist(),
        actions_normalized=result.actions_normalized.tolist(),
        timing_ms=result.timing_ms,
        grounding=Grounding(**result.grounding) if result.grounding is not None else None,
    )


def _rect(rows: list[list[float]]) -> bool:
    return len({len(r) for r in rows}) <= 1


MSGPACK = "application/msgpack"


@router.post(
    "/v1/policy/predict/msgpack",
    response_class=Response,
    responses={
        200: {
            "content": {MSGPACK: {"schema": {"type": "string", "format": "binary"}}},
            "description": 'the stream\'s reply: {"type": "actions", "actions": f32 (N_c, 7), ...}',
        },
        503: {"model": ErrorResponse},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MSGPACK: {"schema": {"type": "string", "format": "binary"}}},
            "description": "one observation map, exactly as on WS /v1/policy/stream",
        }
    },
)
async def predict_msgpack(request: Request, svc: Svc) -> Response:
    """One action chunk, in the policy stream's encoding over plain HTTP: the body is one msgpack
    observation (arrays in openpi's layout, image as JPEG/PNG bytes or `frame_ref`), the answer the
    stream's `actions` reply in msgpack. Tokens travel as float32 bytes, not JSON numbers. Errors are
    the usual JSON error bodies."""
    from pixelvla import wire

    t_recv = time.perf_counter()
    max_bytes = request.app.state.studio.settings.max_request_bytes
    obs = wire.unpackb(await request.body(), max_bytes=max_bytes)  # WireError: 400 invalid_message
    seq = obs.get("seq") if isinstance(obs, dict) else None
    result = await svc.predict(("http", next(_conn_ids)), obs)
    reply = actions_reply(result, seq)
    reply["timing_ms"]["server_total"] = (time.perf_counter() - t_recv) * 1000.0
    return Response(wire.packb(reply), media_type=MSGPACK)


def actions_reply(result: PredictResult, seq: Any) -> dict[str, Any]:
    """The reply to one observation, on the stream and on POST /v1/policy/predict/msgpack."""
    return {
        "type": "actions",
        "actions": result.actions,
        "actions_normalized": result.actions_normalized,
        "model_id": result.model.id,
        "seq": seq,
        "timing_ms": result.timing_ms,
        "grounding": result.grounding,
    }


# ---- WebSocket ---------------------------------------------------------------------------------------


def _stream_metadata(model: LoadedPolicy, max_bytes: int) -> dict[str, Any]:
    meta = metadata_of(model).model_dump()
    return {
        "type": "metadata",
        "protocol": PROTOCOL,
        "server_version": __version__,
        "max_message_bytes": max_bytes,
        **meta,
    }


def _error_frame(code: str, message: str, seq: Any = None) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message}, "seq": seq}


@router.websocket("/v1/policy/stream")
async def stream(ws: WebSocket) -> None:
    await _stream(ws, bin_keys=False)


@router.websocket("/")
async def openpi_stream(ws: WebSocket) -> None:
    """openpi's place for the policy: the same stream, arrays packed with openpi's bin keys."""
    await _stream(ws, bin_keys=True)


async def _stream(ws: WebSocket, *, bin_keys: bool) -> None:
    from pixelvla import wire
    from pixelvla.errors import PixelVLAError
    from pixelvla.wire import unpackb

    def packb(obj: object) -> bytes:
        return wire.packb(obj, bin_keys=bin_keys)

    state = ws.app.state.studio
    settings = state.settings
    svc: PolicyService = state.policy
    max_bytes = settings.max_request_bytes
    await ws.accept()
    if not api_token_ok(settings, ws.headers, ws.query_params):  # predictions need the API token only
        await ws.close(CLOSE_POLICY, "missing or wrong API token (?token=, Authorization: Bearer or Api-Key)")
        return
    model = svc.current
    if model is None:
        await ws.send_bytes(packb(_error_frame("model_not_loaded", "no model is loaded yet; retry shortly")))
        await ws.close(1013, "no model loaded")
        return
    await ws.send_bytes(packb(_stream_metadata(model, max_bytes)))
    sent_model = model.id + str(model.loaded_at)
    key = ("ws", next(_conn_ids))
    send_lock = asyncio.Lock()
    tasks: set[asyncio.Task[None]] = set()

    async def send(obj: dict[str, Any]) -> None:
        async with send_lock:
            if ws.client_state == WebSocketState.CONNECTED:
                await ws.send_bytes(packb(obj))

    async def serve(payload: bytes, t_recv: float) -> None:
        seq: Any = None
        try:
            try:
                obs = unpackb(payload, max_bytes=max_bytes)
                seq = obs.get("seq") if isinstance(obs, dict) else None
                result: PredictResult = await svc.predict(key, obs)
            except StaleDropped:
                await send({"type": "dropped", "seq": seq})
                return
            except (ApiError, PixelVLAError) as exc:
                await send(_error_frame(exc.code, exc.message, seq))
                return
            await send(reply_of(result, t_recv, seq))
        except Exception as exc:  # a bug: this message gets a typed answer, the socket stays open
            if ws.client_state != WebSocketState.CONNECTED:
                return  # the client left while we worked; there is no one to answer
            log.error("policy stream message failed", exc_info=exc, extra={"conn": key[1]})
            await answer_internal(exc, seq)

    def reply_of(result: PredictResult, t_recv: float, seq: Any) -> dict[str, Any]:
        nonlocal sent_model
        reply = actions_reply(result, seq)
        tag = result.model.id + str(result.model.loaded_at)
        if tag != sent_model:
            sent_model = tag
            reply["metadata"] = _stream_metadata(result.model, max_bytes)
        reply["timing_ms"]["server_total"] = (time.perf_counter() - t_recv) * 1000.0
        return reply

    async def answer_internal(exc: Exception, seq: Any) -> None:
        message = f"internal error while handling this message: {type(exc).__name__}"
        try:
            await send(_error_frame("internal", message, seq))
        except Exception:  # the echoed seq itself may be what failed to encode
            await send(_error_frame("internal", message, None))

    def reap(task: asyncio.Task[None]) -> None:
        """Retrieve every task's outcome, so that no exception is left for asyncio to complain about."""
        tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("policy stream task failed", exc_info=exc, extra={"conn": key[1]})

    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            t_recv = time.perf_counter()
            data = msg.get("bytes")
            if data is None:
                await send(_error_frame("invalid_message", "send binary msgpack frames, not text"))
                await ws.close(CLOSE_UNSUPPORTED, "text frames are not supported; send binary msgpack")
                break
            if len(data) > max_bytes:
                await ws.close(CLOSE_TOO_BIG, f"message of {len(data)} bytes exceeds {max_bytes}")
                break
            task = asyncio.create_task(serve(data, t_recv))
            tasks.add(task)
            task.add_done_callback(reap)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("policy stream failed")
        with contextlib.suppress(Exception):
            await ws.close(CLOSE_INTERNAL, "internal server error")
    finally:
        for t in tasks:
            t.cancel()
