"""Offscreen rendering that keeps one GL context for the robot's whole life.

``mujoco.Renderer`` creates a fresh GL context per model. Every episode compiles a new model, and
on a software rasteriser the first context setup costs ~0.3 s (shader compilation), more than
rendering a whole episode. Here the GL context lives as long as the robot; only the cheap
per-model ``MjrContext`` and scene are rebuilt on reset.
"""

from __future__ import annotations

import mujoco
import numpy as np


class OffscreenRenderer:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._gl: mujoco.GLContext | None = None
        self._mjr: mujoco.MjrContext | None = None
        self._scene: mujoco.MjvScene | None = None
        self._model: mujoco.MjModel | None = None
        self._option = mujoco.MjvOption()
        self._perturb = mujoco.MjvPerturb()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._viewport = mujoco.MjrRect(0, 0, width, height)
        self._rgb = np.empty((height, width, 3), dtype=np.uint8)

    def bind(self, model: mujoco.MjModel) -> None:
        """Prepare for rendering ``model`` (call after each reset that compiled a new model)."""
        if self._gl is None:
            self._gl = mujoco.GLContext(self.width, self.height)
        self._gl.make_current()
        if self._mjr is not None:
            self._mjr.free()
        self._mjr = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr)
        self._scene = mujoco.MjvScene(model, maxgeom=500)
        self._model = model

    def _draw(self, data: mujoco.MjData, camera_id: int, segmentation: bool) -> np.ndarray:
        if self._gl is None or self._mjr is None or self._scene is None or self._model is None:
            raise RuntimeError("renderer is not bound to a model")
        self._gl.make_current()
        self._camera.fixedcamid = camera_id
        mujoco.mjv_updateScene(
            self._model,
            data,
            self._option,
            self._perturb,
            self._camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = segmentation
        self._scene.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = segmentation
        mujoco.mjr_render(self._viewport, self._scene, self._mjr)
        mujoco.mjr_readPixels(self._rgb, None, self._viewport, self._mjr)
        # OpenGL's origin is the bottom-left corner; images have row 0 at the top.
        return np.flipud(self._rgb).copy()

    def rgb(self, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        return self._draw(data, camera_id, segmentation=False)

    def geom_ids(self, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        """int32 (H, W): the geom id seen at each pixel, -1 where no geom is."""
        img = self._draw(data, camera_id, segmentation=True).astype(np.int64)
        assert self._scene is not None
        seg = img[..., 0] + (img[..., 1] << 8) + (img[..., 2] << 16)  # 0 = background, else segid + 1
        ngeom = self._scene.ngeom
        lut = np.full(ngeom + 1, -1, dtype=np.int32)
        geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
        for g in self._scene.geoms[:ngeom]:
            if g.objtype == geom_type:
                lut[g.segid + 1] = g.objid
        seg = np.clip(seg, 0, ngeom)
        return lut[seg]

    def depth(self, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        """float32 (H, W): metres from the camera plane (the depth buffer, linearised as
        mujoco.Renderer does)."""
        self._draw(data, camera_id, segmentation=False)
        assert self._mjr is not None and self._model is not None
        buf = np.empty((self.height, self.width), dtype=np.float32)
        mujoco.mjr_readPixels(None, buf, self._viewport, self._mjr)
        extent = self._model.stat.extent
        near, far = self._model.vis.map.znear * extent, self._model.vis.map.zfar * extent
        return np.flipud(near / (1.0 - buf * (1.0 - near / far))).copy()

    def close(self) -> None:
        if self._mjr is not None:
            if self._gl is not None:
                self._gl.make_current()
            self._mjr.free()
            self._mjr = None
        if self._gl is not None:
            self._gl.free()
            self._gl = None
        self._scene = None
        self._model = None
