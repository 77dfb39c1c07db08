"""The tabletop scene: geometry constants, scene specs, and the MJCF the robot compiles.

World frame: the table top is the plane z = 0, x points right and y away from the front camera,
z up; units are metres and radians. The gripper is a floating "hand" body moved kinematically by
a mocap target; its two fingers are real slide joints driven by position actuators, so grasps are
made by contact and friction, not by welding objects to the hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# --------------------------------------------------------------------------- objects and containers

KINDS: tuple[str, ...] = ("cube", "cylinder", "sphere")

# Named colours: (instruction word, RGBA). Distinct hues so a colour word identifies an object.
COLOURS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.10, 1.0),
    "green": (0.15, 0.65, 0.20, 1.0),
    "blue": (0.12, 0.30, 0.85, 1.0),
    "yellow": (0.95, 0.82, 0.10, 1.0),
    "purple": (0.55, 0.20, 0.70, 1.0),
    "orange": (0.95, 0.50, 0.08, 1.0),
}

CUBE_HALF = 0.02  # half edge
CYLINDER_RADIUS = 0.02
CYLINDER_HALF_HEIGHT = 0.025
SPHERE_RADIUS = 0.022
OBJECT_MASS = 0.05

CONTAINER_KINDS: tuple[str, ...] = ("box", "plate")
BOX_INNER_HALF = 0.06  # inner half width of the walled box
BOX_WALL_HEIGHT = 0.03
BOX_WALL_THICK = 0.006
PLATE_RADIUS = 0.07
PLATE_HALF_HEIGHT = 0.004
CONTAINER_RGBA: dict[str, tuple[float, float, float, float]] = {
    "box": (0.55, 0.38, 0.22, 1.0),
    "plate": (0.92, 0.92, 0.90, 1.0),
}

# Where objects and containers may be spawned (a sub-rectangle of the workspace).
SPAWN_X = (-0.20, 0.20)
SPAWN_Y = (-0.14, 0.16)

# --------------------------------------------------------------------------- the hand

# The hand origin sits at the top of the fingers; fingertips are FINGER_REACH below it.
FINGER_REACH = 0.08
FINGER_HALF = (0.006, 0.012, 0.035)  # finger box half sizes (x = closing axis)
FINGER_OPEN_X = 0.045  # finger centre |x| when fully open
FINGER_TRAVEL = 0.035  # slide range inwards; closed fingers leave a 8 mm gap
HAND_HOME = (0.0, -0.05, 0.25)

# Workspace of the hand origin (enforced by the robot) and per-step speed limits at any rate.
WORKSPACE_LOW = np.array([-0.28, -0.24, FINGER_REACH + 0.004], dtype=np.float64)
WORKSPACE_HIGH = np.array([0.28, 0.24, 0.40], dtype=np.float64)
TILT_LIMIT = 0.5  # |roll|, |pitch| bound (rad); yaw is free but wrapped to (-pi, pi]
MAX_LINEAR_SPEED = 0.4  # m/s
MAX_ANGULAR_SPEED = 2.5  # rad/s

TIMESTEP = 0.002


# The front camera's fixed pose: where it is and the point it looks at.
FRONT_CAMERA_POS = (0.0, -0.40, 0.50)
FRONT_CAMERA_TARGET = (0.0, 0.03, 0.0)
# The most camera jitter a scene may be sampled with (metres, per axis; see tasks.sample_front_camera).
MAX_CAMERA_JITTER = 0.1


@dataclass(frozen=True)
class ObjectSpec:
    name: str  # MJCF body/geom name, e.g. "obj2"
    kind: str  # one of KINDS
    colour: str  # one of COLOURS
    xy: tuple[float, float]
    yaw: float

    @property
    def description(self) -> str:
        return f"{self.colour} {self.kind}"

    @property
    def half_height(self) -> float:
        return {"cube": CUBE_HALF, "cylinder": CYLINDER_HALF_HEIGHT, "sphere": SPHERE_RADIUS}[self.kind]

    @property
    def footprint_radius(self) -> float:
        return {"cube": CUBE_HALF * 1.42, "cylinder": CYLINDER_RADIUS, "sphere": SPHERE_RADIUS}[self.kind]


@dataclass(frozen=True)
class ContainerSpec:
    name: str  # "box" or "plate" (at most one of each per scene)
    kind: str
    xy: tuple[float, float]

    @property
    def half_extent(self) -> float:
        return BOX_INNER_HALF + BOX_WALL_THICK if self.kind == "box" else PLATE_RADIUS

    @property
    def preposition(self) -> str:
        return "in" if self.kind == "box" else "on"


@dataclass(frozen=True)
class SceneSpec:
    objects: tuple[ObjectSpec, ...]
    containers: tuple[ContainerSpec, ...] = field(default_factory=tuple)
    # The front camera: where it is and the point it looks at (the fixed pose unless the scene was
    # sampled with camera jitter, pixelvla_sim.tasks.sample_front_camera).
    front_camera: tuple[tuple[float, float, float], tuple[float, float, float]] = (
        FRONT_CAMERA_POS,
        FRONT_CAMERA_TARGET,
    )

    def object(self, name: str) -> ObjectSpec:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(name)

    def container(self, name: str) -> ContainerSpec:
        for c in self.containers:
            if c.name == name:
                return c
        raise KeyError(name)


# --------------------------------------------------------------------------- MJCF


def _f(values: tuple[float, ...] | list[float] | np.ndarray) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def look_at_xyaxes(pos: tuple[float, float, float], target: tuple[float, float, float]) -> str:
    """MJCF ``xyaxes`` for a camera at ``pos`` looking at ``target`` with world z up."""
    p, t = np.asarray(pos, dtype=np.float64), np.asarray(target, dtype=np.float64)
    forward = t - p
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return _f(np.concatenate([right, up]))


FRONT_FOVY = 50.0
WRIST_FOVY = 75.0


def _object_xml(o: ObjectSpec) -> str:
    rgba = _f(COLOURS[o.colour])
    z = o.half_height + 0.0005
    if o.kind == "cube":
        geom = f'type="box" size="{_f((CUBE_HALF,) * 3)}"'
    elif o.kind == "cylinder":
        geom = f'type="cylinder" size="{_f((CYLINDER_RADIUS, CYLINDER_HALF_HEIGHT))}"'
    else:
        geom = f'type="sphere" size="{SPHERE_RADIUS:.6g}"'
    quat = _f((np.cos(o.yaw / 2), 0.0, 0.0, np.sin(o.yaw / 2)))
    return (
        f'<body name="{o.name}" pos="{_f((o.xy[0], o.xy[1], z))}" quat="{quat}">'
        f'<freejoint name="{o.name}_joint"/>'
        f'<geom name="{o.name}" {geom} rgba="{rgba}" mass="{OBJECT_MASS}" class="object"/>'
        "</body>"
    )


def _container_xml(c: ContainerSpec) -> str:
    x, y = c.xy
    rgba = _f(CONTAINER_RGBA[c.kind])
    if c.kind == "plate":
        return (
            f'<body name="{c.name}" pos="{_f((x, y, PLATE_HALF_HEIGHT))}">'
            f'<geom name="{c.name}" type="cylinder" size="{_f((PLATE_RADIUS, PLATE_HALF_HEIGHT))}" '
            f'rgba="{rgba}" class="fixture"/></body>'
        )
    a, t, h = BOX_INNER_HALF, BOX_WALL_THICK / 2, BOX_WALL_HEIGHT / 2
    walls = [
        ((a + t, 0.0, h), (t, a + 2 * t, h)),
        ((-a - t, 0.0, h), (t, a + 2 * t, h)),
        ((0.0, a + t, h), (a, t, h)),
        ((0.0, -a - t, h), (a, t, h)),
    ]
    parts = [
        f'<geom name="{c.name}" type="box" pos="0 0 0.002" size="{_f((a, a, 0.002))}" rgba="{rgba}" class="fixture"/>'
    ]
    for i, (pos, size) in enumerate(walls):
        parts.append(
            f'<geom name="{c.name}_wall{i}" type="box" pos="{_f(pos)}" size="{_f(size)}" rgba="{rgba}" class="fixture"/>'
        )
    return f'<body name="{c.name}" pos="{_f((x, y, 0.0))}">{"".join(parts)}</body>'


def build_mjcf(spec: SceneSpec, image_size: int = 224) -> str:
    """The complete MJCF document for ``spec``. Pure: the same spec always gives the same text."""
    fx, fy, fz = FINGER_HALF
    finger_z = -FINGER_REACH + fz
    objects = "".join(_object_xml(o) for o in spec.objects)
    containers = "".join(_container_xml(c) for c in spec.containers)
    cam_pos, cam_target = spec.front_camera
    return f"""<mujoco model="pixelvla_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" cone="elliptic" impratio="10" integrator="implicitfast"/>
  <visual>
    <global offwidth="{image_size}" offheight="{image_size}"/>
    <!-- No shadow map: on a software rasteriser it costs ~20x per frame. -->
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0.1 0.1 0.1"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.75 0.80 0.86" rgb2="0.35 0.38 0.42" width="32" height="32"/>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.62 0.58 0.52" rgb2="0.58 0.54 0.48" width="64" height="64"/>
    <material name="table" texture="grid" texrepeat="8 8" reflectance="0"/>
  </asset>
  <default>
    <default class="object"><geom friction="1.0 0.01 0.001" condim="4" solref="0.01 1"/></default>
    <default class="fixture"><geom friction="0.8 0.01 0.001" condim="3"/></default>
    <default class="finger"><geom friction="1.5 0.02 0.002" condim="4" solref="0.01 1" rgba="0.25 0.25 0.28 1"/></default>
  </default>
  <worldbody>
    <light name="sun" pos="0.3 -0.4 1.2" dir="-0.25 0.35 -1" castshadow="false" diffuse="0.5 0.5 0.5"/>
    <geom name="table" type="box" pos="0 0 -0.02" size="0.6 0.5 0.02" material="table" class="fixture"/>
    <camera name="front" pos="{_f(cam_pos)}" xyaxes="{look_at_xyaxes(cam_pos, cam_target)}" fovy="{FRONT_FOVY}"/>
    <!-- The mocap target is kinematic; the hand is a free body welded to it, so it has real
         velocities and friction at the fingers can lift what they hold. -->
    <body name="hand_target" mocap="true" pos="{_f(HAND_HOME)}"/>
    <body name="hand" pos="{_f(HAND_HOME)}" gravcomp="1">
      <freejoint name="hand_joint"/>
      <geom name="palm" type="box" size="0.058 0.016 0.012" pos="0 0 0.012" mass="0.4" rgba="0.2 0.2 0.22 1" contype="0" conaffinity="0"/>
      <camera name="wrist" pos="0 -0.035 0.0" xyaxes="1 0 0 0 0.94 0.34" fovy="{WRIST_FOVY}"/>
      <body name="finger_left" pos="{_f((-FINGER_OPEN_X, 0, finger_z))}" gravcomp="1">
        <joint name="finger_left" type="slide" axis="1 0 0" range="0 {FINGER_TRAVEL}" damping="2" armature="0.01"/>
        <geom name="finger_left" type="box" size="{_f((fx, fy, fz))}" mass="0.02" class="finger"/>
      </body>
      <body name="finger_right" pos="{_f((FINGER_OPEN_X, 0, finger_z))}" gravcomp="1">
        <joint name="finger_right" type="slide" axis="-1 0 0" range="0 {FINGER_TRAVEL}" damping="2" armature="0.01"/>
        <geom name="finger_right" type="box" size="{_f((fx, fy, fz))}" mass="0.02" class="finger"/>
      </body>
    </body>
    {containers}
    {objects}
  </worldbody>
  <equality>
    <weld name="hand_weld" body1="hand" body2="hand_target" solref="0.01 1"/>
  </equality>
  <actuator>
    <position name="finger_left" joint="finger_left" kp="300" forcerange="-12 12" ctrlrange="0 {FINGER_TRAVEL}"/>
    <position name="finger_right" joint="finger_right" kp="300" forcerange="-12 12" ctrlrange="0 {FINGER_TRAVEL}"/>
  </actuator>
</mujoco>
"""
