"""Import the torch stack before anything loads MuJoCo's OSMesa renderer.

Mesa's llvmpipe (used by OSMesa) and Triton (imported by torch._dynamo, e.g. via torchvision) both
bring their own LLVM. Whichever loads second into the process must be Triton's: rendering a MuJoCo
frame first and importing Triton afterwards segfaults (reproduced here with torch 2.15 + mujoco 4.0).
The server renders robot frames and runs models in one process, so it loads the model stack first.
"""

from __future__ import annotations

import contextlib
import importlib


def torch_stack() -> None:
    for name in ("torch", "torchvision", "triton", "pixelvla.policy"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
