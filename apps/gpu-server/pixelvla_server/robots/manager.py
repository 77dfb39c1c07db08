"""RobotManager: the server's robot sessions, one per robot, whatever the robot is.

Public surface (what routes.py and other robot kinds use):

- `create(body: RobotCreate) -> RobotSession`: a sim robot session from the POST /v1/robots body.
- `create_session(make_robot, episode=..., control_hz=..., cameras=..., deadman_ms=None,
  idle_close_s=..., max_steps=...) -> RobotSession`: a session on ANY robot satisfying robots.protocol.Robot
  (`make_robot` is called on the session's control thread, which then owns the robot: it resets it
  to `episode`, drives it and closes it). The session's policy is the served model. Raises Conflict
  (too_many_sessions) past MAX_SESSIONS, and ApiError with the robot's own code when building or
  resetting it fails with a typed (PixelVLAError-style) error.
- `get(id)` (NotFound unknown_session), `delete(id)`, `list()`, `close()` (all, at shutdown).
- `save_episode(session, recording) -> int`: appends a finished recording to a dataset.

A session that no client has watched for its `idle_close_s` closes itself through the manager
(`delete`), so abandoned sessions do not pile up.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from ..config import Settings
from ..errors import ApiError, Conflict, NotFound
from ..ids import check_id, datasets_root
from .protocol import Episode, Recording, Robot
from .remote import NAME_PATTERN, RemoteHub
from .session import (
    DEADMAN_MAX_MS,
    DEADMAN_MIN_MS,
    DEFAULT_IDLE_CLOSE_S,
    DEFAULT_MAX_STEPS,
    RobotSession,
)

MAX_SESSIONS = 4

Camera = Literal["front", "wrist"]


class RobotCreate(BaseModel):
    kind: Literal["sim"] = "sim"
    robot: str | None = Field(
        default=None,
        pattern="^remote:" + NAME_PATTERN[1:],
        description="remote:<name>: drive a connected remote robot (GET /v1/remote-robots) instead of "
        "building a sim; its cameras and control rate are the robot's own (image_size, control_hz "
        "and cameras are ignored), task and seed go to its reset",
    )
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
    idle_close_s: float = Field(
        default=DEFAULT_IDLE_CLOSE_S,
        ge=1.0,
        le=86400.0,
        description="close the session after this long without any client connected (controller or "
        "watcher); an unwatched session renders no frames meanwhile",
    )
    max_steps: int = Field(
        default=DEFAULT_MAX_STEPS,
        ge=1,
        le=100_000,
        description="control steps each episode has to succeed in; past them without success its "
        "outcome is a failure, as an eval counts it (the robot is not stopped)",
    )


class RobotManager:
    def __init__(self, settings: Settings, policy_service: Any):
        self.settings = settings
        self.policy_service = policy_service
        self.sessions: dict[str, RobotSession] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.remote = RemoteHub()  # robots connected through pixelvla_robot (robots/remote.py)

    def create(self, body: RobotCreate) -> RobotSession:
        """A sim robot session, or one on a connected remote robot (body.robot = "remote:<name>")."""
        from .sim import SimTeleopRobot

        if body.robot is not None:
            remote = self.remote.claim(body.robot.removeprefix("remote:"))
            try:
                d = remote.describe()
                return self.create_session(
                    lambda: remote,
                    episode=Episode(task=body.task, seed=body.seed),
                    control_hz=d.control_hz,
                    cameras=d.cameras,
                    deadman_ms=body.deadman_ms,
                    idle_close_s=body.idle_close_s,
                    max_steps=body.max_steps,
                )
            except BaseException:
                remote.close()  # released for the next session (a started session closes it itself)
                raise

        cameras = tuple(body.cameras)
        return self.create_session(
            lambda: SimTeleopRobot(image_size=body.image_size, control_hz=body.control_hz, cameras=cameras),
            episode=Episode(task=body.task, seed=body.seed),
            control_hz=body.control_hz,
            cameras=cameras,
            deadman_ms=body.deadman_ms,
            idle_close_s=body.idle_close_s,
            max_steps=body.max_steps,
        )

    def create_session(
        self,
        make_robot: Callable[[], Robot],
        *,
        episode: Episode,
        control_hz: float,
        cameras: tuple[str, ...],
        deadman_ms: int | None = None,
        idle_close_s: float = DEFAULT_IDLE_CLOSE_S,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> RobotSession:
        """A session on any Robot; blocks until the robot is built and reset (run it off the event loop)."""
        with self._lock:
            if len(self.sessions) >= MAX_SESSIONS:
                raise Conflict(
                    f"at most {MAX_SESSIONS} robot sessions; delete one first", code="too_many_sessions"
                )
        session: RobotSession | None = None

        def policy(obs: dict[str, Any]) -> np.ndarray:
            assert session is not None
            return self.policy_service.predict_blocking(("robot", session.id), obs).actions  # type: ignore[no-any-return]

        session = RobotSession(
            make_robot,
            episode=episode,
            control_hz=control_hz,
            deadman_ms=deadman_ms if deadman_ms is not None else self.settings.deadman_ms,
            policy=policy,
            cameras=cameras,
            policy_ready=lambda: self.policy_service.current is not None,
            policy_action_dim=self._policy_action_dim,
            idle_close_s=idle_close_s,
            on_idle=self._close_idle,
            max_steps=max_steps,
        )
        try:
            session.start()
        except ValueError as exc:  # TaskError / SeedError: PixelVLAError-style ValueErrors with a code
            raise ApiError(str(exc), code=getattr(exc, "code", "invalid_task")) from exc
        with self._lock:
            self.sessions[session.id] = session
        return session

    def _policy_action_dim(self) -> int | None:
        current = self.policy_service.current
        dim = None if current is None else current.metadata.get("action_dim")
        return dim if isinstance(dim, int) else None

    def _close_idle(self, session: RobotSession) -> None:
        with contextlib.suppress(NotFound):
            self.delete(session.id)

    def save_episode(self, session: RobotSession, recording: Recording) -> int:
        """Append a recorded episode to <data-dir>/datasets/<id> (created on first use); returns its
        index. The episode's task is the operator's instruction; its provenance (the sidecar record's
        `source`) keeps the session, the episode (task, seed), the prompts it was driven with and the
        task's outcome at the end."""
        from pixelvla.data import EpisodeRecord, LeRobotWriter

        description = session.description
        assert description is not None  # a started session has described its robot
        steps = recording.steps
        frames = np.stack([s.image for s in steps])
        root = datasets_root(self.settings) / check_id(recording.dataset, "dataset")
        camera = session.cameras[0]
        with self._write_lock:  # one writer per dataset folder at a time
            writer = LeRobotWriter(
                root,
                cameras={camera: (int(frames.shape[1]), int(frames.shape[2]))},
                state_names=description.state_names,
                action_names=description.action_names,
                fps=round(session.control_hz),
            )
            staged = writer.staged_indices()
            index = max([writer.finalized_count(), *(i + 1 for i in staged)])
            writer.write_episode(
                index,
                EpisodeRecord(
                    frames={camera: frames},
                    actions=np.stack([s.action for s in steps]).astype(np.float32),
                    states=np.stack([s.state for s in steps]).astype(np.float32),
                    task=recording.instruction or recording.episode.task,
                    source={
                        "robot_session": session.id,
                        "robot": description.kind,
                        "task": recording.episode.task,
                        "seed": recording.episode.seed,
                        "instruction": recording.instruction,
                        "prompts": recording.prompts,
                        "pixel_masks": recording.pixel_masks,  # COCO RLE
                        "outcome": None if recording.outcome is None else recording.outcome.to_json(),
                    },
                ),
            )
            writer.finalize()
        return index

    def get(self, session_id: str) -> RobotSession:
        s = self.sessions.get(session_id)
        if s is None:
            raise NotFound(f"robot session {session_id!r} does not exist", code="unknown_session")
        return s

    def list(self) -> builtins.list[RobotSession]:
        with self._lock:
            return list(self.sessions.values())

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
