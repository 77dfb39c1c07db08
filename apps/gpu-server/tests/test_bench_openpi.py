"""The openpi side-by-side bench's harness (pixelvla_server.bench_openpi), end to end with tiny n.

The full bench needs its own side environment with torch (openpi's server serving the policy); that is
`npm run bench`'s business, not the tests'. What runs here: the bench's client program, in the openpi
client's side environment the openpi-client tests already build (numpy < 2, openpi-client 0.1.2), against
a live server of ours under both names, and the report the bench prints from what the client saw.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pixelvla_server.bench_openpi import OPENPI, report

ROOT = Path(__file__).resolve().parents[3]
# A guard against a hung client, not a measure of speed: the run below is a few tiny-model inferences.
HANG_S = 300


@pytest.fixture(scope="module")
def openpi_python() -> Path:
    """The openpi client's side environment (scripts/openpi-client.sh; cached once built)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "openpi-client.sh"), "venv"],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/openpi-client.sh venv failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return ROOT / "var" / "openpi-venv" / "bin" / "python"


def test_client_against_a_live_server_and_report(openpi_python, live):
    port = live.url.rsplit(":", 1)[1]
    cmd = [
        str(openpi_python),
        str(OPENPI / "bench_client.py"),
        f"--server=ours={port}",
        f"--server=openpi={port}",
    ]
    cmd += ["--n=4", "--clients=2", "--load-seconds=1", "--idle-healthz=3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_S, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(raw) == {"ours", "openpi"}
    for r in raw.values():
        assert len(r["round_trip"]) == len(r["policy"]) == 4
        # The policy's own time is read from the reply and is part of the round trip it was sent in.
        assert all(0 < pol < rt for rt, pol in zip(r["round_trip"], r["policy"], strict=True))
        assert len(r["in_process"]) == 4 and all(x >= 0 for x in r["in_process"])
        assert r["served"] > 0 and r["load_seconds"] >= 1.0
        assert len(r["healthz_load"]) >= 2 and len(r["healthz_idle"]) == 3
    out = report(raw, clients=2)
    one = out["ours"]["one_client"]
    assert one["round_trip_ms"]["n"] == 4 and "overhead_breakdown_ms" in one
    assert out["ours"]["2_clients"]["predictions_per_s"] > 0
    assert set(out["ours_over_openpi"]) >= {"round_trip_p50", "server_overhead_p50", "throughput_2_clients"}
    assert all(isinstance(v, float) for v in out["ours_over_openpi"].values())


def _raw(rtt: float, policy: float, served: int, healthz: float) -> dict[str, object]:
    return {
        "round_trip": [rtt] * 3,
        "policy": [policy] * 3,
        "served": served,
        "load_seconds": 2.0,
        "healthz_load": [healthz] * 3,
        "healthz_idle": [0.5] * 3,
    }


def test_report_overhead_is_round_trip_less_policy_and_ratios_are_ours_over_openpi():
    out = report({"ours": _raw(11.0, 10.0, 40, 2.0), "openpi": _raw(14.0, 10.0, 20, 100.0)}, clients=4)
    assert out["ours"]["one_client"]["server_overhead_ms"]["p50"] == 1.0
    assert out["openpi"]["one_client"]["server_overhead_ms"]["p50"] == 4.0
    r = out["ours_over_openpi"]
    assert r["server_overhead_p50"] == 0.25 and r["round_trip_p50"] == round(11 / 14, 3)
    assert r["throughput_4_clients"] == 2.0 and r["healthz_p99_4_clients"] == 0.02
    assert out["goals"] == {
        "our_overhead_p50_le_1_5ms": True,
        "our_overhead_p50_below_openpi": True,
        "our_healthz_p99_under_load_lt_20ms": True,
    }
    slow = report({"ours": _raw(16.0, 10.0, 40, 30.0), "openpi": _raw(14.0, 10.0, 20, 100.0)}, clients=4)
    assert slow["goals"] == dict.fromkeys(out["goals"], False)
