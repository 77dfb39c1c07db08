"""`python -m pixelvla_server.runs.wrap RUN_DIR -- CMD...`: run CMD, then record its exit status atomically.

The server may restart while a run goes on; exit.json is how it learns, later, how the run ended.
Cancel sends SIGTERM to the process group, so a training loop may save before it stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m pixelvla_server.runs.wrap RUN_DIR -- CMD...", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    cmd = argv[2:]
    try:
        proc = subprocess.Popen(cmd)
    except OSError as exc:
        print(f"pixelvla run: cannot start {cmd[0]!r}: {exc}", file=sys.stderr, flush=True)
        code = 127
    else:
        # Cancel signals the whole process group, the command included; the wrapper only has to outlive it.
        signal.signal(signal.SIGTERM, lambda *_: None)
        code = proc.wait()
    tmp = run_dir / "exit.json.tmp"
    tmp.write_text(json.dumps({"exit_code": code, "finished_at": time.time()}))
    os.replace(tmp, run_dir / "exit.json")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
