"""A robot session: one control thread owns the robot; WebSocket clients command it and watch its frames.

The control thread ticks at the robot's control rate: apply the next action (a policy chunk step in
"go" mode, a queued manual jog, or nothing), observe, encode the frame, publish it. Between ticks it
sleeps until the next tick. A watchdog thread checks the dead man every slice: when the controller is
silent for `deadman_ms` (or disconnects) the session stops, so the robot stops within deadman_ms plus
one slice. Any exception in the loop stops the robot as well. Commands from the event loop only set
fields under a lock; only the control thread touches the robot, from construction to close (MuJoCo
and its GL context are bound to one thread).

The session also measures its controller's link (`LinkMeter`: gaps between messages, the event
loop's lag), and every stop is published as a `status` message saying why, how long the controller
had been silent and what the limit was, so the studio can tell "operator gone" from "link too slow".
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import ApiError
from .link import CEILING_S, FreezeLedger, LinkMeter, Silence, silence

log = logging.getLogger("pixelvla_server.robots")
Mode = Literal["idle", "go", "stopped", "estopped", "error"]
SLICE_S = 0.01
# Watchdog wake-ups up to this far apart are an ordinary busy machine (the silence counts); the rest
# of a longer gap is a freeze of the whole server, which the dead man does not blame on the controller.
FREEZE_GRACE_S = 0.05
# A session may choose its own dead-man limit within these bounds: below 100 ms one missed browser
# timer tick stops the robot; above 2 s a robot runs on for seconds after its operator is gone.
DEADMAN_MIN_MS, DEADMAN_MAX_MS = 100, 2000


def heartbeat_ms_for(deadman_ms: float) -> int:
    """The interval a controller should send heartbeats at: four per dead-man window, so that up to
    three consecutive late or lost timer ticks do not stop the robot."""
    return max(10, int(deadman_ms // 4))


class RobotCommandError(ApiError):
    code = "invalid_command"


@dataclass
class Prompt:
    instruction: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # prompt_tokens, prompt_valid, prompts, pixel_masks


@dataclass
class StopEvent:
    reason: str  # stop, estop, jog, deadman, controller disconnected, error
    at: float  # monotonic time the session stopped
    silent_ms: float | None = None  # how long the controller had been silent when the robot stopped
    server_ms: float = 0.0  # the part of silent_ms that was the server's: frozen, or not reading yet
    limit_ms: float = 0.0  # the session's dead-man limit at the time
    detail: str | None = None  # a controller's own words for its stop (e.g. "studio tab hidden")

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "silent_ms": self.silent_ms,
            "server_ms": self.server_ms,
            "limit_ms": self.limit_ms,
            "detail": self.detail,
        }


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


Publisher = Callable[[dict[str, Any]], None]
PolicyCall = Callable[[dict[str, Any]], np.ndarray]  # observation dict -> action chunk (N, 7)


class RobotSession:
    def __init__(
        self,
        make_robot: Callable[[], Any],
        *,
        kind: str,
        task: str,
        seed: int,
        control_hz: float,
        deadman_ms: int,
        policy: PolicyCall | None,
        cameras: tuple[str, ...],
        policy_ready: Callable[[], bool] = lambda: True,
    ):
        self.id = uuid.uuid4().hex[:12]
        self._make_robot = make_robot
        self.robot: Any = None
        self._ready: Future[None] = Future()
        self.kind = kind
        self.task = task
        self.seed = seed
        self.control_hz = control_hz
        self.deadman_s = deadman_ms / 1000.0
        self.heartbeat_ms = heartbeat_ms_for(deadman_ms)
        self.link = LinkMeter()
        self._freezes = FreezeLedger(keep_s=max(2 * deadman_ms / 1000.0, CEILING_S) + 1.0)
        self._ticks: tuple[float | None, float | None] = (None, None)  # the controller loop's last two
        self.deadman_stops = 0
        self.cameras = cameras
        self.policy = policy
        self.policy_ready = policy_ready
        self.created_at = time.time()
        self.mode: Mode = "idle"
        self.last_stop: StopEvent | None = None
        self.error: str | None = None
        self.prompt = Prompt()
        self.frames = 0
        self.controller: object | None = None  # token of the controlling connection
        self.controller_heard = 0.0
        self.watchers = 0
        self._jogs: list[np.ndarray] = []
        self._chunk: list[np.ndarray] = []
        # Re-entrant: a stop publishes its status while the state it describes is still locked.
        self._lock = threading.RLock()
        self._subscribers: dict[object, Publisher] = {}
        self._closed = threading.Event()
        self.recording: list[dict[str, Any]] | None = None
        self.record_to = "recordings"
        self._thread = threading.Thread(target=self._loop, name=f"robot-{self.id}", daemon=True)
        # The dead man has its own thread: a control tick blocked in a slow policy call must not delay it.
        self._watchdog = threading.Thread(target=self._watch, name=f"deadman-{self.id}", daemon=True)

    def start(self, timeout: float = 120.0) -> None:
        """Start the control thread; it builds the robot (GL contexts belong to the thread that made them)."""
        self._thread.start()
        self._ready.result(timeout=timeout)  # re-raises a failed robot construction
        self._watchdog.start()

    def close(self) -> None:
        self._closed.set()
        for t in (self._thread, self._watchdog):
            if t.is_alive() and threading.current_thread() is not t:
                t.join(timeout=5)

    # ---- connections (event loop side) ------------------------------------------------------------
    def subscribe(self, token: object, publish: Publisher) -> None:
        with self._lock:
            self._subscribers[token] = publish

    def unsubscribe(self, token: object) -> None:
        with self._lock:
            self._subscribers.pop(token, None)
            if self.controller is token:
                self.controller = None
                if self.mode == "go" or self._jogs:
                    self._stop_locked("controller disconnected")

    def claim_control(self, token: object) -> bool:
        with self._lock:
            if self.controller is not None:
                return False
            self.controller = token
            self.controller_heard = time.monotonic()
            self.link.reset(self.controller_heard)
            self._ticks = (None, None)
            return True

    def heard(self, token: object) -> None:
        """Any message from the controller, read by the event loop, counts as a heartbeat."""
        with self._lock:
            if self.controller is token:
                self.controller_heard = time.monotonic()
                self.link.heard(self.controller_heard)

    def loop_tick(self, lag_s: float) -> None:
        """The controller connection's event loop ran a timer, `lag_s` late. Whatever was readable
        on its socket at the tick before is read by now (reading is ready work, run before a timer
        that falls due later), so up to that tick a silence is provably the controller's."""
        with self._lock:
            now = time.monotonic()
            self.link.loop_lag(now, lag_s)
            self._ticks = (self._ticks[1], now)

    def _silence_locked(self, now: float) -> Silence:
        return silence(self.controller_heard, now, self._ticks[0], self._freezes)

    def link_info(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            return {
                "deadman_ms": self.deadman_s * 1000.0,
                "heartbeat_ms": self.heartbeat_ms,
                "silent_ms": (now - self.controller_heard) * 1000.0 if self.controller is not None else None,
                **self.link.stats(now),
            }

    # ---- commands (event loop side; only fields under the lock) -----------------------------------
    def command(self, token: object, msg: dict[str, Any]) -> dict[str, Any]:
        kind = msg.get("type")
        with self._lock:
            if self.controller is not token:
                raise ApiError(
                    "only the controlling client may command this robot", code="not_controller", status=403
                )
            if kind == "heartbeat":
                return {}
            if kind in ("stop", "estop"):
                detail = msg.get("reason")
                if detail is not None and (not isinstance(detail, str) or len(detail) > 200):
                    raise RobotCommandError(f"{kind} reason must be a string of at most 200 characters")
                self._stop_locked(
                    "estop" if kind == "estop" else "stop",
                    mode="estopped" if kind == "estop" else "stopped",
                    detail=detail,
                )
                return {"mode": self.mode}
            if self.mode == "estopped" and kind != "reset_estop":
                raise ApiError("the robot is e-stopped; send reset_estop first", code="estopped", status=409)
            if kind == "reset_estop":
                self.mode = "idle"
                return {"mode": self.mode}
            if kind == "prompt":
                self.prompt = _parse_prompt(msg, self.prompt)
                self._chunk.clear()  # a new prompt invalidates the planned chunk
                return {"instruction": self.prompt.instruction}
            if kind == "go":
                if self.policy is None or not self.policy_ready():
                    raise ApiError(
                        "no policy is available for this session", code="model_not_loaded", status=503
                    )
                self.mode = "go"
                self._chunk.clear()
                return {"mode": self.mode}
            if kind == "jog":
                delta = _parse_jog(msg.get("delta"))
                if self.mode == "go":
                    self._stop_locked("jog")
                if len(self._jogs) >= 10:
                    raise ApiError("too many pending jogs; wait for the robot", code="busy", status=503)
                self._jogs.append(delta)
                return {"queued": len(self._jogs)}
            if kind == "record":
                on = msg.get("on")
                if not isinstance(on, bool):
                    raise RobotCommandError("record needs on: true|false")
                if on:
                    dataset = msg.get("dataset", "recordings")
                    if not isinstance(dataset, str):
                        raise RobotCommandError("record dataset must be a dataset id")
                    from ..ids import check_id

                    self.record_to = check_id(dataset, "dataset")
                    self.recording = []
                    return {"recording": True, "dataset": self.record_to}
                steps = self.recording or []
                self.recording = None
                return {"recording": False, "steps": len(steps), "_episode": steps, "dataset": self.record_to}
        raise RobotCommandError(
            f"unknown command {kind!r}; one of heartbeat, prompt, go, stop, estop, reset_estop, jog, record"
        )

    def _stop_locked(self, reason: str, mode: Mode = "stopped", detail: str | None = None) -> StopEvent:
        # A plain stop never hides an e-stop (only reset_estop leaves it) or an error (go clears it).
        if mode != "stopped" or self.mode not in ("estopped", "error"):
            self.mode = mode
        self._chunk.clear()
        self._jogs.clear()
        now = time.monotonic()
        quiet = self._silence_locked(now)
        heard = bool(self.controller_heard)  # never heard: no controller ever connected
        self.last_stop = StopEvent(
            reason,
            now,
            quiet.total_s * 1000.0 if heard else None,
            quiet.server_s * 1000.0 if heard else 0.0,
            self.deadman_s * 1000.0,
            detail,
        )
        if reason == "deadman":
            self.deadman_stops += 1
        self._publish(
            {
                "type": "status",
                "mode": self.mode,
                "reason": reason,
                "stop": self.last_stop.to_json(),
                "error": self.error,
            }
        )
        return self.last_stop

    # ---- the control thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self.robot = self._make_robot()
            self.prompt = Prompt(instruction=str(getattr(self.robot, "instruction", "")))
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            self._run()
        finally:
            close = getattr(self.robot, "close", None)
            if close is not None:
                close()

    def _run(self) -> None:
        period = 1.0 / self.control_hz
        next_tick = time.monotonic()
        while not self._closed.is_set():
            try:
                self._tick()
            except Exception as exc:  # any server-side error stops the robot
                log.exception("robot session tick failed", extra={"session": self.id})
                with self._lock:
                    self.error = f"{type(exc).__name__}: {exc}"
                    self._stop_locked("error", mode="error", detail=self.error)
                try:
                    self.robot.stop()
                except Exception:
                    log.exception("robot stop failed")
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay > 0:
                self._closed.wait(delay)
            elif -delay > period:
                next_tick = time.monotonic()  # fell behind (slow policy): do not burst to catch up

    def _watch(self) -> None:
        last = time.monotonic()
        while not self._closed.wait(SLICE_S):
            now = time.monotonic()
            with self._lock:
                if self._freezes.woke(last, now, FREEZE_GRACE_S):
                    self.link.watchdog_gap(now, now - last)
            last = now
            self._check_deadman(now)

    def _check_deadman(self, now: float) -> None:
        with self._lock:
            if self.mode != "go" and not self._jogs:
                return  # nothing is moving: silence is fine
            # The server's own lag is not the controller's silence, within bounds (link.silence).
            if self.controller is not None and not self._silence_locked(now).overdue(self.deadman_s):
                return
            stop = self._stop_locked("deadman")
            link = self.link.stats(now)
        log.warning(
            "dead man: controller silent, robot stopped",
            extra={"session": self.id, "silent_ms": stop.silent_ms, "limit_ms": stop.limit_ms, **link},
        )

    def _next_action(self) -> tuple[np.ndarray | None, str]:
        with self._lock:
            if self._jogs:
                return self._jogs.pop(0), "jog"
            if self.mode != "go":
                return None, ""
            if self._chunk:
                return self._chunk.pop(0), "policy"
            prompt = self.prompt
        assert self.policy is not None
        obs = self.robot.observe()
        chunk = self.policy(
            {
                "image": obs["images"][self.cameras[0]],
                "instruction": prompt.instruction,
                "state": obs["state"],
                **prompt.fields,
            }
        )
        with self._lock:
            self._chunk = [np.asarray(a, np.float32) for a in chunk[1:]]
        return np.asarray(chunk[0], np.float32), "policy"

    def _tick(self) -> None:
        action, source = self._next_action()
        with self._lock:
            if source == "policy" and self.mode != "go":
                action = None  # stopped (e.g. by the dead man) while the policy ran: never apply a stale plan
        applied = self.robot.act(action) if action is not None else None
        if applied is None:
            self.robot.stop()  # hold the pose; the simulation keeps time
        obs = self.robot.observe()
        with self._lock:
            plan = [a.tolist() for a in self._chunk] if self.mode == "go" else []
        frame = {
            "type": "frame",
            "seq": self.frames,
            "t": obs["t"],
            "images": {name: encode_jpeg(obs["images"][name]) for name in self.cameras},
            "state": obs["state"],
            "action": applied,
            # The rest of the policy's chunk (7-D deltas, un-normalised) still to execute, and each
            # camera's model, so a client can project the planned end-effector path on the frame.
            "plan": plan,
            "camera_models": self._camera_models(),
            "mode": self.mode,
            "instruction": self.prompt.instruction,
        }
        self.frames += 1
        with self._lock:
            if self.recording is not None and applied is not None:
                self.recording.append(
                    {"image": obs["images"][self.cameras[0]], "state": obs["state"], "action": applied}
                )
        self._publish(frame)

    def _camera_models(self) -> dict[str, Any]:
        """Intrinsics + world-to-camera per streamed camera (OpenCV convention); a robot without
        calibration (no `camera` method) streams none."""
        camera = getattr(self.robot, "camera", None)
        if camera is None:
            return {}
        return {name: camera(name).to_json() for name in self.cameras}

    def _publish(self, frame: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subscribers.values())
        for publish in subs:
            publish(frame)

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "task": self.task,
                "seed": self.seed,
                "instruction": self.prompt.instruction,
                "control_hz": self.control_hz,
                "cameras": list(self.cameras),
                "mode": self.mode,
                "error": self.error,
                "frames": self.frames,
                "controller_connected": self.controller is not None,
                "watchers": self.watchers,
                "recording": self.recording is not None,
                "deadman_ms": self.deadman_s * 1000.0,
                "heartbeat_ms": self.heartbeat_ms,
                "deadman_stops": self.deadman_stops,
                "last_stop": None if self.last_stop is None else self.last_stop.to_json(),
                "link": self.link_info(),
            }


def _parse_jog(delta: object) -> np.ndarray:
    arr = np.asarray(delta, dtype=np.float32) if isinstance(delta, list | np.ndarray) else None
    if arr is None or arr.shape != (7,) or not np.isfinite(arr).all():
        raise RobotCommandError(
            "jog needs delta: 7 finite numbers [dx, dy, dz, droll, dpitch, dyaw, gripper]"
        )
    return arr


def _parse_prompt(msg: dict[str, Any], current: Prompt) -> Prompt:
    instruction = msg.get("instruction", current.instruction)
    if not isinstance(instruction, str) or len(instruction) > 1000:
        raise RobotCommandError("instruction must be a string of at most 1000 characters")
    fields: dict[str, Any] = {
        k: msg[k] for k in ("prompt_tokens", "prompt_valid", "prompts", "pixel_masks") if k in msg
    }
    return Prompt(instruction=instruction, fields=fields)


class Outbox:
    """One connection's outgoing messages, on its event loop. Frames are latest-wins (a slow client
    skips frames, never lags); every other message (a stop's status) is kept, in order, and goes
    before the next frame: a burst of frames must never drop the one message saying why the robot
    stopped."""

    def __init__(self, keep: int = 64):
        self._frame: dict[str, Any] | None = None
        self._others: deque[dict[str, Any]] = deque(maxlen=keep)
        self._ready = asyncio.Event()

    def put(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "frame":
            self._frame = msg
        else:
            self._others.append(msg)
        self._ready.set()

    async def get(self) -> dict[str, Any]:
        while True:
            if self._others:
                return self._others.popleft()
            if self._frame is not None:
                frame, self._frame = self._frame, None
                return frame
            self._ready.clear()
            await self._ready.wait()


def loop_publisher(loop: asyncio.AbstractEventLoop, outbox: Outbox) -> Publisher:
    """A thread-safe publisher into an event loop's Outbox."""

    def publish(frame: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the connection is gone
            loop.call_soon_threadsafe(outbox.put, frame)

    return publish
