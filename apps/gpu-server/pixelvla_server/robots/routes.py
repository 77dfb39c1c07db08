"""Robot sessions under /v1/robots and their WebSocket /v1/robots/{id}/stream (docs/PROTOCOLS.md,
"Robot stream", is the full contract).

Stream protocol (binary msgpack frames), ?role=controller|watcher|auto (auto: the controller when the
robot has none and the connection holds the operator token, else a watcher):
- server -> client, first: {"type": "session", ...RobotSessionInfo, "role": "controller"|"watcher"}
- server -> client, at the control rate: {"type": "frame", "seq", "t", "images": {camera: JPEG bytes},
  "state": f32 (8,), "action": f32 (7,) | None, "mode", "instruction", "outcome", "episode"}; a slow
  client skips frames; an unwatched session renders none.
- server -> client: {"type": "status", "mode", "reason", "stop": {reason, silent_ms, server_ms, limit_ms, detail},
  "error"} on every stop (never dropped for a frame); {"type": "ack", "command", ...};
  {"type": "error", "error": {"code", "message"}}; {"type": "episode", ...} after a reset;
  {"type": "role", "role", "reason"} when another client took control; to the controller, once a
  second, {"type": "link", ...LinkInfo} (heartbeat gaps p50/p99/max over 30 s, silence now, loop lag).
- client -> server, the controller: {"type": "heartbeat"} | {"type": "prompt", "instruction", "prompt_tokens",
  "prompt_valid", "prompts", "pixel_masks"} (validated on arrival) | {"type": "go"} | {"type": "stop"} |
  {"type": "estop"} | {"type": "reset_estop"} | {"type": "jog", "delta": [6 floats: the gripper stays] or
  [7 floats]} | {"type": "record", "on": bool} | {"type": "reset", "task", "seed"}; stop and estop take
  an optional "reason" (<= 200 chars) that the session's last_stop keeps as its detail. Every message
  counts as a heartbeat; send one every heartbeat_ms (session message: deadman_ms / 4).
- client -> server, a watcher: stop, estop (every tab's E-STOP works), heartbeat (ignored), and
  take_control (with the operator token: the robot stops, the old controller becomes a watcher).
- close codes: 4403 operator token required for control, 4409 robot already has a controller,
  4404 unknown session, 1008 bad API token, 1003 text frame, 1009 message too large.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from ..config import Settings
from ..errors import ERROR_RESPONSES, ApiError, ErrorResponse, decoding
from ..security import api_token_ok, operator_ok, require_operator
from .manager import MAX_SESSIONS, RobotCreate, RobotManager
from .session import Outbox, RecordStopped, loop_publisher

__all__ = ["MAX_SESSIONS", "RobotCreate", "RobotManager", "router"]

log = logging.getLogger("pixelvla_server.robots")
router = APIRouter(prefix="/v1/robots", tags=["robots"], responses=ERROR_RESPONSES)
OPERATOR: dict[int | str, dict[str, Any]] = {403: {"model": ErrorResponse, "description": "Operator token"}}
MAX_COMMAND_BYTES = 2 * 1024 * 1024
_conn = itertools.count()


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


class RobotInfo(BaseModel):
    """The robot as it describes itself (robots.protocol.RobotDescription)."""

    kind: str
    cameras: list[str]
    image_size: list[int] = Field(description="(H, W) of every camera's frames")
    state_names: list[str]
    action_names: list[str]
    state_dim: int
    action_dim: int
    control_hz: float
    action_low: list[float] = Field(description="per control step, what the robot clips each action to")
    action_high: list[float]
    tasks: list[str] = Field(description="tasks a reset accepts (empty: any)")
    action_kind: Literal["delta", "absolute"] = Field(
        description="delta: an action is a step from the present pose; absolute: a target (a jog is "
        "still a delta, added to the state of the same names)"
    )


class TaskOutcomeInfo(BaseModel):
    success: bool | None = Field(description="the task is done; null for a robot that cannot tell")
    steps: int = Field(description="actions applied since the episode's reset")
    time_s: float = Field(description="the robot's clock since the reset (simulated seconds for a sim)")
    max_steps: int | None = Field(description="the steps the episode has to succeed in")
    verdict: Literal["success", "failure", "running", "unknown"] = Field(
        description="as an eval counts the episode: failure once max_steps pass without success"
    )


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
    robot: RobotInfo | None
    outcome: TaskOutcomeInfo | None = Field(description="the current episode's task outcome so far")
    idle_close_s: float = Field(description="the session closes after this long with no client connected")
    max_steps: int = Field(description="control steps an episode has to succeed in")


class RobotSessionList(BaseModel):
    sessions: list[RobotSessionInfo]


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
    """Open a robot session: the MuJoCo sim robot (task, seed, cameras, control rate, step budget,
    dead-man timeout) or a connected remote robot (`robot: "remote:<name>"`, see GET
    /v1/remote-robots); drive it over /v1/robots/{id}/stream. The dead man stops the robot when its
    controller goes silent. Operator only."""
    session = await asyncio.to_thread(m.create, body)  # building the MuJoCo scene takes a moment
    return RobotSessionInfo(**session.info())


@router.get("", response_model=RobotSessionList)
def list_sessions(m: Robots) -> RobotSessionList:
    """The open robot sessions, with their task, cameras and state."""
    return RobotSessionList(sessions=[RobotSessionInfo(**s.info()) for s in m.list()])


@router.get("/{session_id}", response_model=RobotSessionInfo)
def get_session(session_id: str, m: Robots) -> RobotSessionInfo:
    """One robot session: its task, cameras and state."""
    return RobotSessionInfo(**m.get(session_id).info())


@router.delete("/{session_id}", status_code=204, responses=OPERATOR, dependencies=[Depends(require_operator)])
async def delete_session(session_id: str, m: Robots) -> None:
    """Stop the robot and close the session (its sockets are closed). Operator only."""
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
    want = ws.query_params.get("role", "watcher")
    if want not in ("controller", "watcher", "auto"):
        want = "watcher"
    may_control = operator_ok(settings, ws.headers, ws.query_params)
    if want == "controller" and not may_control:
        await ws.close(4403, "controlling a robot needs the operator token (?operator_token=)")
        return
    token = ("conn", next(_conn))
    outbox = Outbox()
    send_lock = asyncio.Lock()

    async def send(obj: dict[str, Any]) -> None:
        async with send_lock:
            await ws.send_bytes(packb(obj))

    role = session.connect(token, loop_publisher(asyncio.get_running_loop(), outbox), want, may_control)
    if role is None:
        await ws.close(4409, "this robot already has a controller; connect with role=watcher or role=auto")
        return
    if session.closed:  # closed (deleted, or idle) between the lookup and the connect
        session.disconnect(token)
        await ws.close(4404, f"robot session {session_id} does not exist")
        return
    try:
        # The session message goes before anything the session published since connect (in the outbox).
        await send({"type": "session", "role": role, **session.info()})
    except BaseException:
        session.disconnect(token)
        raise

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
            session.loop_tick(token, now - t0 - period)
            if now >= next_link and session.role_of(token) == "controller":
                next_link = now + 1.0
                with contextlib.suppress(Exception):  # a closing socket: the receive loop sees it
                    await send({"type": "link", **session.link_info()})

    async def save(result: RecordStopped) -> None:
        """Writing an episode takes seconds: beside the receive loop, which goes on reading the
        controller's heartbeats meanwhile (awaited in it, the dead man stopped a going robot)."""
        try:
            index = await asyncio.to_thread(m.save_episode, session, result.recording)
        except (ApiError, PixelVLAError) as exc:
            await send({"type": "error", "error": {"code": exc.code, "message": exc.message}})
            return
        except Exception as exc:
            log.error("saving a robot episode failed", exc_info=exc, extra={"session": session_id})
            message = f"internal error while saving the episode: {type(exc).__name__}"
            await send({"type": "error", "error": {"code": "internal", "message": message}})
            return
        await send({**result.to_json(), "episode": index})

    # Every connection meters its loop: a watcher may take control later, and a tick proves the same
    # event loop reads all its sockets.
    tasks = [asyncio.create_task(pump()), asyncio.create_task(meter())]
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
                if isinstance(result, RecordStopped) and result.recording.steps:
                    tasks.append(asyncio.create_task(save(result)))
                elif result is not None:
                    await send(result.to_json())
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
        session.disconnect(token)  # a controller leaving stops the robot at once
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
