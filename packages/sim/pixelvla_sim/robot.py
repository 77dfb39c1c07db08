"""The simulated robot: one interface (reset / observe / act / stop) over a MuJoCo tabletop.

Action: float32 (7,) = [dx, dy, dz, droll, dpitch, dyaw, gripper].

- dx, dy, dz: hand translation for this control step, metres, in the world frame.
- droll, dpitch, dyaw: increments of the hand's world-frame Euler angles (R = Rz(yaw) Ry(pitch)
  Rx(roll)), radians. Roll and pitch are bounded to +-TILT_LIMIT, yaw wraps to (-pi, pi].
- gripper: 0 = fully open, 1 = fully closed (the finger position target is proportional in between).

The robot never trusts its caller: each component is clipped to the per-step speed limit
(MAX_LINEAR_SPEED / control_hz, MAX_ANGULAR_SPEED / control_hz), the resulting target to the
workspace box, the gripper to [0, 1]. A non-finite, mis-shaped or absurd action (beyond
ACTION_SANITY_BOUND: 1 m or pi rad in one step, |gripper| > 2) raises ActionError and leaves the
robot untouched.

State: float32 (8,) = [x, y, z, roll, pitch, yaw, gripper command, gripper width (m)].
"""

from __future__ import annotations

import atexit
import contextlib
import math
import weakref
from typing import NamedTuple, TypedDict

import mujoco
import numpy as np

from pixelvla_sim import scene as sc
from pixelvla_sim.cameras import CameraModel, camera_model
from pixelvla_sim.errors import ActionError, RobotStateError
from pixelvla_sim.render import OffscreenRenderer
from pixelvla_sim.tasks import SceneSpec, TaskSpec, check_camera_jitter, is_success, sample_episode

ACTION_DIM = 7
STATE_DIM = 8
CAMERAS: tuple[str, ...] = ("front", "wrist")
MOCAP_WAYPOINTS = 10
# Beyond these an action is not "too fast" but wrong (units, un-normalised model output): refuse it
# rather than clip it. Within them, the speed and workspace limits clip.
ACTION_SANITY_BOUND = np.array([1.0, 1.0, 1.0, math.pi, math.pi, math.pi, 2.0])
STATE_NAMES = ("x", "y", "z", "roll", "pitch", "yaw", "gripper", "gripper_width")
ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
_FOVY = {"front": sc.FRONT_FOVY, "wrist": sc.WRIST_FOVY}


# The protocol every robot the server drives satisfies (this one, LIBERO, remote robots) lives with
# the server: pixelvla_server.robots.protocol.Robot; pixelvla_server.robots.sim adapts SimRobot to it.


class Observation(TypedDict):
    images: dict[str, np.ndarray]  # camera name -> uint8 (H, W, 3)
    state: np.ndarray  # float32 (8,)
    t: float  # seconds since reset


class Snapshot(NamedTuple):
    qpos: np.ndarray
    mocap_pos: np.ndarray
    mocap_quat: np.ndarray


def euler_to_quat(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return np.array(
        [
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ]
    )


def euler_to_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


# The tool centre point (between the finger pads, where a grasped object sits) in the hand frame.
TCP_OFFSET = np.array([0.0, 0.0, -(sc.FINGER_REACH - 0.015)])


def tool_center(state: np.ndarray) -> np.ndarray:
    """World position of the tool centre point for an 8-D state (or (T, 8) states).

    This is the point to draw when projecting an end-effector path onto a camera frame.
    """
    st = np.asarray(state, dtype=np.float64)
    flat = st.reshape(-1, st.shape[-1])
    out = np.stack([row[:3] + euler_to_matrix(*row[3:6]) @ TCP_OFFSET for row in flat])
    return out.reshape(*st.shape[:-1], 3)


def wrap_angle(a: float) -> float:
    return float(math.atan2(math.sin(a), math.cos(a)))


def validate_action(action: object) -> np.ndarray:
    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"action must be a numeric 7-vector, got {type(action).__name__}") from exc
    if arr.shape != (ACTION_DIM,):
        raise ActionError(f"action must have shape (7,), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ActionError(f"action must be finite (no NaN/inf), got {arr.tolist()}")
    bad = np.abs(arr) > ACTION_SANITY_BOUND
    if bad.any():
        names = [ACTION_NAMES[i] for i in np.nonzero(bad)[0]]
        raise ActionError(
            f"action out of range: {', '.join(names)} beyond {ACTION_SANITY_BOUND[bad].tolist()} "
            f"(got {arr[bad].tolist()}); deltas are metres/radians per step, gripper is 0..1"
        )
    return arr


# GL contexts must be freed before the interpreter tears down PyOpenGL, or exit prints noise.
_LIVE: weakref.WeakSet[SimRobot] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for robot in list(_LIVE):
        with contextlib.suppress(Exception):
            robot.close()


class SimRobot:
    """The MuJoCo tabletop robot. Not thread-safe: one owner drives it."""

    def __init__(
        self,
        image_size: int = 224,
        control_hz: float = 10.0,
        cameras: tuple[str, ...] = CAMERAS,
        camera_jitter: float = 0.0,
    ) -> None:
        """``camera_jitter`` (metres, default 0: the fixed camera) moves the front camera per scene
        (pixelvla_sim.tasks.sample_front_camera); a seed gives the same camera every reset."""
        if not isinstance(image_size, int) or not 16 <= image_size <= 1024:
            raise ValueError(f"image_size must be an int in [16, 1024], got {image_size!r}")
        if not 1.0 <= float(control_hz) <= 100.0:
            raise ValueError(f"control_hz must be in [1, 100], got {control_hz!r}")
        unknown = set(cameras) - set(CAMERAS)
        if unknown:
            raise ValueError(f"unknown cameras {sorted(unknown)}; available: {CAMERAS}")
        self.camera_jitter = check_camera_jitter(camera_jitter)
        self.image_size = image_size
        self.control_hz = float(control_hz)
        self.cameras = tuple(cameras)
        self.substeps = max(1, round(1.0 / (self.control_hz * sc.TIMESTEP)))
        self.max_step_linear = sc.MAX_LINEAR_SPEED / self.control_hz
        self.max_step_angular = sc.MAX_ANGULAR_SPEED / self.control_hz
        self._model: mujoco.MjModel | None = None
        self._data: mujoco.MjData | None = None
        self._renderer = OffscreenRenderer(image_size, image_size)
        self._bound = False
        _LIVE.add(self)
        self._scene: SceneSpec | None = None
        self._task: TaskSpec | None = None
        self._target_pos = np.array(sc.HAND_HOME, dtype=np.float64)
        self._target_rpy = np.zeros(3, dtype=np.float64)
        self._gripper = 0.0
        self._steps = 0

    # ------------------------------------------------------------------ lifecycle

    def reset(self, seed: int, task: str) -> Observation:
        """Build the scene for ``(seed, task)`` and return the first observation."""
        # Validates both (SeedError / TaskError).
        scene, task_spec = sample_episode(seed, task, self.camera_jitter)
        self._bound = False
        model = mujoco.MjModel.from_xml_string(sc.build_mjcf(scene, self.image_size))
        data = mujoco.MjData(model)
        self._model, self._data, self._scene, self._task = model, data, scene, task_spec
        self._target_pos = np.array(sc.HAND_HOME, dtype=np.float64)
        self._target_rpy = np.zeros(3, dtype=np.float64)
        self._gripper = 0.0
        self._steps = 0
        self._hand_mocap = int(model.body("hand_target").mocapid[0])
        self._hand_qpos = int(model.jnt_qposadr[model.joint("hand_joint").id])
        self._finger_act = [model.actuator("finger_left").id, model.actuator("finger_right").id]
        self._finger_geoms = [model.geom("finger_left").id, model.geom("finger_right").id]
        self._obj_body = {o.name: model.body(o.name).id for o in scene.objects}
        self._obj_geom = {o.name: model.geom(o.name).id for o in scene.objects}
        self._obj_qpos = {
            o.name: int(model.jnt_qposadr[model.joint(f"{o.name}_joint").id]) for o in scene.objects
        }
        self._set_mocap(self._target_pos, self._target_rpy)
        mujoco.mj_forward(model, data)
        # Let objects settle onto the table before the episode starts.
        for _ in range(50):
            mujoco.mj_step(model, data)
        data.time = 0.0
        return self.observe()

    def close(self) -> None:
        """Free the GL resources; a later reset re-creates them."""
        self._renderer.close()
        self._bound = False

    def __enter__(self) -> SimRobot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Interpreter shutdown may already have torn down the GL bindings.
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------------ the robot interface

    def observe(self) -> Observation:
        _, data = self._ready()
        images = {name: self.render(name) for name in self.cameras}
        return {"images": images, "state": self.state(), "t": float(data.time)}

    def act(self, action: object) -> np.ndarray:
        """Apply one control step; returns the action actually applied (after clipping)."""
        model, data = self._ready()
        a = validate_action(action)
        applied = a.copy()
        applied[:3] = np.clip(a[:3], -self.max_step_linear, self.max_step_linear)
        applied[3:6] = np.clip(a[3:6], -self.max_step_angular, self.max_step_angular)
        applied[6] = np.clip(a[6], 0.0, 1.0)

        start_pos, start_rpy = self._target_pos.copy(), self._target_rpy.copy()
        new_pos = np.clip(start_pos + applied[:3], sc.WORKSPACE_LOW, sc.WORKSPACE_HIGH)
        new_rpy = start_rpy + applied[3:6]
        new_rpy[:2] = np.clip(new_rpy[:2], -sc.TILT_LIMIT, sc.TILT_LIMIT)
        # Report what really moved after the workspace clip.
        applied[:3] = new_pos - start_pos
        applied[3:5] = new_rpy[:2] - start_rpy[:2]
        new_rpy[2] = wrap_angle(new_rpy[2])

        self._gripper = float(applied[6])
        data.ctrl[self._finger_act] = self._gripper * sc.FINGER_TRAVEL
        # The mocap target moves smoothly across the substeps: a teleport would inject contact
        # impulses into whatever the fingers touch.
        # Ten waypoints per control step (<= 4 mm apart at the speed limit) track as well as one per
        # physics step and keep the Python loop short.
        chunks = min(MOCAP_WAYPOINTS, self.substeps)
        done = 0
        for k in range(1, chunks + 1):
            s = k / chunks
            self._set_mocap(start_pos + s * (new_pos - start_pos), start_rpy + s * (applied[3:6]))
            n = round(k * self.substeps / chunks) - done
            mujoco.mj_step(model, data, nstep=n)
            done += n
        self._target_pos, self._target_rpy = new_pos, new_rpy
        self._set_mocap(new_pos, new_rpy)
        self._steps += 1
        return applied.astype(np.float32)

    def stop(self) -> None:
        """Hold the current pose (zero motion) and keep the gripper as it is."""
        if self._data is None:
            return
        self.act(np.array([0, 0, 0, 0, 0, 0, self._gripper]))

    # ------------------------------------------------------------------ task

    @property
    def instruction(self) -> str:
        return self.task.instruction

    @property
    def task(self) -> TaskSpec:
        if self._task is None:
            raise RobotStateError("call reset(seed, task) before using the robot")
        return self._task

    @property
    def scene(self) -> SceneSpec:
        if self._scene is None:
            raise RobotStateError("call reset(seed, task) before using the robot")
        return self._scene

    @property
    def steps(self) -> int:
        return self._steps

    def success(self) -> bool:
        return is_success(self.task, self.scene, self.object_positions(), self._gripper >= 0.5)

    # ------------------------------------------------------------------ privileged state

    def state(self) -> np.ndarray:
        return np.array(
            [*self._target_pos, *self._target_rpy, self._gripper, self.gripper_width()], dtype=np.float32
        )

    def ee_position(self) -> np.ndarray:
        """Hand origin (top of the fingers), world frame."""
        return self._target_pos.copy()

    def grasp_point(self) -> np.ndarray:
        """The measured tool centre point: between the finger pads, where a grasped object sits."""
        model, data = self._ready()
        mid = 0.5 * (data.geom_xpos[self._finger_geoms[0]] + data.geom_xpos[self._finger_geoms[1]])
        # Finger geom centres are FINGER_HALF[2] above the tips; the TCP is 1.5 cm above the tips.
        lift = sc.FINGER_HALF[2] - 0.015
        return mid - data.xmat[model.body("hand").id].reshape(3, 3) @ np.array([0.0, 0.0, lift])

    def gripper_width(self) -> float:
        """Gap between the inner finger faces, metres."""
        _, data = self._ready()
        left, right = data.geom_xpos[self._finger_geoms[0]], data.geom_xpos[self._finger_geoms[1]]
        return max(0.0, float(np.linalg.norm(right - left)) - 2 * sc.FINGER_HALF[0])

    def object_positions(self) -> dict[str, np.ndarray]:
        _, data = self._ready()
        return {name: data.xpos[b].copy() for name, b in self._obj_body.items()}

    def object_yaw(self, name: str) -> float:
        """Heading of object ``name`` about world z (radians)."""
        _, data = self._ready()
        w, x, y, z = data.xquat[self._obj_body[name]]
        return float(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))

    def object_geom_id(self, name: str) -> int:
        self._ready()
        return self._obj_geom[name]

    def sim_state(self) -> np.ndarray:
        """Full physics state (for determinism checks and replays)."""
        model, data = self._ready()
        size = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_PHYSICS)
        out = np.empty(size, dtype=np.float64)
        mujoco.mj_getState(model, data, out, mujoco.mjtState.mjSTATE_PHYSICS)
        return out

    # ------------------------------------------------------------------ cameras

    def camera(self, name: str) -> CameraModel:
        model, data = self._ready()
        if name not in CAMERAS:
            raise RobotStateError(f"unknown camera {name!r}; available: {CAMERAS}")
        cid = model.camera(name).id
        return camera_model(
            data.cam_xpos[cid], data.cam_xmat[cid], _FOVY[name], self.image_size, self.image_size
        )

    def render(self, camera: str = "front") -> np.ndarray:
        """RGB uint8 (H, W, 3) of the current state."""
        _, data = self._ready()
        return self._get_renderer().rgb(data, self._camera_id(camera))

    def segmentation(self, camera: str = "front", data: mujoco.MjData | None = None) -> np.ndarray:
        """int32 (H, W) geom id per pixel, -1 for background."""
        _, own = self._ready()
        return self._get_renderer().geom_ids(own if data is None else data, self._camera_id(camera))

    def snapshot(self) -> Snapshot:
        """The configuration needed to re-render this instant later (same scene only)."""
        _, data = self._ready()
        return Snapshot(data.qpos.copy(), data.mocap_pos.copy(), data.mocap_quat.copy())

    def _scratch(self, snap: Snapshot | None) -> mujoco.MjData:
        model, _ = self._ready()
        snap = snap or self.snapshot()
        scratch = mujoco.MjData(model)
        scratch.qpos[:] = snap.qpos
        scratch.mocap_pos[:] = snap.mocap_pos
        scratch.mocap_quat[:] = snap.mocap_quat
        return scratch

    def segmentation_at(self, snap: Snapshot, camera: str = "front") -> np.ndarray:
        """Like :meth:`segmentation`, for an earlier instant of this episode (see :meth:`snapshot`)."""
        scratch = self._scratch(snap)
        mujoco.mj_forward(self._ready()[0], scratch)
        return self.segmentation(camera, scratch)

    def object_mask(self, name: str, camera: str = "front", snap: Snapshot | None = None) -> np.ndarray:
        """Visible pixels of object ``name`` (bool (H, W)), occlusion included."""
        seg = self.segmentation(camera) if snap is None else self.segmentation_at(snap, camera)
        return seg == self.object_geom_id(name)

    def object_mask_alone(self, name: str, camera: str = "front", snap: Snapshot | None = None) -> np.ndarray:
        """The object's silhouette with every other object and the hand moved out of view.

        Comparing it with :meth:`object_mask` measures how much of the object is hidden.
        """
        scratch = self._scratch(snap)
        for i, (other, adr) in enumerate(self._obj_qpos.items()):
            if other != name:
                scratch.qpos[adr : adr + 3] = (10.0 + i, 10.0, -5.0)
        scratch.mocap_pos[self._hand_mocap] = (-10.0, -10.0, -5.0)
        scratch.qpos[self._hand_qpos : self._hand_qpos + 3] = (-10.0, -10.0, -5.0)
        mujoco.mj_forward(self._ready()[0], scratch)
        return self.segmentation(camera, scratch) == self.object_geom_id(name)

    # ------------------------------------------------------------------ internals

    def _ready(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        if self._model is None or self._data is None:
            raise RobotStateError("call reset(seed, task) before using the robot")
        return self._model, self._data

    def _get_renderer(self) -> OffscreenRenderer:
        model, _ = self._ready()
        if not self._bound:
            self._renderer.bind(model)
            self._bound = True
        return self._renderer

    def _camera_id(self, name: str) -> int:
        model, _ = self._ready()
        if name not in CAMERAS:
            raise RobotStateError(f"unknown camera {name!r}; available: {CAMERAS}")
        return int(model.camera(name).id)

    def _set_mocap(self, pos: np.ndarray, rpy: np.ndarray) -> None:
        _, data = self._ready()
        data.mocap_pos[self._hand_mocap] = pos
        data.mocap_quat[self._hand_mocap] = euler_to_quat(*(float(v) for v in rpy))
