"""`pixelvla train ...` under torchrun with two CPU processes (gloo), for the distributed tests.

Run as a script, this file is each rank's process: it runs the `pixelvla` command line, then reports
on stderr how many sockets the process still holds. A run must leave none: a process group that
outlives `train` (FSDP's device mesh keeps it in a registry that DTensor's caches keep alive) is
torn down after Python's, which aborts the rank now and then ("terminate called without an active
exception", SIGABRT) and fails a finished run. That abort is rare; the open sockets are not.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

REPORT = "torchrun_worker:"


def open_sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since the listing (the listing's own descriptor)
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return n


def torchrun(*cli_args: str, procs: int = 2, timeout: float = 600) -> None:
    """`pixelvla ARGS` on `procs` ranks; asserts the run succeeded and every rank let go of its group."""
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"]
    argv += [__file__, *cli_args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    reports = [json.loads(line[len(REPORT) :]) for line in r.stderr.splitlines() if line.startswith(REPORT)]
    assert sorted(x["rank"] for x in reports) == list(range(procs)), r.stderr[-3000:]
    assert all(x["code"] == 0 and x["open_sockets"] == 0 for x in reports), reports


if __name__ == "__main__":
    from pixelvla.cli import main

    code: object = 0
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    report = {"rank": int(os.environ["RANK"]), "code": code, "open_sockets": open_sockets()}
    print(REPORT + json.dumps(report), file=sys.stderr, flush=True)
    raise SystemExit(code)
