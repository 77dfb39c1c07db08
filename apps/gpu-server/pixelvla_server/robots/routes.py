"""Robot sessions under /v1/robots and their WebSocket /v1/robots/{id}/stream.

Stream protocol (binary msgpack frames):
- server -> client, first: {"type": "session", ...RobotSessionInfo, "role": "controller"|"watcher"}
- server -> client, at the control rate: {"type": "frame", "seq", "t", "images": {camera: JPEG bytes},
  "state": f32 (8,), "action": f32 (7,) | None, "mode", "instruction"}; a slow client skips frames.
- server -> client: {"type": "status", "mode", "reason", "stop": {reason, silent_ms, server_ms, limit_ms, detail},
  "error"} on every stop (never dropped for a frame); {"type": "ack", "command", ...};
  {"type": "error", "error": {"code", "message"}}; to the controller, once a second,
  {"type": "link", ...LinkInfo} (heartbeat gaps p50/p99/max over 30 s, silence now, event-loop lag).
- client -> server (controller only): {"type": "heartbeat"} | {"type": "prompt", "instruction", "prompt_tokens",
  "prompt_valid", "prompts", "pixel_masks"} | {"type": "go"} | {"type": "stop"} | {"type": "estop"} |
  {"type": "reset_estop"} | {"type": "jog", "delta": [7 floats]} | {"type": "record", "on": bool}; stop and
  estop take an optional "reason" (<= 200 chars) that the session's last_stop keeps as its detail.
  Every message counts as a heartbeat; send one every heartbeat_ms (session message: deadman_ms / 4).
- close codes: 4403 operator token required for control, 4409 robot already has a controller,
  4404 unknown session, 1008 bad API token, 1003 text frame, 1009 message too large.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from ..config import Settings
from ..errors import ERROR_RESPONSES, ApiError, Conflict, ErrorResponse, NotFound, decoding
from ..ids import check_id, datasets_root
from ..security import api_token_ok, operator_ok, require_operator
from .session import DEADMAN_MAX_MS, DEADMAN_MIN_MS, Outbox, RobotSession, loop_publisher

log = logging.getLogger("pixelvla_server.robots")
router = APIRouter(prefix="/v1/robots", tags=["robots"], responses=ERROR_RESPONSES)
OPERATOR: dict[int | str, dict[str, Any]] = {403: {"model": ErrorResponse, "description": "Operator token"}}
MAX_SESSIONS = 4
MAX_COMMAND_BYTES = 2 * 1024 * 1024
_conn = itertools.count()


Camera = Literal["front", "wrist"]


class RobotCreate(BaseModel):
    kind: Literal["sim"] = "sim"
    task: str = Field(default="pick", max_length=64)
    seed: int = Field(default=0, ge=0, le=2**62)
    image_size: int = Field(default=224, ge=64, le=512)
    control_hz: float = Field(default=10.0, ge=1.0, le=30.0)
    cameras: list[Camera] = Field(default=["front"], min_length=1, max_length=2)
    deadman_ms: int | None = Field(
        default=None,
        ge=DEADMAN_MIN_MS,
        le=DEADMAN_MAX_MS,
        description="stop the robot when its controller is silent this long; default: the server's "
        "--deadman-ms. Raise it for a slow link, never past 2 s.",
    )


class StopInfo(BaseModel):
    reason: str = Field(description="stop, estop, jog, deadman, controller disconnected, error")
    silent_ms: float | None = Field(description="how long the controller had been silent at the stop")
    server_ms: float = Field(
        description="the part of silent_ms that was the server's own: its process did not run (an "
        "overloaded machine, a paused VM) or its event loop had not read the socket yet; the dead man "
        "does not count it against the controller"
    )
    limit_ms: float = Field(description="the session's dead-man limit at the stop")
    detail: str | None = Field(description="the controller's reason for a stop it sent, or the error")


class LinkInfo(BaseModel):
    """The controller's link as the server reads it, over the last window_s seconds."""

    deadman_ms: float
    heartbeat_ms: int
    silent_ms: float | None = Field(description="since the controller's last message; null without one")
    window_s: float
    gaps: int
    gap_p50_ms: float | None
    gap_p99_ms: float | None
    gap_max_ms: float | None
    loop_lag_p99_ms: float | None = Field(description="how late the server's event loop ran its timers")
    loop_lag_max_ms: float | None
    server_freeze_max_ms: float = Field(description="longest time the whole server process did not run")


class RobotSessionInfo(BaseModel):
    id: str
    kind: str
    task: str
    seed: int
    instruction: str
    control_hz: float
    cameras: list[str]
    mode: Literal["idle", "go", "stopped", "estopped", "error"]
    error: str | None
    frames: int
    controller_connected: bool
    watchers: int
    recording: bool
    deadman_ms: float
    heartbeat_ms: int = Field(description="send a message (heartbeat) at least this often")
    deadman_stops: int = Field(description="dead-man stops in this session so far")
    last_stop: StopInfo | None
    link: LinkInfo


class RobotSessionList(BaseModel):
    sessions: list[RobotSessionInfo]


class RobotManager:
    def __init__(self, settings: Settings, policy_service: Any):
        self.settings = settings
        self.policy_service = policy_service
        self.sessions: dict[str, RobotSession] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def create(self, body: RobotCreate) -> RobotSession:
        from pixelvla_sim.robot import SimRobot

        with self._lock:
            if len(self.sessions) >= MAX_SESSIONS:
                raise Conflict(
                    f"at most {MAX_SESSIONS} robot sessions; delete one first", code="too_many_sessions"
                )

        def make_robot() -> SimRobot:
            robot = SimRobot(
                image_size=body.image_size, control_hz=body.control_hz, cameras=tuple(body.cameras)
            )
            try:
                robot.reset(body.seed, body.task)
            except BaseException:
                robot.close()
                raise
            return robot

        session: RobotSession | None = None

        def policy(obs: dict[str, Any]) -> np.ndarray:
            assert session is not None
            return self.policy_service.predict_blocking(("robot", session.id), obs).actions  # type: ignore[no-any-return]

        session = RobotSession(
            make_robot,
            kind=body.kind,
            task=body.task,
            seed=body.seed,
            control_hz=body.control_hz,
            deadman_ms=body.deadman_ms if body.deadman_ms is not None else self.settings.deadman_ms,
            policy=policy,
            cameras=tuple(body.cameras),
            policy_ready=lambda: self.policy_service.current is not None,
        )
        try:
            session.start()
        except ValueError as exc:  # TaskError / SeedError: PixelVLAError-style ValueErrors with a code
            raise ApiError(str(exc), code=getattr(exc, "code", "invalid_task")) from exc
        with self._lock:
            self.sessions[session.id] = session
        return session

    def save_episode(self, session: RobotSession, dataset_id: str, steps: list[dict[str, Any]]) -> int:
        """Append a recorded episode to <data-dir>/datasets/<id> (created on first use); returns its index."""
        from pixelvla.data import EpisodeRecord, LeRobotWriter
        from pixelvla_sim.robot import ACTION_NAMES, STATE_NAMES

        frames = np.stack([s["image"] for s in steps])
        root = datasets_root(self.settings) / check_id(dataset_id, "dataset")
        with self._write_lock:  # one writer per dataset folder at a time
            writer = LeRobotWriter(
                root,
                cameras={session.cameras[0]: (int(frames.shape[1]), int(frames.shape[2]))},
                state_names=STATE_NAMES,
                action_names=ACTION_NAMES,
                fps=round(session.control_hz),
            )
            staged = writer.staged_indices()
            index = max([writer.finalized_count(), *(i + 1 for i in staged)])
            writer.write_episode(
                index,
                EpisodeRecord(
                    frames={session.cameras[0]: frames},
                    actions=np.stack([s["action"] for s in steps]).astype(np.float32),
                    states=np.stack([s["state"] for s in steps]).astype(np.float32),
                    task=session.prompt.instruction or session.task,
                    source={"robot_session": session.id, "task": session.task, "seed": session.seed},
                ),
            )
            writer.finalize()
        return index

    def get(self, session_id: str) -> RobotSession:
        s = self.sessions.get(session_id)
        if s is None:
            raise NotFound(f"robot session {session_id!r} does not exist", code="unknown_session")
        return s

    def delete(self, session_id: str) -> None:
        with self._lock:
            s = self.sessions.pop(session_id, None)
        if s is None:
            raise NotFound(f"robot session {session_id!r} does not exist", code="unknown_session")
        s.close()

    def close(self) -> None:
        for sid in list(self.sessions):
            with contextlib.suppress(NotFound):
                self.delete(sid)


def robots(request: Request) -> RobotManager:
    return request.app.state.studio.robots  # type: ignore[no-any-return]


Robots = Annotated[RobotManager, Depends(robots)]


@router.post(
    "",
    response_model=RobotSessionInfo,
    status_code=201,
    responses=OPERATOR,
    dependencies=[Depends(require_operator)],
)
async def create_session(body: RobotCreate, m: Robots) -> RobotSessionInfo:
    session = await asyncio.to_thread(m.create, body)  # building the MuJoCo scene takes a moment
    return RobotSessionInfo(**session.info())


@router.get("", response_model=RobotSessionList)
def list_sessions(m: Robots) -> RobotSessionList:
    return RobotSessionList(sessions=[RobotSessionInfo(**s.info()) for s in list(m.sessions.values())])


@router.get("/{session_id}", response_model=RobotSessionInfo)
def get_session(session_id: str, m: Robots) -> RobotSessionInfo:
    return RobotSessionInfo(**m.get(session_id).info())


@router.delete("/{session_id}", status_code=204, responses=OPERATOR, dependencies=[Depends(require_operator)])
async def delete_session(session_id: str, m: Robots) -> None:
    await asyncio.to_thread(m.delete, session_id)


@router.websocket("/{session_id}/stream")
async def session_stream(ws: WebSocket, session_id: str) -> None:
    from pixelvla.errors import PixelVLAError
    from pixelvla.wire import packb, unpackb

    state = ws.app.state.studio
    settings: Settings = state.settings
    m: RobotManager = state.robots
    await ws.accept()
    if not api_token_ok(settings, ws.headers, ws.query_params):
        await ws.close(1008, "missing or wrong API token")
        return
    session = m.sessions.get(session_id)
    if session is None:
        await ws.close(4404, f"robot session {session_id} does not exist")
        return
    role = ws.query_params.get("role", "watcher")
    token = ("conn", next(_conn))
    if role == "controller":
        if not operator_ok(settings, ws.headers, ws.query_params):
            await ws.close(4403, "controlling a robot needs the operator token (?operator_token=)")
            return
        if not session.claim_control(token):
            await ws.close(4409, "this robot already has a controller; connect with role=watcher")
            return
    else:
        role = "watcher"
        session.watchers += 1
    outbox = Outbox()
    send_lock = asyncio.Lock()

    async def send(obj: dict[str, Any]) -> None:
        async with send_lock:
            await ws.send_bytes(packb(obj))

    await send({"type": "session", "role": role, **session.info()})
    session.subscribe(token, loop_publisher(asyncio.get_running_loop(), outbox))

    async def pump() -> None:
        while True:
            await send(await outbox.get())

    async def meter() -> None:
        """Ticks for the dead man: proof that this loop reads the controller's socket, and how late
        it runs; once a second the link's stats for the studio to show."""
        period, next_link = 0.02, time.monotonic() + 1.0
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(period)
            now = time.monotonic()
            session.loop_tick(now - t0 - period)
            if now >= next_link:
                next_link = now + 1.0
                with contextlib.suppress(Exception):  # a closing socket: the receive loop sees it
                    await send({"type": "link", **session.link_info()})

    async def save(result: dict[str, Any], episode: list[dict[str, Any]]) -> None:
        """Writing an episode takes seconds: beside the receive loop, which goes on reading the
        controller's heartbeats meanwhile (awaited in it, the dead man stopped a going robot)."""
        try:
            result["episode"] = await asyncio.to_thread(m.save_episode, session, result["dataset"], episode)
        except (ApiError, PixelVLAError) as exc:
            await send({"type": "error", "error": {"code": exc.code, "message": exc.message}})
            return
        except Exception as exc:
            log.error("saving a robot episode failed", exc_info=exc, extra={"session": session_id})
            message = f"internal error while saving the episode: {type(exc).__name__}"
            await send({"type": "error", "error": {"code": "internal", "message": message}})
            return
        await send({"type": "ack", "command": "record", **result})

    tasks = [asyncio.create_task(pump())]
    if role == "controller":
        tasks.append(asyncio.create_task(meter()))
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            data = msg.get("bytes")
            if data is None:
                await ws.close(1003, "text frames are not supported; send binary msgpack")
                break
            if len(data) > MAX_COMMAND_BYTES:
                await ws.close(1009, f"command of {len(data)} bytes exceeds {MAX_COMMAND_BYTES}")
                break
            session.heard(token)
            try:
                cmd = unpackb(data, max_bytes=MAX_COMMAND_BYTES)
                if not isinstance(cmd, dict):
                    raise ApiError("a command is a map with a 'type'", code="invalid_command")
                with decoding("the command", "invalid_command"):
                    result = session.command(token, cmd)
                episode = result.pop("_episode", None)
                if episode:
                    tasks.append(asyncio.create_task(save(result, episode)))
                    continue
                if cmd.get("type") != "heartbeat":
                    await send({"type": "ack", "command": cmd.get("type"), **result})
            except WebSocketDisconnect:
                raise  # the client left while its command was answered (a studio's stop, then close)
            except (ApiError, PixelVLAError) as exc:
                await send({"type": "error", "error": {"code": exc.code, "message": exc.message}})
            except Exception as exc:  # a bug: this command gets a typed answer, the socket stays open
                log.error("robot command failed", exc_info=exc, extra={"session": session_id})
                message = f"internal error while handling this command: {type(exc).__name__}"
                await send({"type": "error", "error": {"code": "internal", "message": message}})
    except WebSocketDisconnect:
        pass
    finally:
        session.unsubscribe(token)  # a controller leaving stops the robot at once
        if role == "watcher":
            session.watchers -= 1
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
