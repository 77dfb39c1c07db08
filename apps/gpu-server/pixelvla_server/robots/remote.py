"""Remote robots: a robot process elsewhere (packages/robot-client, `pixelvla_robot`) connects to WS
/v1/remote-robots/connect and becomes a robot a session can drive, as the sim is driven in-process.

The link (docs/PROTOCOLS.md "Remote robots"; binary msgpack, arrays in pixelvla.wire's layout):
- robot -> server, first: `hello {protocol: "pixelvla.robot.v1", name, kind, cameras: [{name, width,
  height, intrinsics}], state_names, action_names, action_low, action_high, control_hz, instruction,
  tasks, deadman_ms}`; the server answers `welcome {protocol, name, heartbeat_ms, deadman_ms}`.
- server -> robot: `act {seq, action}`, `stop {seq}`, `reset {seq, task, seed}`, and a `heartbeat`
  every heartbeat_ms (the robot's dead-man window / 4), so the robot hears a live server even when
  nothing moves, and stops on its own when it does not.
- robot -> server: `observation {t, images: {camera: JPEG/PNG bytes | uint8 (H, W, 3)}, state, acted?,
  applied?, stopped?, reset?, camera_models?, success?}` at its control rate and after every command; `error
  {seq, error: {code, message}}` for a command it refused.
- close codes: 1008 API token, 4403 operator token (a robot joining is control), 4400 bad hello,
  4426 protocol version mismatch, 4409 a robot of that name is connected, 1009 too large.

`RemoteRobot` is the session's side (robots/protocol.py's Robot): its calls come from the session's
control thread and wait on the link with bounds derived from the robot's control rate; a robot that
disconnects or goes silent makes the next call raise, which stops the session (mode `error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pixelvla.observation import MAX_IMAGE_SIDE, MAX_INSTRUCTION_CHARS, MAX_STATE_VALUES
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from ..config import Settings
from ..errors import ApiError, Conflict, NotFound
from ..security import api_token_ok, operator_ok
from .protocol import Episode, Observation, RobotDescription, TaskOutcome

log = logging.getLogger("pixelvla_server.robots.remote")
router = APIRouter(prefix="/v1/remote-robots", tags=["robots"])
PROTOCOL = "pixelvla.robot.v1"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_ROBOT_MESSAGE_BYTES = 8 * 1024 * 1024  # a few uncompressed camera frames
HELLO_TIMEOUT_S = 10.0
MAX_REMOTE_ROBOTS = 16
# A reset builds a scene (the sim) or loads a task (LIBERO: seconds on a CPU).
RESET_TIMEOUT_S = 120.0

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Label = Annotated[str, Field(min_length=1, max_length=64)]


class RemoteCamera(BaseModel):
    name: Label
    width: int = Field(ge=1, le=MAX_IMAGE_SIDE)
    height: int = Field(ge=1, le=MAX_IMAGE_SIDE)
    intrinsics: list[list[float]] | None = Field(default=None, description="3x3 pinhole matrix (OpenCV)")

    @field_validator("intrinsics")
    @classmethod
    def _three_by_three(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is not None and (len(v) != 3 or any(len(r) != 3 for r in v) or not np.isfinite(v).all()):
            raise ValueError("intrinsics must be a finite 3x3 matrix")
        return v


class Hello(BaseModel):
    """What a robot says about itself when it connects (checked: it is the robot's input to us)."""

    type: str
    protocol: str
    name: Name
    kind: Label = "remote"
    cameras: list[RemoteCamera] = Field(min_length=1, max_length=4)
    state_names: list[Label] = Field(max_length=MAX_STATE_VALUES)
    action_names: list[Label] = Field(min_length=1, max_length=32)
    action_low: list[float]
    action_high: list[float]
    control_hz: float = Field(ge=1.0, le=30.0)
    instruction: str = Field(default="", max_length=MAX_INSTRUCTION_CHARS)
    tasks: list[Label] = Field(default=[], max_length=64)
    deadman_ms: float = Field(default=300.0, ge=50.0, le=2000.0)
    # "delta": a step from where the robot is (end-effector deltas); "absolute": targets (joint
    # positions). Jog adds its delta to the state of the same name for an absolute robot.
    action_kind: Literal["delta", "absolute"] = "delta"

    @model_validator(mode="after")
    def _limits(self) -> Hello:
        n = len(self.action_names)
        lo, hi = self.action_low, self.action_high
        if len(lo) != n or len(hi) != n:
            raise ValueError(f"action_low and action_high need {n} entries, one per action name")
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or any(
            a > b for a, b in zip(lo, hi, strict=True)
        ):
            raise ValueError("action limits must be finite with action_low <= action_high")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        return self


class RemoteRobotInfo(BaseModel):
    name: str
    kind: str
    cameras: list[RemoteCamera]
    state_names: list[str]
    action_names: list[str]
    action_low: list[float]
    action_high: list[float]
    control_hz: float
    instruction: str
    tasks: list[str]
    action_kind: str = Field(description="delta (steps from the present pose) or absolute (targets)")
    deadman_ms: float = Field(
        description="the robot's own dead man: it stops when the server is silent this long"
    )
    heartbeat_ms: int = Field(description="the server sends the robot a heartbeat this often")
    in_use: bool = Field(description="a robot session drives it now")
    connected_s: float = Field(description="seconds since it connected")
    observations: int


class RemoteRobotList(BaseModel):
    robots: list[RemoteRobotInfo]


class RemoteRobotError(ApiError):
    code = "remote_robot_error"


def heartbeat_ms_for(deadman_ms: float) -> int:
    """Four heartbeats per robot dead-man window: up to three late server timer ticks do not stop it."""
    return max(10, int(deadman_ms // 4))


class RemoteLink:
    """One connected robot. The event loop fills it (observations, errors, the end of the link); the
    session's control thread reads it through RemoteRobot; a Condition joins the two."""

    def __init__(self, hello: Hello, loop: asyncio.AbstractEventLoop):
        self.hello = hello
        self.loop = loop
        self.heartbeat_ms = heartbeat_ms_for(hello.deadman_ms)
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        self.connected_at = time.monotonic()
        self.cond = threading.Condition()
        self.latest: dict[str, Any] | None = None
        self.latest_at = 0.0
        self.observations = 0
        self.replies: dict[int, dict[str, Any]] = {}  # seq -> the observation or error answering it
        self.gone: str | None = None
        self.in_use = False

    # ---- event loop side
    def on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "observation":
            if not isinstance(msg.get("images"), dict) or not isinstance(msg.get("state"), np.ndarray):
                raise RemoteRobotError(
                    "an observation needs images (a map) and state (an array)", code="invalid_message"
                )
            with self.cond:
                self.latest, self.latest_at = msg, time.monotonic()
                self.observations += 1
                for key in ("acted", "stopped", "reset"):
                    seq = msg.get(key)
                    if isinstance(seq, int):
                        self.replies[seq] = msg
                self.cond.notify_all()
        elif kind == "error":
            seq = msg.get("seq")
            err = msg.get("error") if isinstance(msg.get("error"), dict) else {}
            log.warning(
                "remote robot refused a command", extra={"robot": self.hello.name, "error": str(err)[:300]}
            )
            with self.cond:
                if isinstance(seq, int):
                    self.replies[seq] = {"type": "error", "error": err}
                self.cond.notify_all()
        elif kind != "heartbeat":
            raise RemoteRobotError(
                f"unknown message type {str(kind)[:40]!r} from a robot", code="invalid_message"
            )

    def end(self, why: str) -> None:
        with self.cond:
            self.gone = why
            self.cond.notify_all()

    # ---- control thread side
    def send(self, msg: dict[str, Any]) -> None:
        if self.gone is not None:
            raise RemoteRobotError(
                f"remote robot {self.hello.name!r} is gone: {self.gone}", code="robot_disconnected"
            )

        def put() -> None:
            with contextlib.suppress(
                asyncio.QueueFull
            ):  # a robot that does not read: the heartbeat check ends it
                self.outbox.put_nowait(msg)

        try:
            self.loop.call_soon_threadsafe(put)
        except RuntimeError as exc:  # the loop is closed: the server is shutting down
            raise RemoteRobotError("the server is shutting down", code="robot_disconnected") from exc

    def wait_reply(self, seq: int, timeout_s: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while seq not in self.replies:
                if self.gone is not None:
                    raise RemoteRobotError(
                        f"remote robot {self.hello.name!r} is gone: {self.gone}", code="robot_disconnected"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            reply = self.replies.pop(seq)
            for old in [s for s in self.replies if s < seq]:
                del self.replies[old]  # answers that came too late for their caller
            return reply

    def info(self) -> dict[str, Any]:
        h = self.hello
        return {
            **h.model_dump(
                include={
                    "name",
                    "kind",
                    "cameras",
                    "state_names",
                    "action_names",
                    "action_low",
                    "action_high",
                    "control_hz",
                    "instruction",
                    "tasks",
                    "action_kind",
                    "deadman_ms",
                }
            ),
            "heartbeat_ms": self.heartbeat_ms,
            "in_use": self.in_use,
            "connected_s": time.monotonic() - self.connected_at,
            "observations": self.observations,
        }


class RemoteHub:
    """The connected remote robots by name; a session claims one and releases it when it closes."""

    def __init__(self) -> None:
        self._links: dict[str, RemoteLink] = {}
        self._lock = threading.Lock()

    def add(self, link: RemoteLink) -> None:
        with self._lock:
            if link.hello.name in self._links:
                raise Conflict(
                    f"a robot named {link.hello.name!r} is already connected", code="robot_name_taken"
                )
            if len(self._links) >= MAX_REMOTE_ROBOTS:
                raise Conflict(f"at most {MAX_REMOTE_ROBOTS} remote robots", code="too_many_robots")
            self._links[link.hello.name] = link

    def remove(self, link: RemoteLink) -> None:
        with self._lock:
            if self._links.get(link.hello.name) is link:
                del self._links[link.hello.name]

    def list(self) -> list[RemoteLink]:
        with self._lock:
            return list(self._links.values())

    def claim(self, name: str) -> RemoteRobot:
        with self._lock:
            link = self._links.get(name)
            if link is None:
                raise NotFound(
                    f"no remote robot named {name!r} is connected; connected: {sorted(self._links) or 'none'}",
                    code="unknown_robot",
                )
            if link.in_use:
                raise Conflict(f"remote robot {name!r} is driven by another session", code="robot_in_use")
            link.in_use = True
        return RemoteRobot(link)


class RemoteRobot:
    """robots/protocol.py's Robot over a RemoteLink, called from one session's control thread."""

    def __init__(self, link: RemoteLink):
        self._link = link
        h = link.hello
        self._low = np.asarray(h.action_low, dtype=np.float64)
        self._high = np.asarray(h.action_high, dtype=np.float64)
        self._period = 1.0 / h.control_hz
        self._seq = 0
        self._steps = 0
        self._instruction = h.instruction
        self._said_gone = False
        # How long a command may take to be answered before the control loop goes on without the
        # answer: two control periods (one to execute, one for the link), never under 100 ms.
        self.answer_s = max(0.1, 2 * self._period)
        # An observation older than this means the robot stopped streaming (it streams each period).
        self.stale_s = max(1.0, 10 * self._period)

    @property
    def name(self) -> str:
        return self._link.hello.name

    @property
    def instruction(self) -> str:
        return self._instruction

    def describe(self) -> RobotDescription:
        h = self._link.hello
        cam = h.cameras[0]
        return RobotDescription(
            kind="remote",
            cameras=tuple(c.name for c in h.cameras),
            image_size=(cam.height, cam.width),
            state_names=tuple(h.state_names),
            action_names=tuple(h.action_names),
            control_hz=h.control_hz,
            action_low=tuple(h.action_low),
            action_high=tuple(h.action_high),
            tasks=tuple(h.tasks),
            action_kind=h.action_kind,
        )

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def reset(self, episode: Episode) -> Observation:
        seq = self._next_seq()
        self._link.send({"type": "reset", "seq": seq, "task": episode.task, "seed": episode.seed})
        reply = self._link.wait_reply(seq, RESET_TIMEOUT_S)
        if reply is None:
            raise RemoteRobotError(
                f"remote robot {self.name!r} did not reset within {RESET_TIMEOUT_S:.0f} s",
                code="robot_timeout",
            )
        if reply.get("type") == "error":
            raise RemoteRobotError(
                f"remote robot {self.name!r} refused the reset: {_said(reply)}", code="robot_refused"
            )
        self._steps = 0
        return self._decode(reply)

    def observe(self) -> Observation:
        link = self._link
        with link.cond:
            deadline = time.monotonic() + self.stale_s
            while link.latest is None and link.gone is None:  # just connected: its first is on the way
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                link.cond.wait(left)
            latest, age, gone = link.latest, time.monotonic() - link.latest_at, link.gone
        if gone is not None:
            # Said once (the session stops with mode error); then the last frame stays on screen.
            if not self._said_gone or latest is None:
                self._said_gone = True
                raise RemoteRobotError(
                    f"remote robot {self.name!r} is gone: {gone}", code="robot_disconnected"
                )
            return self._decode(latest)
        if latest is None or age > self.stale_s:
            raise RemoteRobotError(
                f"remote robot {self.name!r} sent no observation for {age:.1f} s (it streams every "
                f"{self._period * 1000:.0f} ms)",
                code="robot_silent",
            )
        return self._decode(latest)

    def act(self, action: np.ndarray) -> np.ndarray:
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != self._low.shape or not np.isfinite(arr).all():
            raise RemoteRobotError(
                f"remote robot {self.name!r} takes {self._low.size} finite action values "
                f"({', '.join(self._link.hello.action_names)}), got shape {list(arr.shape)}",
                code="invalid_action",
            )
        clipped = np.clip(arr, self._low, self._high).astype(np.float32)
        seq = self._next_seq()
        self._link.send({"type": "act", "seq": seq, "action": clipped})
        reply = self._link.wait_reply(seq, self.answer_s)
        self._steps += 1
        if reply is None:
            return clipped  # applied as far as we know; its observation comes with the stream
        if reply.get("type") == "error":
            raise RemoteRobotError(
                f"remote robot {self.name!r} refused the action: {_said(reply)}", code="robot_refused"
            )
        applied = reply.get("applied")
        if isinstance(applied, np.ndarray) and applied.shape == clipped.shape and np.isfinite(applied).all():
            return applied.astype(np.float32)
        return clipped

    def stop(self) -> None:
        """Tell the robot to hold still. A gone robot cannot hear it; it stopped itself when its link
        went (pixelvla_robot's dead man), so this is not an error then."""
        if self._link.gone is None:
            with contextlib.suppress(RemoteRobotError):
                self._link.send({"type": "stop", "seq": self._next_seq()})

    def outcome(self) -> TaskOutcome:
        """Success as the robot judges it (an observation's optional ``success``: LIBERO's
        check_success, a gym env's ``info["is_success"]``), else unknown; steps counted here."""
        latest = self._link.latest or {}
        t = latest.get("t")
        success = latest.get("success")
        return TaskOutcome(
            success=success if isinstance(success, bool) else None,
            steps=self._steps,
            time_s=float(t) if isinstance(t, int | float) else 0.0,
        )

    def camera_models(self) -> dict[str, dict[str, Any]]:
        """The models the robot's last observation carried (a calibrated camera, moving or not);
        {} for an uncalibrated robot. Each one is checked: it is the robot's input."""
        models = (self._link.latest or {}).get("camera_models")
        if not isinstance(models, dict):
            return {}
        out: dict[str, dict[str, Any]] = {}
        for cam in self._link.hello.cameras:
            m = models.get(cam.name)
            if isinstance(m, dict) and _is_camera_model(m):
                out[cam.name] = {k: m[k] for k in ("intrinsics", "world_to_camera", "width", "height")}
                out[cam.name]["convention"] = "opencv"
        return out

    def close(self) -> None:
        self.stop()
        with self._link.cond:
            self._link.in_use = False

    def _decode(self, msg: dict[str, Any]) -> Observation:
        from ..policy.codec import check_image, decode_image_bytes

        h = self._link.hello
        images: dict[str, np.ndarray] = {}
        raw = msg["images"]
        for cam in h.cameras:
            data = raw.get(cam.name)
            if data is None:
                raise RemoteRobotError(
                    f"remote robot {self.name!r} sent no {cam.name!r} frame", code="invalid_observation"
                )
            images[cam.name] = decode_image_bytes(data) if isinstance(data, bytes) else check_image(data)
        state = np.asarray(msg["state"], dtype=np.float32).reshape(-1)
        if state.shape != (len(h.state_names),) or not np.isfinite(state).all():
            raise RemoteRobotError(
                f"remote robot {self.name!r} sent a state of shape {list(state.shape)}; it announced "
                f"{len(h.state_names)} finite values",
                code="invalid_observation",
            )
        t = msg.get("t")
        return {
            "images": images,
            "state": state,
            "t": float(t) if isinstance(t, int | float) and math.isfinite(t) else 0.0,
        }


def _said(reply: dict[str, Any]) -> str:
    err = reply.get("error")
    if not isinstance(err, dict):
        err = {}
    return f"{str(err.get('code'))[:64]}: {str(err.get('message'))[:300]}"


def _is_camera_model(m: dict[str, Any]) -> bool:
    try:
        k = np.asarray(m.get("intrinsics"), dtype=np.float64)
        w2c = np.asarray(m.get("world_to_camera"), dtype=np.float64)
    except (TypeError, ValueError):
        return False
    size_ok = all(isinstance(m.get(s), int) and 0 < m[s] <= 4096 for s in ("width", "height"))
    return (
        k.shape == (3, 3)
        and w2c.shape == (4, 4)
        and bool(np.isfinite(k).all() and np.isfinite(w2c).all())
        and size_ok
    )


def hub(app: Any) -> RemoteHub:
    """The app's RemoteHub: the robot manager's, where sessions claim their robots."""
    return app.state.studio.robots.remote  # type: ignore[no-any-return]


@router.get("", response_model=RemoteRobotList)
def list_remote_robots(request: Request) -> RemoteRobotList:
    """The robots connected through pixelvla_robot; create a session on one with
    POST /v1/robots {"robot": "remote:<name>"}."""
    return RemoteRobotList(robots=[RemoteRobotInfo(**link.info()) for link in hub(request.app).list()])


@router.websocket("/connect")
async def robot_connect(ws: WebSocket) -> None:
    from pixelvla.errors import PixelVLAError
    from pixelvla.wire import packb, unpackb

    from .. import __version__

    settings: Settings = ws.app.state.studio.settings
    await ws.accept()
    if not api_token_ok(settings, ws.headers, ws.query_params):
        await ws.close(1008, "missing or wrong API token")
        return
    if not operator_ok(settings, ws.headers, ws.query_params):
        await ws.close(4403, "a robot joining needs the operator token (X-Operator-Token)")
        return

    async def refuse(code: int, error: str, message: str) -> None:
        with contextlib.suppress(Exception):
            await ws.send_bytes(packb({"type": "error", "error": {"code": error, "message": message}}))
            await ws.close(code, message[:120])

    try:
        first = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT_S)
    except TimeoutError:
        await refuse(4400, "invalid_hello", f"no hello within {HELLO_TIMEOUT_S:.0f} s")
        return
    data = first.get("bytes")
    if first["type"] == "websocket.disconnect":
        return
    if data is None or len(data) > MAX_ROBOT_MESSAGE_BYTES:
        await refuse(4400, "invalid_hello", "the hello is one binary msgpack message")
        return
    try:
        raw = unpackb(data, max_bytes=MAX_ROBOT_MESSAGE_BYTES)
    except PixelVLAError as exc:
        await refuse(4400, "invalid_hello", exc.message)
        return
    if not isinstance(raw, dict) or raw.get("type") != "hello":
        await refuse(4400, "invalid_hello", "the first message must be {type: hello, ...}")
        return
    if raw.get("protocol") != PROTOCOL:
        await refuse(
            4426,
            "protocol_mismatch",
            f"this server speaks {PROTOCOL}, the robot {str(raw.get('protocol'))[:40]!r}; update pixelvla_robot",
        )
        return
    try:
        hello = Hello.model_validate({k: raw[k] for k in raw if isinstance(k, str)})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        await refuse(4400, "invalid_hello", f"bad hello: {problems}")
        return
    link = RemoteLink(hello, asyncio.get_running_loop())
    robots = hub(ws.app)
    try:
        robots.add(link)
    except ApiError as exc:
        await refuse(4409, exc.code, exc.message)
        return
    log.info("remote robot connected", extra={"robot": hello.name, "kind": hello.kind})

    send_lock = asyncio.Lock()  # the pump, the heartbeat and the receive loop's errors share the socket

    async def send(obj: dict[str, Any]) -> None:
        async with send_lock:
            await ws.send_bytes(packb(obj))

    async def pump() -> None:
        while True:
            await send(await link.outbox.get())

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(link.heartbeat_ms / 1000.0)
            await send({"type": "heartbeat"})

    await send(
        {
            "type": "welcome",
            "protocol": PROTOCOL,
            "name": hello.name,
            "heartbeat_ms": link.heartbeat_ms,
            "deadman_ms": hello.deadman_ms,
            "server_version": __version__,
        }
    )
    tasks = [asyncio.create_task(pump()), asyncio.create_task(heartbeat())]
    why = "disconnected"
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            data = msg.get("bytes")
            if data is None:
                why = "sent a text frame"
                await ws.close(1003, "text frames are not supported; send binary msgpack")
                break
            if len(data) > MAX_ROBOT_MESSAGE_BYTES:
                why = "sent a message over the limit"
                await ws.close(1009, f"message of {len(data)} bytes exceeds {MAX_ROBOT_MESSAGE_BYTES}")
                break
            try:
                decoded = unpackb(data, max_bytes=MAX_ROBOT_MESSAGE_BYTES)
                if not isinstance(decoded, dict):
                    raise RemoteRobotError("a robot message is a map with a 'type'", code="invalid_message")
                link.on_message(decoded)
            except (ApiError, PixelVLAError) as exc:
                await send({"type": "error", "error": {"code": exc.code, "message": exc.message}})
    except WebSocketDisconnect:
        pass
    finally:
        link.end(why)
        robots.remove(link)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        log.info("remote robot left", extra={"robot": hello.name, "why": why})
