"""One LIBERO task as the harness drives it: official initial states, settle steps, on-demand
rendering with CPU-friendly settings, the target's segmentation, BDDL success. LIBERO's side only.

Rendering is what makes LIBERO slow on a CPU: the scenes have ~307k mesh faces and llvmpipe
rasterises every one per frame. What we do about it (``RenderSettings``; measured numbers in the
package README):

- only the camera the policy looks at (agentview), at the size it needs (``size``);
- MSAA off (MuJoCo's ``vis.quality.offsamples`` 4 -> 0: the 4x multisampled buffer costs ~1.8x);
- reflections off (``mjRND_REFLECTION``: the reflective floor/table is drawn twice otherwise);
- frames rendered only when the policy is asked for actions, not on every ``env.step`` (robosuite
  renders every camera observable each step; with 8-action chunks that is 7 frames in 8 unused).

``RenderSettings.official()`` keeps LIBERO's defaults (256 px, MSAA, reflections) for a GPU box.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import protocol
from .errors import TaskError
from .targets import Target, target_from_problem

CAMERA = "agentview"


@dataclass(frozen=True)
class RenderSettings:
    size: int = 128
    msaa: bool = False
    reflections: bool = False

    @staticmethod
    def official() -> RenderSettings:
        return RenderSettings(size=256, msaa=True, reflections=True)

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "msaa": self.msaa, "reflections": self.reflections}


def _quiet_imports() -> None:
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


def suite_tasks(suite: str) -> Any:
    """LIBERO's task suite object (it prints its task order on stdout: sent to stderr, so the
    harness's stdout carries only its result)."""
    _quiet_imports()
    from libero.libero import benchmark

    protocol.check_suite(suite)
    with contextlib.redirect_stdout(sys.stderr):
        return benchmark.get_benchmark_dict()[suite]()


class TaskEnv:
    """LIBERO task ``task_id`` of ``suite`` in an OffScreenRenderEnv (agentview only)."""

    def __init__(self, suite: str, task_id: int, render: RenderSettings | None = None) -> None:
        _quiet_imports()
        from libero.libero import get_libero_path
        from libero.libero.envs import OffScreenRenderEnv
        from libero.libero.envs.bddl_utils import robosuite_parse_problem

        self.suite_name = suite
        self.suite = suite_tasks(suite)
        if not 0 <= task_id < self.suite.n_tasks:
            raise TaskError(f"{suite} has tasks 0..{self.suite.n_tasks - 1}, not {task_id}", "unknown_task")
        self.task_id = task_id
        self.task = self.suite.get_task(task_id)
        self.instruction: str = self.task.language
        self.render = render or RenderSettings()
        self.init_states = np.asarray(self.suite.get_task_init_states(task_id))
        bddl = os.path.join(get_libero_path("bddl_files"), self.task.problem_folder, self.task.bddl_file)
        self.problem = robosuite_parse_problem(bddl)
        self.target: Target = target_from_problem(self.problem)
        self.env = OffScreenRenderEnv(
            bddl_file_name=bddl,
            camera_names=[CAMERA],
            camera_heights=self.render.size,
            camera_widths=self.render.size,
        )
        self.env.seed(protocol.ENV_SEED)
        # A weak reference: a strong one kept the old render context alive past the next hard reset,
        # and its late __del__ freed GL objects in the new context (frames came out as noise and the
        # segmentation empty from a task's second episode on).
        self._context: weakref.ref[Any] | None = None
        # robosuite renders every camera observable on every step; we render on demand instead.
        image_obs = self.env.env._observables[f"{CAMERA}_image"]
        image_obs.set_enabled(False)
        image_obs.set_active(False)

    @property
    def raw(self) -> Any:
        return self.env.env

    def _apply_render_settings(self) -> None:
        """MSAA and reflections per ``self.render``, on the render context the (hard) reset made."""
        import mujoco

        sim = self.raw.sim
        ctx = sim._render_context_offscreen
        if self._context is not None and self._context() is ctx:
            return
        want = 4 if self.render.msaa else 0
        if int(sim.model.vis.quality.offsamples) != want:
            sim.model.vis.quality.offsamples = want
            ctx.con.free()
            ctx._set_mujoco_context_and_buffers()
        ctx.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = int(self.render.reflections)
        self._context = weakref.ref(ctx)

    def reset(self, init_index: int) -> dict[str, np.ndarray]:
        """``env.reset()`` then the suite's fixed initial state ``init_index`` (official order)."""
        if not 0 <= init_index < len(self.init_states):
            raise TaskError(
                f"task {self.task_id} has initial states 0..{len(self.init_states) - 1}, not {init_index}",
                "unknown_init_state",
            )
        self.env.reset()
        self._apply_render_settings()
        obs: dict[str, np.ndarray] = self.env.set_init_state(self.init_states[init_index])
        return obs

    def step(self, action: list[float] | tuple[float, ...]) -> tuple[dict[str, np.ndarray], bool]:
        obs, _reward, done, _info = self.env.step(list(action))
        return obs, bool(done)

    def settle(self) -> dict[str, np.ndarray]:
        """The protocol's wait: SETTLE_STEPS dummy actions while dropped objects come to rest."""
        obs: dict[str, np.ndarray] = {}
        for _ in range(protocol.SETTLE_STEPS):
            obs, _ = self.step(protocol.DUMMY_ACTION)
        return obs

    def success(self) -> bool:
        return bool(self.env.check_success())

    def image(self) -> np.ndarray:
        """The agentview frame as the policy sees it (uint8 (S, S, 3), rotated 180 degrees)."""
        s = self.render.size
        raw = self.raw.sim.render(camera_name=CAMERA, width=s, height=s)
        return protocol.policy_image(raw)

    def _body_root(self, name: str) -> int:
        raw = self.raw
        obj = raw.objects_dict.get(name) or raw.fixtures_dict.get(name)
        if obj is None:
            raise TaskError(f"no object or fixture {name!r} in the scene", "no_target")
        return int(raw.sim.model.body_name2id(obj.root_body))

    def mask(self, name: str | None = None) -> np.ndarray:
        """Pixels of object ``name`` (default: the task's target) in the policy's image, bool (S, S).

        From MuJoCo's segmentation render: each pixel's geom -> its body -> up the body tree to the
        object's root body (so a cabinet's drawers and handles count as the cabinet)."""
        import mujoco

        raw = self.raw
        model = raw.sim.model._model
        root = self._body_root(name or self.target.name)
        s = self.render.size
        seg = raw.sim.render(camera_name=CAMERA, width=s, height=s, segmentation=True)
        objtype, objid = seg[..., 0], seg[..., 1]
        is_geom = objtype == int(mujoco.mjtObj.mjOBJ_GEOM)
        belongs = np.zeros(model.ngeom, dtype=bool)
        for g in range(model.ngeom):
            b = int(model.geom_bodyid[g])
            while b > 0 and b != root:
                b = int(model.body_parentid[b])
            belongs[g] = b == root
        hit = np.zeros(objid.shape, dtype=bool)
        hit[is_geom] = belongs[objid[is_geom]]
        return protocol.policy_image(hit)

    def object_poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """World position and (w, x, y, z) quaternion of every movable object's root body."""
        raw = self.raw
        out = {}
        for name in raw.objects_dict:
            bid = self._body_root(name)
            out[name] = (raw.sim.data.xpos[bid].copy(), raw.sim.data.xquat[bid].copy())
        return out

    def close(self) -> None:
        self.env.close()
