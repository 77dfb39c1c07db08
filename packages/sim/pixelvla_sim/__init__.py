"""pixelvla_sim: a MuJoCo tabletop robot, its scripted expert and the automatic Pixel annotation.

Rendering is headless. MuJoCo picks its GL backend from ``MUJOCO_GL`` when it is first imported, so
the defaults are set here, before any submodule imports ``mujoco``: OSMesa on CPU (Debian's
libosmesa6), which needs no display. A caller that exported ``MUJOCO_GL=egl`` (a GPU machine) wins.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

__all__ = ["__version__"]
__version__ = "0.1.0"
