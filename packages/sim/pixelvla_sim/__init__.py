"""pixelvla_sim: a MuJoCo tabletop robot, its scripted expert and the automatic Pixel annotation.

Rendering is headless. MuJoCo picks its GL backend from ``MUJOCO_GL`` when it is first imported, so
the defaults are set here, before any submodule imports ``mujoco``: OSMesa on CPU (Debian's
libosmesa6), EGL when an NVIDIA device is present; neither needs a display. A caller that exported
``MUJOCO_GL`` itself wins.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os

# EGL where an NVIDIA GPU is present (hardware rendering), OSMesa otherwise. Both are headless.
os.environ.setdefault("MUJOCO_GL", "egl" if os.path.exists("/dev/nvidiactl") else "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

# PyOpenGL loads Mesa (OSMesa, or EGL's llvmpipe) with RTLD_GLOBAL, which puts Debian's libLLVM into
# the global symbol namespace. Triton bundles its own LLVM and segfaults while loading if Mesa's is
# already there; torch imports Triton lazily (torch._dynamo, torchvision), so a process that renders
# first and runs a model later (the GPU server, a test session) would crash. Triton loaded first is
# fine, so load it first whenever it is installed.
if os.environ["MUJOCO_GL"] in ("osmesa", "egl") and importlib.util.find_spec("triton") is not None:
    with contextlib.suppress(Exception):
        import triton  # noqa: F401

__all__ = ["__version__"]
__version__ = "0.1.0"
