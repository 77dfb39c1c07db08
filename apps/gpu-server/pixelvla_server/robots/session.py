"""A robot session: one control thread owns the robot; WebSocket clients command it and watch its frames.

The control thread ticks at the robot's control rate: apply the next action (a policy chunk step in
"go" mode, a queued manual jog, or nothing), observe, encode the frame, publish it. Between ticks it
sleeps in short slices and checks the dead man: when the controller is silent for `deadman_ms` (or
disconnects) the session stops, so the robot stops within deadman_ms plus one slice. Any exception in
the loop stops the robot as well. Commands from the event loop only set fields under a lock; only the
control thread touches the robot, from construction to close (MuJoCo and its GL context are bound
to one thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import ApiError

log = logging.getLogger("pixelvla_server.robots")
Mode = Literal["idle", "go", "stopped", "estopped", "error"]
SLICE_S = 0.01


class RobotCommandError(ApiError):
    code = "invalid_command"


@dataclass
class Prompt:
    instruction: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # prompt_tokens, prompt_valid, prompts, pixel_masks


@dataclass
class StopEvent:
    reason: str
    at: float  # monotonic time the session stopped
    silent_ms: float | None = None  # for dead-man stops: how long the controller had been silent


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
        self._lock = threading.Lock()
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
            return True

    def heard(self, token: object) -> None:
        with self._lock:
            if self.controller is token:
                self.controller_heard = time.monotonic()

    # ---- commands (event loop side; only fields under the lock) -----------------------------------
    def command(self, token: object, msg: dict[str, Any]) -> dict[str, Any]:
        kind = msg.get("type")
        with self._lock:
            if self.controller is not token:
                raise ApiError(
                    "only the controlling client may command this robot", code="not_controller", status=403
                )
            self.controller_heard = time.monotonic()
            if kind == "heartbeat":
                return {}
            if kind in ("stop", "estop"):
                self._stop_locked(
                    "estop" if kind == "estop" else "stop", mode="estopped" if kind == "estop" else "stopped"
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

    def _stop_locked(self, reason: str, mode: Mode = "stopped", silent_ms: float | None = None) -> None:
        # A plain stop never hides an e-stop (only reset_estop leaves it) or an error (go clears it).
        if mode != "stopped" or self.mode not in ("estopped", "error"):
            self.mode = mode
        self._chunk.clear()
        self._jogs.clear()
        self.last_stop = StopEvent(reason, time.monotonic(), silent_ms)

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
                    self._stop_locked("error", mode="error")
                    self.error = f"{type(exc).__name__}: {exc}"
                try:
                    self.robot.stop()
                except Exception:
                    log.exception("robot stop failed")
                self._publish({"type": "status", "mode": "error", "reason": "error", "error": self.error})
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay > 0:
                self._closed.wait(delay)
            elif -delay > period:
                next_tick = time.monotonic()  # fell behind (slow policy): do not burst to catch up

    def _watch(self) -> None:
        while not self._closed.wait(SLICE_S):
            self._check_deadman(time.monotonic())

    def _check_deadman(self, now: float) -> None:
        with self._lock:
            if self.mode != "go" and not self._jogs:
                return  # nothing is moving: silence is fine
            silent = now - self.controller_heard
            if self.controller is not None and silent <= self.deadman_s:
                return
            self._stop_locked("deadman", silent_ms=silent * 1000.0)
        log.warning(
            "dead man: controller silent, robot stopped",
            extra={"session": self.id, "silent_ms": silent * 1000},
        )
        self._publish({"type": "status", "mode": "stopped", "reason": "deadman"})

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
                "last_stop": None
                if self.last_stop is None
                else {"reason": self.last_stop.reason, "silent_ms": self.last_stop.silent_ms},
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


def loop_publisher(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[dict[str, Any]]) -> Publisher:
    """A thread-safe publisher into a size-1 latest-wins queue: a slow watcher skips frames, never lags."""

    def put(frame: dict[str, Any]) -> None:
        if queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
        queue.put_nowait(frame)

    def publish(frame: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the connection is gone
            loop.call_soon_threadsafe(put, frame)

    return publish
