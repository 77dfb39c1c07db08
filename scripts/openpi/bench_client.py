"""The client half of the openpi serving bench: openpi-client's WebsocketClientPolicy (unmodified,
default constructor) against two servers of the same policy, printed as one JSON line.

Runs in the openpi bench side environment (scripts/openpi/bench-venv.sh). Both servers get the same
observations from the same process, interleaved, so load on a shared box falls on both alike:

- 1 client: requests alternate between the servers (the order flips every request); each round trip is
  timed around `infer()` (pack, send, wait, unpack), and the policy's own time is read from the reply
  (ours: `timing_ms.forward`; openpi: `policy_timing.infer_ms`, both the wall time of Policy.predict);
- N clients: N threads stream to one server for a while, and the main thread asks its /healthz every
  10 ms on a fresh HTTP connection; the servers take turns A B B A A B B A, a quarter of the time each;
- /healthz with no load, the same way, as the reference for "unaffected".

    python bench_client.py --server ours=PORT --server openpi=PORT [--n 200] [--load-seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from typing import Any

import numpy as np
from openpi_client.websocket_client_policy import WebsocketClientPolicy

HOST = "127.0.0.1"


def observation(rng: np.random.Generator, i: int) -> dict[str, Any]:
    """openpi's observation layout, as its LIBERO/DROID examples send it: a raw uint8 frame, state, prompt."""
    return {
        "observation/image": rng.integers(0, 255, (224, 224, 3), dtype=np.uint8),
        "observation/state": rng.standard_normal(8).astype(np.float32),
        "prompt": f"pick up the red cube ({i})",
    }


def policy_ms(reply: dict[str, Any]) -> float:
    if "timing_ms" in reply:  # ours
        return float(reply["timing_ms"]["forward"])
    return float(reply["policy_timing"]["infer_ms"])  # openpi's policies


def breakdown(reply: dict[str, Any]) -> dict[str, float]:
    """Where a server says its overhead went, when it says (ours does; openpi's server does not)."""
    t = reply.get("timing_ms")
    if not isinstance(t, dict):
        return {}
    in_process = float(t["server_total"]) - float(t["forward"])  # receive -> reply built, less predict
    queue, decode = float(t["queue"]), float(t["server_decode"])
    return {
        "in_process": in_process,
        "queue": queue,  # event loop -> worker thread hand-off
        "server_decode": decode,  # arrays -> Observation, validated (worker)
        # on the event loop: task start, msgpack unpack, the worker -> loop hand-back, the reply dict
        "unpack_and_return": in_process - queue - decode,
    }


def healthz_ms(port: int) -> float:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"/healthz on {port}: HTTP {resp.status}")
    finally:
        conn.close()
    return (time.perf_counter() - t0) * 1000.0


def round_trips(ports: dict[str, int], n: int, warmup: int = 5) -> dict[str, dict[str, list[float]]]:
    clients = {name: WebsocketClientPolicy(host=HOST, port=port) for name, port in ports.items()}
    names = list(clients)
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, list[float]]] = {name: {"round_trip": [], "policy": []} for name in names}
    for i in range(n + warmup):
        obs = observation(rng, i)  # the same observation to each server
        for name in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            reply = clients[name].infer(obs)
            ms = (time.perf_counter() - t0) * 1000.0
            if np.asarray(reply["actions"]).ndim != 2:
                raise RuntimeError(f"{name}: no action chunk in the reply: {sorted(reply)}")
            if i >= warmup:
                out[name]["round_trip"].append(ms)
                out[name]["policy"].append(policy_ms(reply))
                for key, value in breakdown(reply).items():
                    out[name].setdefault(key, []).append(value)
    for c in clients.values():
        c._ws.close()
    return out


def under_load(port: int, clients: int, seconds: float) -> tuple[list[float], int, float]:
    """(healthz latencies, predictions served, seconds) while `clients` threads stream to `port`."""
    stop = threading.Event()
    ready = threading.Barrier(clients + 1)
    served = [0] * clients
    errors: list[BaseException] = []

    def stream(i: int) -> None:
        try:
            policy = WebsocketClientPolicy(host=HOST, port=port)
            rng = np.random.default_rng(i + 1)
            obs = observation(rng, i)
            policy.infer(obs)  # connected and answered once before the clock starts
            ready.wait()
            while not stop.is_set():
                policy.infer(obs)
                served[i] += 1
            policy._ws.close()
        except BaseException as exc:
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=stream, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    lat: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        lat.append(healthz_ms(port))
        time.sleep(0.01)  # the poll interval, not a synchronisation
    elapsed = time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"a streaming client failed: {errors[0]!r}")
    return lat, sum(served), elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--server", action="append", required=True, help="NAME=PORT (two or more)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--load-seconds", type=float, default=20.0)
    p.add_argument("--idle-healthz", type=int, default=50)
    args = p.parse_args()
    ports = {k: int(v) for k, v in (s.split("=", 1) for s in args.server)}
    names = list(ports)
    result: dict[str, Any] = {name: {} for name in names}
    for name, port in ports.items():
        for _ in range(5):
            healthz_ms(port)  # warm-up
        result[name]["healthz_idle"] = [healthz_ms(port) for _ in range(args.idle_healthz)]
    for name, series in round_trips(ports, args.n).items():
        result[name].update(series)
    for name in names:
        result[name].update(healthz_load=[], served=0, load_seconds=0.0)
    turns = (names + names[::-1]) * 2  # A B B A A B B A: drift and bursts on a shared box fall on both
    for name in turns:
        lat, served, secs = under_load(ports[name], args.clients, args.load_seconds * len(names) / len(turns))
        result[name]["healthz_load"] += lat
        result[name]["served"] += served
        result[name]["load_seconds"] += secs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
