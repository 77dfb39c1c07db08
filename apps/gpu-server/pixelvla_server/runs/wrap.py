"""`python -m pixelvla_server.runs.wrap RUN_DIR -- CMD...`: run CMD, then record its exit status atomically.

The server may restart while a run goes on; exit.json is how it learns, later, how the run ended.
Cancel sends SIGTERM to the process group, so a training loop may save before it stops.

The wrapper's output goes to the run's log (RUN/log.txt) like the command's: a WRAP_START line
before the command starts (the manager reads only what follows the last one, since logs are appended
across resumes) and one line saying how it ended, so a native crash is "killed by signal 11 (SIGSEGV)"
in the log rather than nothing. exit.json holds `exit_code` (negative: the signal, as Popen reports
it) and `signal` (the signal's name, or null).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WRAP_START = "[pixelvla_server.runs.wrap] starting:"
WRAP_END = "[pixelvla_server.runs.wrap] the command"


def signal_name(code: int | None) -> str | None:
    """The name of the signal a negative exit status stands for (Popen: -N = killed by signal N)."""
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def describe_exit(code: int | None) -> str:
    """How a process ended, in words."""
    if code is None:
        return "ended without an exit status"
    name = signal_name(code)
    if name is not None:
        return f"was killed by signal {-code} ({name})"
    return f"exited with status {code}"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m pixelvla_server.runs.wrap RUN_DIR -- CMD...", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    cmd = argv[2:]
    print(f"{WRAP_START} {json.dumps(cmd)}", flush=True)
    try:
        proc = subprocess.Popen(cmd)
    except OSError as exc:
        print(f"pixelvla run: cannot start {cmd[0]!r}: {exc}", file=sys.stderr, flush=True)
        code = 127
    else:
        # Cancel signals the whole process group, the command included; the wrapper only has to outlive it.
        signal.signal(signal.SIGTERM, lambda *_: None)
        code = proc.wait()
    print(f"{WRAP_END} {describe_exit(code)}", flush=True)
    tmp = run_dir / "exit.json.tmp"
    tmp.write_text(json.dumps({"exit_code": code, "signal": signal_name(code), "finished_at": time.time()}))
    os.replace(tmp, run_dir / "exit.json")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
