"""The install script refuses a missing or too-old Python with a message that says what to do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def bootstrap(python: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIXELVLA_PYTHON": python}
    return subprocess.run(
        ["bash", str(ROOT / "scripts/bootstrap.sh")], capture_output=True, text=True, env=env, timeout=60
    )


def test_missing_python(tmp_path):
    r = bootstrap(str(tmp_path / "no-python-here"))
    assert r.returncode == 1
    assert "Install Python >= 3.11" in r.stderr


def test_too_old_python(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 3.8.0' && exit 0\nexit 1\n")
    fake.chmod(0o755)
    r = bootstrap(str(fake))
    assert r.returncode == 1
    assert "Python 3.8.0" in r.stderr and "needs Python >= 3.11" in r.stderr
