"""`python -m pixelvla_server.bench_openpi`: our server side by side with openpi's, one JSON document.

The same policy (a bundle, by default the tiny demo model in models/demo, on CPU, through
`pixelvla.policy.Policy`) is served twice at once, on this machine:

- by our server (`python -m pixelvla_server`, the real CLI) at WS `/`, its openpi drop-in route;
- by openpi's own `WebsocketPolicyServer` (PyPI openpi-server 0.1.0, unmodified) around a
  ten-line openpi policy adapter (scripts/openpi/serve_policy.py).

openpi-server depends on openpi-client, which pins numpy < 2, and the project's .venv has numpy 2, so
openpi's server runs in its own hash-locked side environment (scripts/openpi/bench-venv.sh) that also
holds torch and the few packages pixelvla needs to load a bundle, at the .venv's versions; pixelvla
is imported there from source. Running openpi's server on numpy 2 would ignore its pins and
measure something openpi does not ship. Both server processes get the same torch thread count.

One client program (scripts/openpi/bench_client.py, openpi-client's WebsocketClientPolicy, the same
for both) measures, interleaving the two servers so a shared box's load falls on both alike:
round-trip p50/p99 for 1 client; the server overhead = round trip - the policy's own predict time
(each server reports it: ours `timing_ms.forward`, openpi's adapter `policy_timing.infer_ms`);
throughput and /healthz p99 with 4 clients streaming, and /healthz with none. Ratios are ours/openpi
(below 1: ours is lower). Goals: our overhead <= 1.5 ms p50 and below openpi's; /healthz under load
p99 < 20 ms (what the other server bench holds it to: unaffected by the model's work).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pixelvla_server.bench import server_process

ROOT = Path(__file__).resolve().parents[3]
OPENPI = ROOT / "scripts" / "openpi"
# A guard against a hung process, not a measure of speed (loading the tiny model takes seconds).
START_LIMIT_S = 300


def _pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(xs), q)), 3)


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50": _pct(xs, 50), "p99": _pct(xs, 99), "mean": round(float(np.mean(xs)), 3), "n": len(xs)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def side_python() -> Path:
    """The bench side environment's python, built from its lock on first use (cached after)."""
    done = subprocess.run(
        ["bash", str(OPENPI / "bench-venv.sh")], capture_output=True, text=True, timeout=START_LIMIT_S * 4
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/openpi/bench-venv.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def side_env(threads: int) -> dict[str, str]:
    """The environment of every process of the comparison: same torch threads, pixelvla from source."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def openpi_server(python: Path, bundle: Path, threads: int) -> Iterator[int]:
    """openpi's WebsocketPolicyServer in the side environment; yields its port once /healthz answers."""
    port = _free_port()
    env = side_env(threads)
    env["PYTHONPATH"] = str(ROOT / "packages" / "model")
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [str(python), str(OPENPI / "serve_policy.py"), str(bundle), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        try:
            deadline = time.monotonic() + START_LIMIT_S
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"openpi server exited ({proc.returncode}): {log.read()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("openpi server did not answer /healthz")
                time.sleep(0.2)  # poll interval while the process starts
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def report(raw: dict[str, Any], clients: int) -> dict[str, Any]:
    """Summaries per server from the client's raw samples, and ours/openpi ratios."""
    per: dict[str, Any] = {}
    for name, r in raw.items():
        over = [rt - pol for rt, pol in zip(r["round_trip"], r["policy"], strict=True)]
        per[name] = {
            "one_client": {
                "round_trip_ms": summary(r["round_trip"]),
                "policy_predict_ms": summary(r["policy"]),
                "server_overhead_ms": summary(over),
            },
            f"{clients}_clients": {
                "predictions_per_s": round(r["served"] / r["load_seconds"], 2),
                "healthz_ms": summary(r["healthz_load"]),
            },
            "healthz_idle_ms": summary(r["healthz_idle"]),
        }
        if "in_process" in r:  # the server's own split of its overhead (ours reports one)
            per[name]["one_client"]["overhead_breakdown_ms"] = {
                "in_process_less_predict": summary(r["in_process"]),
                "queue": summary(r["queue"]),
                "server_decode": summary(r["server_decode"]),
                "unpack_and_return": summary(r["unpack_and_return"]),
            }
    ours, theirs = per["ours"], per["openpi"]
    o1, t1 = ours["one_client"], theirs["one_client"]
    ol, tl = ours[f"{clients}_clients"], theirs[f"{clients}_clients"]
    ratios = {
        "round_trip_p50": ratio(o1["round_trip_ms"]["p50"], t1["round_trip_ms"]["p50"]),
        "round_trip_p99": ratio(o1["round_trip_ms"]["p99"], t1["round_trip_ms"]["p99"]),
        "server_overhead_p50": ratio(o1["server_overhead_ms"]["p50"], t1["server_overhead_ms"]["p50"]),
        "server_overhead_p99": ratio(o1["server_overhead_ms"]["p99"], t1["server_overhead_ms"]["p99"]),
        "policy_predict_p50": ratio(o1["policy_predict_ms"]["p50"], t1["policy_predict_ms"]["p50"]),
        f"throughput_{clients}_clients": ratio(ol["predictions_per_s"], tl["predictions_per_s"]),
        f"healthz_p99_{clients}_clients": ratio(ol["healthz_ms"]["p99"], tl["healthz_ms"]["p99"]),
    }
    goals = {
        "our_overhead_p50_le_1_5ms": o1["server_overhead_ms"]["p50"] <= 1.5,
        "our_overhead_p50_below_openpi": o1["server_overhead_ms"]["p50"] < t1["server_overhead_ms"]["p50"],
        "our_healthz_p99_under_load_lt_20ms": ol["healthz_ms"]["p99"] < 20.0,
    }
    return {"ours": ours, "openpi": theirs, "ours_over_openpi": ratios, "goals": goals}


class Unavailable(Exception):
    """What the comparison needs is not here (no bundle, or the side venv cannot be built, e.g. offline
    with an empty uv cache): reported in the JSON, so the other benches of `npm run bench` still run."""


def run(bundle: Path, n: int, load_seconds: float, clients: int, threads: int) -> dict[str, Any]:
    if not (bundle / "manifest.json").is_file():
        raise Unavailable(f"no bundle at {bundle} (a folder with manifest.json)")
    try:
        python = side_python()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"the openpi bench side venv could not be built: {e}") from e
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        shutil.copytree(bundle, models / bundle.name)  # our server's registry may write beside it
        with (
            server_process("cpu", models, Path(tmp) / "data", bundle.name, env=side_env(threads)) as (
                url,
                _,
                _,
            ),
            openpi_server(python, bundle, threads) as openpi_port,
        ):
            ours_port = int(url.rsplit(":", 1)[1])
            cmd = [str(python), str(OPENPI / "bench_client.py"), f"--server=ours={ours_port}"]
            cmd += [f"--server=openpi={openpi_port}", f"--n={n}", f"--clients={clients}"]
            cmd += [f"--load-seconds={load_seconds}"]
            # A guard against a hung client only: far above n round trips and the load turns on any box.
            hang_s = START_LIMIT_S + 10 * load_seconds + 5 * n
            done = subprocess.run(cmd, capture_output=True, text=True, env=side_env(threads), timeout=hang_s)
            if done.returncode != 0:
                raise RuntimeError(f"bench client failed ({done.returncode}):\n{done.stderr[-3000:]}")
            raw = json.loads(done.stdout.strip().splitlines()[-1])
    load_after = os.getloadavg()
    versions = subprocess.run(
        [
            str(python),
            "-c",
            "import numpy, torch, websockets; print(numpy.__version__, torch.__version__, websockets.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "policy": f"{bundle.name} bundle via pixelvla.policy.Policy on CPU, torch threads {threads} in both servers",
        "openpi_server": {
            "server": "openpi-server 0.1.0 WebsocketPolicyServer (side venv, scripts/openpi/bench-requirements.lock)",
            "side_venv": dict(zip(("numpy", "torch", "websockets"), versions, strict=False)),
        },
        "client": "openpi-client 0.1.2 WebsocketClientPolicy(host, port), raw uint8 224x224x3 frame + state + prompt",
        **report(raw, clients),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="pixelvla_server.bench_openpi", description=__doc__.splitlines()[0])
    p.add_argument(
        "--bundle", type=Path, default=ROOT / "models" / "demo", help="bundle folder (default: models/demo)"
    )
    p.add_argument("--n", type=int, default=200, help="round trips per server with 1 client")
    p.add_argument("--load-seconds", type=float, default=20.0, help="seconds of 4-client load per server")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch threads of each server process")
    args = p.parse_args(argv)
    try:
        out = run(args.bundle.resolve(), args.n, args.load_seconds, args.clients, args.threads)
    except Unavailable as e:
        out = {"unavailable": str(e)[-3000:]}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
