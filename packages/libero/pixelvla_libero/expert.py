"""A scripted pick-and-place expert from LIBERO's object poses (LIBERO's side only).

It reads the scene, not the pixels: the target (``targets.py``) and where it goes (the goal
predicate's second argument: an object such as ``plate_1`` or a region such as
``basket_1_contain_region`` / ``flat_stove_1_cook_region``), each object's world bounding box from
its meshes, and the end effector's position. Then six phases with a proportional controller on the
OSC_POSE position deltas (orientation held: zero rotation deltas, gripper pointing down):
above the grasp point -> down -> close -> lift -> above the place point -> open.

Grasp points: the Panda's fingers close along world y, so a bowl (wider than the gripper's 8 cm
opening) is taken by its rim at the -y side, everything else at its centre, a little below its top.
It handles every libero_spatial and libero_object task and the libero_goal tasks that are one
pick-and-place; drawers, stove knobs and pushing are not scripted (``supported`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import protocol
from .env import TaskEnv
from .errors import TaskError
from .targets import owner

MAX_OPENING = 0.075  # m, a little under the Panda's 8 cm
POS_GAIN = 12.0  # action units per metre of error (1 unit = 5 cm of OSC target motion)


@dataclass
class Trace:
    """What one expert episode did, frame by frame (frame t is seen before action t)."""

    actions: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    success: bool = False
    steps: int = 0
    phases: list[str] = field(default_factory=list)
    first_mask: np.ndarray | None = None  # the target's mask on the first recorded frame


def supported(env: TaskEnv) -> bool:
    goal = [list(p) for p in env.problem["goal_state"]]
    return len(goal) == 1 and goal[0][0].lower() in ("on", "in") and env.target.kind == "object"


def _object_geoms(env: TaskEnv, name: str) -> list[int]:
    raw = env.raw
    m = raw.sim.model._model
    root = env._body_root(name)
    out = []
    for g in range(m.ngeom):
        b = int(m.geom_bodyid[g])
        while b > 0 and b != root:
            b = int(m.body_parentid[b])
        if b == root:
            out.append(g)
    return out


def bounding_box(env: TaskEnv, name: str, *, collision: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """World-space AABB of an object's geoms: the collision geoms by default (what the fingers
    touch: LIBERO's bowls, for one, collide as a ring of small boxes inside their visual mesh)."""
    import mujoco

    m = env.raw.sim.model._model
    d = env.raw.sim.data._data
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for g in _object_geoms(env, name):
        if collision and not (m.geom_contype[g] or m.geom_conaffinity[g]):
            continue
        pos, mat = d.geom_xpos[g], d.geom_xmat[g].reshape(3, 3)
        kind = m.geom_type[g]
        if kind == mujoco.mjtGeom.mjGEOM_MESH:
            mid = m.geom_dataid[g]
            a, n = m.mesh_vertadr[mid], m.mesh_vertnum[mid]
            pts = m.mesh_vert[a : a + n] @ mat.T + pos
        elif kind == mujoco.mjtGeom.mjGEOM_BOX:
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
            pts = (corners * m.geom_size[g]) @ mat.T + pos
        else:
            r = float(m.geom_rbound[g])
            pts = np.stack([pos - r, pos + r])
        lo, hi = np.minimum(lo, pts.min(0)), np.maximum(hi, pts.max(0))
    if not np.isfinite(lo).all():
        if collision:
            return bounding_box(env, name, collision=False)
        raise TaskError(f"{name} has no geometry to grasp", "no_target")
    return lo, hi


def _site_pos(env: TaskEnv, name: str) -> np.ndarray | None:
    m = env.raw.sim.model
    try:
        return env.raw.sim.data.site_xpos[m.site_name2id(name)].copy()
    except (ValueError, KeyError):
        return None


def place_point(env: TaskEnv, carried_height: float) -> np.ndarray:
    """Where the carried object's gripper point should be when the gripper opens."""
    goal = list(env.problem["goal_state"][0])
    where = goal[2]
    raw = env.raw
    instances = list(raw.objects_dict) + list(raw.fixtures_dict)
    if where in instances:
        lo, hi = bounding_box(env, where)
        xy = (lo[:2] + hi[:2]) / 2
        top = hi[2]
    else:
        site = _site_pos(env, where)
        base = owner(where, instances)
        if site is None and base is None:
            raise TaskError(f"cannot locate the goal region {where!r}", "no_target")
        if base is not None and base in raw.objects_dict and where.endswith("contain_region"):
            lo, hi = bounding_box(env, base)  # a basket: over its middle, above its rim
            xy, top = (lo[:2] + hi[:2]) / 2, hi[2]
        else:
            p = site if site is not None else (lambda b: (b[0] + b[1]) / 2)(bounding_box(env, base))  # type: ignore[arg-type]
            xy, top = p[:2], p[2]
    return np.array([xy[0], xy[1], top + carried_height + 0.03])


def rollout(
    env: TaskEnv,
    init_index: int,
    *,
    max_steps: int | None = None,
    noise: float = 0.0,
    seed: int = 0,
    record: bool = True,
) -> Trace:
    """One expert episode from the official initial state ``init_index`` (after the settle steps)."""
    if not supported(env):
        raise TaskError(f"the scripted expert does not do {env.instruction!r}", "unsupported_task")
    rng = np.random.default_rng([seed, env.task_id, init_index])
    limit = max_steps or protocol.MAX_STEPS[env.suite_name]
    env.reset(init_index)
    obs = env.settle()
    trace = Trace()
    if record:
        trace.first_mask = env.mask()
    lo, hi = bounding_box(env, env.target.name)
    centre = (lo + hi) / 2
    size = hi - lo
    is_bowl = "bowl" in env.target.name
    if is_bowl or size[1] > MAX_OPENING:
        grasp = np.array([centre[0], lo[1] + 0.006, hi[2] - 0.028])  # on the rim wall (or the -y edge)
    else:
        grasp = np.array([centre[0], centre[1], max(hi[2] - 0.03, lo[2] + 0.4 * size[2])])
    carried = grasp[2] - lo[2]  # gripper point above the object's bottom
    place = place_point(env, carried)
    if is_bowl:
        place[1] += grasp[1] - centre[1]  # keep the bowl centred over the target
    above = 0.10
    plan = [
        ("approach", np.array([grasp[0], grasp[1], grasp[2] + above]), -1.0, 0.012),
        ("descend", grasp, -1.0, 0.006),
        ("close", grasp, 1.0, None),
        ("lift", np.array([grasp[0], grasp[1], place[2] + above]), 1.0, 0.02),
        ("carry", np.array([place[0], place[1], place[2] + 0.04]), 1.0, 0.012),
        ("lower", place, 1.0, 0.012),
        ("release", place, -1.0, None),
        ("retreat", place + np.array([0, 0, 0.08]), -1.0, 0.02),
    ]
    steps = 0
    for name, goal, grip, tol in plan:
        hold = 0
        for _ in range(60):
            if steps >= limit:
                return trace
            eef = np.asarray(obs["robot0_eef_pos"], np.float64)
            err = goal - eef
            if tol is None:
                hold += 1
                if hold > 8:
                    break
                move = np.clip(POS_GAIN * err, -0.3, 0.3)
            else:
                if np.linalg.norm(err) < tol:
                    break
                move = np.clip(POS_GAIN * err, -1.0, 1.0)
            move = move + rng.normal(0.0, noise, 3) if noise else move
            action = np.array([*move, 0.0, 0.0, 0.0, grip], np.float32)
            if record:
                trace.images.append(env.image())
                trace.states.append(protocol.state_vector(obs))
                trace.actions.append(action)
                trace.phases.append(name)
            obs, done = env.step(action.tolist())
            steps += 1
            trace.steps = steps
            if done:
                trace.success = True
                return trace
    # after the retreat: a few still steps for the objects to settle onto the goal
    for _ in range(10):
        if steps >= limit:
            break
        action = np.array([0, 0, 0, 0, 0, 0, -1.0], np.float32)
        if record:
            trace.images.append(env.image())
            trace.states.append(protocol.state_vector(obs))
            trace.actions.append(action)
            trace.phases.append("wait")
        obs, done = env.step(action.tolist())
        steps += 1
        trace.steps = steps
        if done:
            trace.success = True
            break
    return trace


def summary(trace: Trace) -> dict[str, Any]:
    return {"success": trace.success, "steps": trace.steps, "phases": sorted(set(trace.phases))}
