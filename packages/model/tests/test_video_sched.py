"""Encoding AV1 leaves the process's scheduling policy as it was. Run as root, SVT-AV1 switches the
calling thread to SCHED_FIFO; every later child (a test's busy loops, a training subprocess) then
inherits real-time priority and two of them starve a 2-core machine (the suite hung this way)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pixelvla.data.video import encode_av1


def test_encoding_keeps_the_scheduling_policy(tmp_path: Path) -> None:
    before = os.sched_getscheduler(0)
    encode_av1(tmp_path / "v.mp4", [np.zeros((48, 64, 3), np.uint8)] * 3, 30)
    assert os.sched_getscheduler(0) == before
