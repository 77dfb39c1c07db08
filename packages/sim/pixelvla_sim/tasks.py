"""Task names, seeded scene sampling, instructions and success checks.

Four tasks:

- ``pick``: "pick up the red cube" — the colour and kind identify exactly one object.
- ``place``: "put the red cube in the box" / "... on the plate".
- ``pick_ambiguous``: "pick up the cube" while two or more cubes are on the table; only a visual
  prompt (point, box, mask...) says which one. The target is still one definite object.
- ``place_ambiguous``: "put the cube in the box" with the same ambiguity.

Every scene holds 3-6 objects drawn from cubes, cylinders and spheres in six colours, with
duplicates of one kind, and one or two containers (a walled box, a flat plate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pixelvla_sim.errors import SeedError, TaskError
from pixelvla_sim.scene import (
    COLOURS,
    FRONT_CAMERA_POS,
    FRONT_CAMERA_TARGET,
    KINDS,
    MAX_CAMERA_JITTER,
    SPAWN_X,
    SPAWN_Y,
    ContainerSpec,
    ObjectSpec,
    SceneSpec,
)

PICK = "pick"
PLACE = "place"
PICK_AMBIGUOUS = "pick_ambiguous"
PLACE_AMBIGUOUS = "place_ambiguous"
TASKS: tuple[str, ...] = (PICK, PLACE, PICK_AMBIGUOUS, PLACE_AMBIGUOUS)

LIFT_HEIGHT = 0.06  # a picked object's bottom must be this far above the table
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class TaskSpec:
    name: str  # one of TASKS
    instruction: str
    target: str  # object name (MJCF body), e.g. "obj3"
    container: str | None  # container name for place tasks
    ambiguous: bool


def check_task(task: object) -> str:
    if not isinstance(task, str) or task not in TASKS:
        raise TaskError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return task


def check_seed(seed: object) -> int:
    # bool is an int subclass, and numpy integers are fine; floats/strings are a caller bug.
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise SeedError(f"seed must be a non-negative integer, got {type(seed).__name__} {seed!r}")
    s = int(seed)
    if not 0 <= s <= MAX_SEED:
        raise SeedError(f"seed must be in [0, 2**63 - 1], got {s}")
    return s


def _sample_positions(
    rng: np.random.Generator, radii: list[float], keep_out: list[tuple[float, float, float]]
) -> list[tuple[float, float]] | None:
    """Rejection-sample non-overlapping discs; ``keep_out`` holds (x, y, radius) already placed."""
    placed = list(keep_out)
    out: list[tuple[float, float]] = []
    for r in radii:
        for _ in range(200):
            x = float(rng.uniform(SPAWN_X[0] + r, SPAWN_X[1] - r))
            y = float(rng.uniform(SPAWN_Y[0] + r, SPAWN_Y[1] - r))
            # 3.5 cm of clearance leaves room for an open finger beside every object.
            if all(math.hypot(x - px, y - py) > r + pr + 0.035 for px, py, pr in placed):
                placed.append((x, y, r))
                out.append((x, y))
                break
        else:
            return None
    return out


def check_camera_jitter(jitter: object) -> float:
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not math.isfinite(jitter):
        raise ValueError(f"camera_jitter must be a number of metres, got {jitter!r}")
    if not 0.0 <= float(jitter) <= MAX_CAMERA_JITTER:
        raise ValueError(f"camera_jitter must be in [0, {MAX_CAMERA_JITTER}] m, got {jitter}")
    return float(jitter)


def sample_episode(seed: int, task: str, camera_jitter: float = 0.0) -> tuple[SceneSpec, TaskSpec]:
    """The scene and task for ``(seed, task)``; pure and deterministic. With ``camera_jitter`` > 0
    the front camera moves too (sample_front_camera); the objects and the task stay those of the
    fixed camera's scene for that seed."""
    task = check_task(task)
    seed = check_seed(seed)
    jitter = check_camera_jitter(camera_jitter)
    # Mix the task into the stream so that "pick" and "place" with one seed differ.
    rng = np.random.default_rng([seed, TASKS.index(task)])
    for _ in range(100):
        sampled = _try_sample(rng, task)
        if sampled is not None:
            scene, spec = sampled
            if jitter > 0:
                scene = replace(scene, front_camera=sample_front_camera(seed, task, jitter))
            return scene, spec
    raise RuntimeError(f"could not lay out a scene for seed {seed}, task {task}")  # pragma: no cover


def sample_front_camera(
    seed: int, task: str, jitter: float
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The front camera of a jittered scene: its position and the point it looks at, each moved by
    up to ``jitter`` metres per axis (the look-at point stays on the table), from a stream of its
    own, so the scene's layout does not depend on the jitter. With the camera no longer fixed, a
    prompt's pixel coordinates alone do not say where on the table the object is: the frame does."""
    rng = np.random.default_rng([check_seed(seed), TASKS.index(check_task(task)), 1])
    j = check_camera_jitter(jitter)
    dp = rng.uniform(-j, j, 3)
    dt = rng.uniform(-j, j, 2)
    pos = tuple(float(a + d) for a, d in zip(FRONT_CAMERA_POS, dp, strict=True))
    target = (FRONT_CAMERA_TARGET[0] + float(dt[0]), FRONT_CAMERA_TARGET[1] + float(dt[1]), 0.0)
    return (pos[0], pos[1], pos[2]), target


def _try_sample(rng: np.random.Generator, task: str) -> tuple[SceneSpec, TaskSpec] | None:
    placing = task in (PLACE, PLACE_AMBIGUOUS)
    ambiguous = task in (PICK_AMBIGUOUS, PLACE_AMBIGUOUS)

    n_containers = 2 if placing or rng.random() < 0.5 else 1
    kinds = ["box", "plate"] if n_containers == 2 else [str(rng.choice(["box", "plate"]))]
    container_radius = 0.075
    c_xy = _sample_positions(rng, [container_radius] * len(kinds), [])
    if c_xy is None:
        return None
    containers = tuple(ContainerSpec(name=k, kind=k, xy=xy) for k, xy in zip(kinds, c_xy, strict=True))

    n_objects = int(rng.integers(3, 7))
    # A duplicated kind in every scene: the target's kind repeats when ambiguous, another otherwise.
    dup_kind = str(rng.choice(KINDS))
    n_dup = int(rng.integers(2, min(4, n_objects) + 1))
    kinds_list = [dup_kind] * n_dup + [str(rng.choice(KINDS)) for _ in range(n_objects - n_dup)]
    colours = list(COLOURS)
    # Colours: distinct within a kind so that "the red cube" is never itself ambiguous.
    specs: list[tuple[str, str]] = []
    for kind in kinds_list:
        used = {c for k, c in specs if k == kind}
        free = [c for c in colours if c not in used]
        specs.append((kind, str(rng.choice(free))))

    # Ambiguous: the target is one of the duplicated kind. Otherwise any object; when it is one of the
    # duplicates, its colour word is what singles it out.
    target_idx = int(rng.integers(0, n_dup if ambiguous else n_objects))

    keep_out = [(x, y, container_radius) for x, y in c_xy]
    o_xy = _sample_positions(rng, [0.03] * n_objects, keep_out)
    if o_xy is None:
        return None
    order = rng.permutation(n_objects)  # object names carry no information about the target
    objects = []
    target_name = ""
    for name_i, src in enumerate(order):
        kind, colour = specs[int(src)]
        name = f"obj{name_i}"
        if int(src) == target_idx:
            target_name = name
        objects.append(
            ObjectSpec(
                name=name,
                kind=kind,
                colour=colour,
                xy=o_xy[name_i],
                yaw=float(rng.uniform(-math.pi, math.pi)),
            )
        )
    scene = SceneSpec(objects=tuple(objects), containers=containers)
    target = scene.object(target_name)

    what = target.kind if ambiguous else target.description
    if placing:
        container = containers[int(rng.integers(0, len(containers)))]
        return scene, TaskSpec(task, instruction_for(what, container), target_name, container.name, ambiguous)
    return scene, TaskSpec(task, instruction_for(what, None), target_name, None, ambiguous)


def instruction_for(what: str, container: ContainerSpec | None) -> str:
    """The tasks' grammar, in one place (episodes, and pixelvla_sim.vision_data's grounding queries):
    `what` is an object's description ("red cube") or kind ("cube"); a container makes it a place."""
    if container is None:
        return f"pick up the {what}"
    return f"put the {what} {container.preposition} the {container.kind}"


# --------------------------------------------------------------------------- success


def object_in_container(obj_pos: np.ndarray, obj: ObjectSpec, container: ContainerSpec) -> bool:
    """The object's centre is over the container and it rests low (not held above it)."""
    dx, dy = float(obj_pos[0]) - container.xy[0], float(obj_pos[1]) - container.xy[1]
    if container.kind == "box":
        inside = max(abs(dx), abs(dy)) < container.half_extent - 0.01
    else:
        inside = math.hypot(dx, dy) < container.half_extent - 0.005
    resting = float(obj_pos[2]) < obj.half_height + 0.03
    return inside and resting


def is_success(
    task: TaskSpec,
    scene: SceneSpec,
    object_positions: dict[str, np.ndarray],
    gripper_closed: bool,
) -> bool:
    target = scene.object(task.target)
    pos = object_positions[task.target]
    if task.container is None:
        return float(pos[2]) - target.half_height > LIFT_HEIGHT
    # A place counts once the object is released into the container.
    return (not gripper_closed) and object_in_container(pos, target, scene.container(task.container))
