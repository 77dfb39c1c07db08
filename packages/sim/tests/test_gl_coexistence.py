"""A process that renders and then runs torch must not crash (Mesa's LLVM vs Triton's LLVM)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

SCRIPT = """
import pixelvla_sim
from pixelvla_sim.robot import SimRobot
robot = SimRobot(image_size=32)
robot.reset(0, "pick")
robot.render("front")
robot.close()
import triton  # what torch._dynamo / torchvision import lazily
print("ok")
"""


@pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="no Triton installed: nothing can clash"
)
def test_rendering_then_importing_triton_does_not_segfault() -> None:
    # A subprocess: the failure mode is a segfault, which would take the test session down with it.
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")
