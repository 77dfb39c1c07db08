"""Pinhole camera models in the OpenCV convention, for projecting 3-D points onto frames.

Camera frame: x right, y down, z forward (into the scene). Pixel (u, v) has its origin at the
top-left corner of the top-left pixel, so the centre of pixel (i, j) is (j + 0.5, i + 0.5) and a
normalised image coordinate is (u / width, v / height) — the convention of ``pixelvla.prompts``.
MuJoCo cameras look along their -z with y up; :func:`camera_model` converts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# MuJoCo camera axes (x right, y up, z backwards) -> OpenCV (x right, y down, z forwards).
_MJ_TO_CV = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class CameraModel:
    intrinsics: np.ndarray  # (3, 3) K
    world_to_camera: np.ndarray  # (4, 4) rigid transform, OpenCV camera frame
    width: int
    height: int

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixel coordinates (u right, v down); NaN behind the camera."""
        pts = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        cam = pts @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]
        uvw = cam @ self.intrinsics.T
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = uvw[:, :2] / uvw[:, 2:3]
        uv[cam[:, 2] <= 1e-9] = np.nan
        return uv

    def project_normalized(self, points_world: np.ndarray) -> np.ndarray:
        """Like :meth:`project`, in normalised image coordinates [0, 1]."""
        return self.project(points_world) / np.array([self.width, self.height], dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "intrinsics": self.intrinsics.tolist(),
            "world_to_camera": self.world_to_camera.tolist(),
            "width": self.width,
            "height": self.height,
            "convention": "opencv",
        }


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """MuJoCo's ``fovy`` is the vertical field of view; pixels are square."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]], dtype=np.float64)


def camera_model(
    cam_pos: np.ndarray, cam_xmat: np.ndarray, fovy_deg: float, width: int, height: int
) -> CameraModel:
    """Build from MuJoCo's ``data.cam_xpos`` / ``data.cam_xmat`` (camera-to-world rotation)."""
    r_c2w = np.asarray(cam_xmat, dtype=np.float64).reshape(3, 3) @ _MJ_TO_CV
    w2c = np.eye(4)
    w2c[:3, :3] = r_c2w.T
    w2c[:3, 3] = -r_c2w.T @ np.asarray(cam_pos, dtype=np.float64)
    return CameraModel(intrinsics_from_fovy(fovy_deg, width, height), w2c, width, height)
