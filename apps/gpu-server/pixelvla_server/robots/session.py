"""A robot session: one control thread owns the robot; WebSocket clients command it and watch its frames.

The control thread ticks at the robot's control rate: start a new episode if one was asked for,
apply the next action (a policy chunk step in "go" mode, a queued manual jog, or nothing), observe,
encode the frame, publish it. Between ticks it sleeps until the next tick. A watchdog thread checks the
dead man every slice: when the controller is silent for `deadman_ms` (or disconnects) the session
stops, so the robot stops within deadman_ms plus one slice. Any exception in the loop stops the robot
as well. Commands from the event loop are checked and then only set fields under a lock; only the
control thread touches the robot (robots.protocol.Robot), from construction to close (MuJoCo and its
GL context are bound to one thread).

Connections: one controller and any number of watchers. Any connection may stop or e-stop the robot
(an e-stop button must work in every tab); a watcher holding the operator token may take control (the
robot stops first, the old controller becomes a watcher). A session nobody watches renders no frames,
and closes itself after `idle_close_s` without a connection.

The session also measures its controller's link (`LinkMeter`: gaps between messages, the event
loop's lag), and every stop is published as a `status` message saying why, how long the controller
had been silent and what the limit was, so the studio can tell "operator gone" from "link too slow".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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
from .protocol import (
    Episode,
    Observation,
    RecordedStep,
    Recording,
    Robot,
    RobotDescription,
    TaskOutcome,
)

log = logging.getLogger("pixelvla_server.robots")
Mode = Literal["idle", "go", "stopped", "estopped", "error"]
SLICE_S = 0.01
# Watchdog wake-ups up to this far apart are an ordinary busy machine (the silence counts); the rest
# of a longer gap is a freeze of the whole server, which the dead man does not blame on the controller.
FREEZE_GRACE_S = 0.05
# A session may choose its own dead-man limit within these bounds: below 100 ms one missed browser
# timer tick stops the robot; above 2 s a robot runs on for seconds after its operator is gone.
DEADMAN_MIN_MS, DEADMAN_MAX_MS = 100, 2000
# A session nobody has connected to for this long is closed (a studio tab that left, a new episode
# started as a new session): unwatched sessions do not render, but they hold a MuJoCo scene each.
DEFAULT_IDLE_CLOSE_S = 300.0
# Control steps an episode has to succeed in before its outcome counts as a failure: pixelvla.evaluation's
# default (8 s at 10 Hz); a session may choose its own.
DEFAULT_MAX_STEPS = 80


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
PolicyCall = Callable[[dict[str, Any]], np.ndarray]  # observation dict -> action chunk (N, action_dim)


Role = Literal["controller", "watcher"]


@dataclass(frozen=True)
class Ack:
    """A command's typed result, sent back as {"type": "ack", "command", ...fields}."""

    command: str

    def fields(self) -> dict[str, Any]:
        return {}

    def to_json(self) -> dict[str, Any]:
        return {"type": "ack", "command": self.command, **self.fields()}


@dataclass(frozen=True)
class ModeAck(Ack):
    mode: Mode
    # The first frame built after the change: frames before it (still on their way) show the old mode.
    frame_seq: int

    def fields(self) -> dict[str, Any]:
        return {"mode": self.mode, "frame_seq": self.frame_seq}


@dataclass(frozen=True)
class PromptAck(Ack):
    instruction: str

    def fields(self) -> dict[str, Any]:
        return {"instruction": self.instruction}


@dataclass(frozen=True)
class JogAck(Ack):
    queued: int

    def fields(self) -> dict[str, Any]:
        return {"queued": self.queued}


@dataclass(frozen=True)
class RecordStarted(Ack):
    dataset: str

    def fields(self) -> dict[str, Any]:
        return {"recording": True, "dataset": self.dataset}


@dataclass(frozen=True)
class RecordStopped(Ack):
    """Recording ended: the caller saves `recording` (seconds of disk work, off the event loop) and
    then acknowledges with the episode index it got."""

    recording: Recording

    def fields(self) -> dict[str, Any]:
        return {"recording": False, "steps": len(self.recording.steps), "dataset": self.recording.dataset}


@dataclass(frozen=True)
class ResetAck(Ack):
    task: str
    seed: int

    def fields(self) -> dict[str, Any]:
        return {"task": self.task, "seed": self.seed}  # the episode message follows with its mode


@dataclass(frozen=True)
class RoleAck(Ack):
    role: Role

    def fields(self) -> dict[str, Any]:
        return {"role": self.role}


COMMANDS = (
    "heartbeat, prompt, go, stop, estop, reset_estop, jog, record, reset, take_control "
    "(a watcher: heartbeat, stop, estop, take_control)"
)


class RobotSession:
    def __init__(
        self,
        make_robot: Callable[[], Robot],
        *,
        episode: Episode,
        control_hz: float,
        deadman_ms: int,
        policy: PolicyCall | None,
        cameras: tuple[str, ...],
        policy_ready: Callable[[], bool] = lambda: True,
        policy_action_dim: Callable[[], int | None] = lambda: None,
        idle_close_s: float = DEFAULT_IDLE_CLOSE_S,
        on_idle: Callable[[RobotSession], None] | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ):
        self.id = uuid.uuid4().hex[:12]
        self._make_robot = make_robot
        self._robot: Robot | None = None
        self.description: RobotDescription | None = None
        self._ready: Future[None] = Future()
        self.episode = episode
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
        self.policy_action_dim = policy_action_dim
        self.idle_close_s = idle_close_s
        self.max_steps = max_steps
        self._on_idle = on_idle
        self.created_at = time.time()
        self.mode: Mode = "idle"
        self.last_stop: StopEvent | None = None
        self.error: str | None = None
        self.prompt = Prompt()
        self.outcome: TaskOutcome | None = None
        self.frames = 0
        self.controller: object | None = None  # token of the controlling connection
        self.controller_heard = 0.0
        self._may_control: dict[object, bool] = {}  # connection -> holds the operator token
        # Pending jogs: one action each, in the robot's action space, whose gripper component is NaN
        # until applied ("keep the gripper as it is").
        self._jogs: list[np.ndarray] = []
        self._gripper = 0.0  # the gripper command last applied (after a reset: the state's "gripper")
        self._gripper_at: int | None = None  # the robot's gripper action component, if it has one
        self._chunk: list[np.ndarray] = []
        self._reset_to: Episode | None = None  # a new episode the control thread starts at its next tick
        # Re-entrant: a stop publishes its status while the state it describes is still locked.
        self._lock = threading.RLock()
        self._subscribers: dict[object, Publisher] = {}
        self._unwatched_since: float | None = time.monotonic()
        self._closed = threading.Event()
        self.recording: Recording | None = None
        self._thread = threading.Thread(target=self._loop, name=f"robot-{self.id}", daemon=True)
        # The dead man has its own thread: a control tick blocked in a slow policy call must not delay it.
        self._watchdog = threading.Thread(target=self._watch, name=f"deadman-{self.id}", daemon=True)

    @property
    def kind(self) -> str:
        return self.description.kind if self.description is not None else "unknown"

    @property
    def task(self) -> str:
        return self.episode.task

    @property
    def seed(self) -> int:
        return self.episode.seed

    @property
    def watchers(self) -> int:
        with self._lock:
            return sum(1 for t in self._subscribers if t is not self.controller)

    def start(self, timeout: float = 120.0) -> None:
        """Start the control thread; it builds the robot (GL contexts belong to the thread that made them)."""
        self._thread.start()
        self._ready.result(timeout=timeout)  # re-raises a failed robot construction or reset
        self._watchdog.start()

    def close(self) -> None:
        self._closed.set()
        for t in (self._thread, self._watchdog):
            if t.is_alive() and threading.current_thread() is not t:
                t.join(timeout=5)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # ---- connections (event loop side) ------------------------------------------------------------
    def connect(self, token: object, publish: Publisher, want: str, may_control: bool) -> Role | None:
        """A connection joins: as the controller (`want` "controller"; None when the robot has one),
        or as a watcher ("watcher"), or whichever is free ("auto": the controller when there is none
        and the connection may control). Every connection gets the frames and every stop."""
        with self._lock:
            role: Role = "watcher"
            if want in ("controller", "auto") and may_control and self.controller is None:
                role = "controller"
            elif want == "controller":
                return None
            if role == "controller":
                self._claim_locked(token)
            self._may_control[token] = may_control
            self._subscribers[token] = publish
            self._unwatched_since = None
            return role

    def _claim_locked(self, token: object) -> None:
        self.controller = token
        self.controller_heard = time.monotonic()
        self.link.reset(self.controller_heard)
        self._ticks = (None, None)

    def disconnect(self, token: object) -> None:
        with self._lock:
            self._subscribers.pop(token, None)
            self._may_control.pop(token, None)
            if not self._subscribers:
                self._unwatched_since = time.monotonic()
            if self.controller is token:
                self.controller = None
                if self.mode == "go" or self._jogs:
                    self._stop_locked("controller disconnected")

    def role_of(self, token: object) -> Role:
        with self._lock:
            return "controller" if self.controller is token else "watcher"

    def heard(self, token: object) -> None:
        """Any message from the controller, read by the event loop, counts as a heartbeat."""
        with self._lock:
            if self.controller is token:
                self.controller_heard = time.monotonic()
                self.link.heard(self.controller_heard)

    def loop_tick(self, token: object, lag_s: float) -> None:
        """The controller connection's event loop ran a timer, `lag_s` late. Whatever was readable
        on its socket at the tick before is read by now (reading is ready work, run before a timer
        that falls due later), so up to that tick a silence is provably the controller's."""
        with self._lock:
            if self.controller is not token:
                return
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
    def command(self, token: object, msg: dict[str, Any]) -> Ack | None:
        """Apply one command; its typed acknowledgement, or None for a heartbeat. Every check runs
        here, before anything changes: a bad command is a typed error and the robot keeps its mode."""
        kind = msg.get("type")
        with self._lock:
            if kind in ("stop", "estop"):  # any connection may stop the robot, watchers too
                detail = msg.get("reason")
                if detail is not None and (not isinstance(detail, str) or len(detail) > 200):
                    raise RobotCommandError(f"{kind} reason must be a string of at most 200 characters")
                if detail is None and self.controller is not token:
                    detail = "from a watching client"
                self._stop_locked(
                    "estop" if kind == "estop" else "stop",
                    mode="estopped" if kind == "estop" else "stopped",
                    detail=detail,
                )
                return ModeAck(kind, self.mode, self.frames)
            if kind == "heartbeat":
                return None  # a watcher's heartbeats are harmless; only the controller's count
            if kind == "take_control":
                return self._take_control_locked(token)
            if self.controller is not token:
                raise ApiError(
                    "only the controlling client may command this robot; a watcher may stop, e-stop "
                    "or take_control",
                    code="not_controller",
                    status=403,
                )
            if self.mode == "estopped" and kind not in ("reset_estop", "reset"):
                raise ApiError("the robot is e-stopped; send reset_estop first", code="estopped", status=409)
            if kind == "reset_estop":
                self.mode = "idle"
                return ModeAck(kind, self.mode, self.frames)
            if kind == "prompt":
                self.prompt = parse_prompt(msg, self.prompt)  # validated now, or nothing changes
                self._chunk.clear()  # a new prompt invalidates the planned chunk
                return PromptAck(kind, self.prompt.instruction)
            if kind == "go":
                if self.policy is None or not self.policy_ready():
                    raise ApiError(
                        "no policy is available for this session", code="model_not_loaded", status=503
                    )
                self._check_action_space(self.policy_action_dim())
                self.mode = "go"
                self.error = None
                self._chunk.clear()
                return ModeAck(kind, self.mode, self.frames)
            if kind == "jog":
                assert self.description is not None  # set before the session is reachable
                delta = _parse_jog(msg.get("delta"), self.description, self._gripper_at)
                if len(self._jogs) >= 10:
                    raise ApiError("too many pending jogs; wait for the robot", code="busy", status=503)
                if self.mode == "go":
                    self._stop_locked("jog")
                self._jogs.append(delta)
                return JogAck(kind, len(self._jogs))
            if kind == "record":
                return self._record_locked(msg)
            if kind == "reset":
                return self._reset_locked(msg)
        raise RobotCommandError(f"unknown command {kind!r}; one of {COMMANDS}")

    def _take_control_locked(self, token: object) -> Ack:
        if self.controller is token:
            return RoleAck("take_control", "controller")
        if not self._may_control.get(token, False):
            raise ApiError(
                "taking control of a robot needs the operator token (?operator_token=)",
                code="operator_token_required",
                status=403,
            )
        old = self.controller
        if old is not None:
            # The robot never moves on under a controller that is about to lose it.
            self._stop_locked("control taken", detail="another client took control")
            publish = self._subscribers.get(old)
            if publish is not None:
                publish({"type": "role", "role": "watcher", "reason": "another client took control"})
        self._claim_locked(token)
        return RoleAck("take_control", "controller")

    def _record_locked(self, msg: dict[str, Any]) -> Ack:
        on = msg.get("on")
        if not isinstance(on, bool):
            raise RobotCommandError("record needs on: true|false")
        if on:
            dataset = msg.get("dataset", "recordings")
            if not isinstance(dataset, str):
                raise RobotCommandError("record dataset must be a dataset id")
            from ..ids import check_id

            self.recording = Recording(dataset=check_id(dataset, "dataset"), episode=self.episode)
            return RecordStarted("record", self.recording.dataset)
        if self.recording is None:
            raise RobotCommandError("not recording; send record {on: true} first")
        rec, self.recording = self.recording, None
        # What the episode was recorded under: the prompt at its end, and the task's outcome.
        rec.instruction = self.prompt.instruction
        rec.prompts = list(self.prompt.fields.get("prompts") or [])
        rec.pixel_masks = [_json_rle(m) for m in self.prompt.fields.get("pixel_masks") or []]
        rec.outcome = self.outcome
        return RecordStopped("record", rec)

    def _reset_locked(self, msg: dict[str, Any]) -> Ack:
        if self.recording is not None:
            raise ApiError("stop recording before starting a new episode", code="recording", status=409)
        task = msg.get("task", self.episode.task)
        seed = msg.get("seed", self.episode.seed)
        tasks = self.description.tasks if self.description is not None else ()
        if not isinstance(task, str) or (tasks and task not in tasks):
            raise RobotCommandError(f"reset task must be one of {', '.join(tasks)}; got {task!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**62:
            raise RobotCommandError(f"reset seed must be an integer in [0, 2**62]; got {seed!r}")
        if self.mode == "go" or self._jogs:
            self._stop_locked("reset")
        self._reset_to = Episode(task=task, seed=seed)
        return ResetAck("reset", task, seed)

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
                "frame_seq": self.frames,
                "reason": reason,
                "stop": self.last_stop.to_json(),
                "error": self.error,
            }
        )
        return self.last_stop

    # ---- the control thread ----------------------------------------------------------------------
    @property
    def robot(self) -> Robot:
        if self._robot is None:
            raise RuntimeError("the robot is built by the session's control thread; call start() first")
        return self._robot

    def _loop(self) -> None:
        try:
            self._robot = self._make_robot()
            self.description = self._robot.describe()
            self._gripper_at = gripper_index(self.description)
            self._gripper = _gripper_of(self._robot.reset(self.episode), self.description)
            self.prompt = Prompt(instruction=self._robot.instruction)
            self.outcome = self._judged(self._robot.outcome())
        except BaseException as exc:
            if self._robot is not None:
                with contextlib.suppress(Exception):
                    self._robot.close()
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            self._run()
        finally:
            self._robot.close()

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
                idle = self._unwatched_since is not None and now - self._unwatched_since > self.idle_close_s
            last = now
            self._check_deadman(now)
            if idle and self._on_idle is not None:
                log.info("robot session unwatched, closing it", extra={"session": self.id})
                self._on_idle(self)
                return

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
        jog: np.ndarray | None = None
        with self._lock:
            d = self.description
            if self._jogs:
                jog = self._jogs.pop(0)
                g = self._gripper_at
                if d is None or d.action_kind != "absolute":
                    if g is not None and np.isnan(jog[g]):
                        jog[g] = self._gripper  # a move without O/C keeps the gripper (and what it holds)
                    return jog, "jog"
            elif self.mode != "go":
                return None, ""
            elif self._chunk:
                return self._chunk.pop(0), "policy"
            prompt = self.prompt
        if jog is not None and d is not None:
            # An absolute robot takes targets: the jog's delta from where it is now (its state of the
            # same names; a NaN gripper: no change). Read outside the lock: the robot is this thread's.
            state = self.robot.observe()["state"]
            here = np.array([state[d.state_names.index(n)] for n in d.action_names], np.float32)
            return here + np.nan_to_num(jog, nan=0.0), "jog"
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
        chunk = np.asarray(chunk, np.float32)
        # The model may have been swapped since Go: never send a robot actions of another shape.
        self._check_action_space(int(chunk.shape[-1]) if chunk.ndim == 2 else -1)
        with self._lock:
            self._chunk = list(chunk[1:])
        return chunk[0], "policy"

    def _check_action_space(self, policy_dim: int | None) -> None:
        """The served policy's actions must be this robot's: a 7-D end-effector policy cannot drive a
        6-joint arm (nor the reverse); the robot is refused before it moves, with what to do."""
        d = self.description
        if policy_dim is None or d is None or policy_dim == d.action_dim:
            return
        raise ApiError(
            f"the served model predicts {policy_dim}-D actions but this robot ({d.kind}) takes "
            f"{d.action_dim}: {', '.join(d.action_names)}. Load a model trained on this robot's "
            "actions (e.g. on a LeRobot dataset recorded with it), or move it with jog",
            code="action_space_mismatch",
            status=409,
        )

    def _start_episode(self, episode: Episode) -> None:
        """A reset the controller asked for, on this thread (the robot's only caller)."""
        assert self.description is not None
        gripper = _gripper_of(self.robot.reset(episode), self.description)
        with self._lock:
            self.episode = episode
            self.prompt = Prompt(instruction=self.robot.instruction)
            self.outcome = self._judged(self.robot.outcome())
            self._chunk.clear()
            self._jogs.clear()
            self._gripper = gripper
            if self.mode != "estopped":
                self.mode = "idle"
            self.error = None
            self._publish(
                {
                    "type": "episode",
                    "task": episode.task,
                    "seed": episode.seed,
                    "instruction": self.prompt.instruction,
                    "mode": self.mode,
                    "frame_seq": self.frames,
                    "outcome": self.outcome.to_json(),
                }
            )

    def _tick(self) -> None:
        with self._lock:
            reset, self._reset_to = self._reset_to, None
        if reset is not None:
            self._start_episode(reset)
        action, source = self._next_action()
        with self._lock:
            if source == "policy" and self.mode != "go":
                action = None  # stopped (e.g. by the dead man) while the policy ran: never apply a stale plan
        applied = self.robot.act(action) if action is not None else None
        if applied is not None and self._gripper_at is not None:
            self._gripper = float(applied[self._gripper_at])
        if applied is None:
            self.robot.stop()  # hold the pose; the simulation keeps time
        outcome = (
            self._judged(self.robot.outcome())
            if applied is not None or self.outcome is None
            else self.outcome
        )
        with self._lock:
            self.outcome = outcome
            watched = bool(self._subscribers)
            recording = self.recording is not None
        if not watched and not recording:
            return  # nobody looks and nothing records: no frame to render
        obs = self.robot.observe()
        with self._lock:
            # seq and mode under one lock: a frame numbered below a command's frame_seq was built
            # before the command took effect, every later one after it.
            seq, mode = self.frames, self.mode
            self.frames += 1
            plan = [a.tolist() for a in self._chunk] if mode == "go" else []
        frame = {
            "type": "frame",
            "seq": seq,
            "t": obs["t"],
            "images": {name: encode_jpeg(obs["images"][name]) for name in self.cameras},
            "state": obs["state"],
            "action": applied,
            # The rest of the policy's chunk (7-D deltas, un-normalised) still to execute, and each
            # camera's model, so a client can project the planned end-effector path on the frame.
            "plan": plan,
            "camera_models": self.robot.camera_models(),
            "mode": mode,
            "instruction": self.prompt.instruction,
            "outcome": outcome.to_json(),
            "episode": {"task": self.episode.task, "seed": self.episode.seed},
        }
        with self._lock:
            if self.recording is not None and applied is not None:
                self.recording.steps.append(
                    RecordedStep(obs["images"][self.cameras[0]], obs["state"], applied)
                )
        self._publish(frame)

    def _judged(self, outcome: TaskOutcome) -> TaskOutcome:
        return dataclasses.replace(outcome, max_steps=self.max_steps)

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
                "robot": None if self.description is None else self.description.to_json(),
                "outcome": None if self.outcome is None else self.outcome.to_json(),
                "idle_close_s": self.idle_close_s,
                "max_steps": self.max_steps,
            }


def gripper_index(description: RobotDescription) -> int | None:
    """The action component that commands the gripper: the last action named like one ("gripper",
    "gripper.pos"), or None for a robot without one."""
    found = [i for i, n in enumerate(description.action_names) if "gripper" in n.lower()]
    return found[-1] if found else None


def _parse_jog(delta: object, description: RobotDescription, gripper_at: int | None) -> np.ndarray:
    """One step in the robot's own action space (the sim, LIBERO: [dx, dy, dz, droll, dpitch, dyaw,
    gripper]; a LeRobot arm: its joints). Without the gripper component (when it is the last one) the
    move keeps the gripper as it is."""
    names = description.action_names
    n = len(names)
    if description.action_kind == "absolute" and not set(names) <= set(description.state_names):
        raise RobotCommandError(
            "this robot takes absolute targets and its state does not report "
            f"{', '.join(sorted(set(names) - set(description.state_names)))}: it cannot be jogged"
        )
    keeps = gripper_at is not None and gripper_at == n - 1
    arr = np.asarray(delta, dtype=np.float32) if isinstance(delta, list | np.ndarray) else None
    shapes = ((n,), (n - 1,)) if keeps else ((n,),)
    if arr is None or arr.shape not in shapes or not np.isfinite(arr).all():
        if keeps:
            want = (
                f"{n - 1} finite numbers [{', '.join(names[:-1])}] (the gripper stays as it is) or {n} "
                f"with {names[-1]} last"
            )
        else:
            want = f"{n} finite numbers [{', '.join(names)}]"
        raise RobotCommandError(f"jog needs delta: {want}")
    return arr if arr.shape == (n,) else np.append(arr, np.float32(np.nan))


def _gripper_of(obs: Observation, description: RobotDescription) -> float:
    """The gripper command in a robot's state: the state value named like the gripper action (a
    LeRobot arm's "gripper.pos"), else "gripper" (the sim's), else 0 (open)."""
    names = description.state_names
    at = gripper_index(description)
    for name in ((description.action_names[at],) if at is not None else ()) + ("gripper",):
        if name in names:
            return float(obs["state"][names.index(name)])
    return 0.0


def _json_rle(m: Any) -> dict[str, Any]:
    """A validated COCO RLE as JSON (compressed counts may arrive as msgpack bytes)."""
    counts = m["counts"]
    if isinstance(counts, bytes | bytearray):
        counts = bytes(counts).decode("ascii")
    elif not isinstance(counts, str):
        counts = [int(c) for c in counts]
    return {"size": [int(v) for v in m["size"]], "counts": counts}


_PROBE_IMAGE = np.zeros((1, 1, 3), np.uint8)


def parse_prompt(msg: dict[str, Any], current: Prompt) -> Prompt:
    """The prompt command's fields, checked as the policy will check them at the next control tick
    (the observation codec, then the prompt featurizer's token budget), so that a bad prompt is a
    typed error to the controller now instead of a robot in "error" later. What depends on the served
    model itself (its own mask limit, token width) is still checked at predict."""
    from pixelvla.errors import PromptError
    from pixelvla.prompts import featurize

    from ..policy.codec import to_observation

    instruction = msg.get("instruction", current.instruction)
    if not isinstance(instruction, str) or len(instruction) > 1000:
        raise RobotCommandError("instruction must be a string of at most 1000 characters")
    if not instruction.strip():
        raise RobotCommandError("instruction must not be empty: the policy needs one", code="invalid_prompt")
    fields: dict[str, Any] = {
        k: msg[k] for k in ("prompt_tokens", "prompt_valid", "prompts", "pixel_masks") if k in msg
    }
    # The codec raises InvalidObservation / PromptError / RleError, each with its code.
    obs = to_observation({"image": _PROBE_IMAGE, "instruction": instruction, **fields})
    if obs.prompts is not None and obs.prompt_tokens is None:
        featurize(obs.prompts)  # more tokens or masks than the encoder takes: PromptError
    if obs.prompt_valid is not None and not obs.prompt_valid.any():
        raise PromptError("prompt_valid marks no token valid; send the 'none' token for no prompts")
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
