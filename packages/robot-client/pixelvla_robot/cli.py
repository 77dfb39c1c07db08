"""`pixelvla-robot <adapter> --server ws://host:port --name NAME ...`: run one robot as a remote robot.

Shared flags here; each adapter module adds its own (`python -m pixelvla_robot.sim --help`).
`--events` prints one JSON line per link event (connected, acted, stop, ...) with CLOCK_MONOTONIC
times, for a supervisor or a test to read. Exit codes: 0 closed, 2 bad arguments or a typed
connection error (bad URL, tokens refused, protocol mismatch), 3 the link was lost (the robot was
stopped first). With `--reconnect` a lost link or a server that does not answer (yet) is retried.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .adapter import Adapter
from .client import DEFAULT_DEADMAN_MS, RobotClient
from .errors import BadServerUrl, NameTaken, RobotClientError

RECONNECT_MIN_S, RECONNECT_MAX_S = 0.2, 5.0


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server", required=True, help="the GPU server, ws://host:port (or http://host:port)")
    p.add_argument("--name", required=True, help="the robot's name in the studio's robot picker")
    p.add_argument(
        "--api-token", default=os.environ.get("PIXELVLA_API_TOKEN"), help="(env PIXELVLA_API_TOKEN)"
    )
    p.add_argument(
        "--operator-token",
        default=os.environ.get("PIXELVLA_OPERATOR_TOKEN"),
        help="(env PIXELVLA_OPERATOR_TOKEN)",
    )
    p.add_argument(
        "--deadman-ms",
        type=float,
        default=DEFAULT_DEADMAN_MS,
        help="stop the robot when the server is silent this long (50..2000; default %(default)s)",
    )
    p.add_argument("--events", action="store_true", help="print link events as JSON lines on stdout")
    p.add_argument(
        "--reconnect",
        action="store_true",
        help="when the link is lost or nothing answers, stop the robot and connect again (backoff "
        "0.2 s doubling to 5 s) instead of exiting; refused tokens and protocol mismatches still exit",
    )
    return p


def _print_event(ev: dict[str, Any]) -> None:
    print(json.dumps(ev, default=str), flush=True)


def run(make_adapter: Callable[[], Adapter], args: argparse.Namespace) -> int:
    try:
        adapter = make_adapter()
    except (ValueError, ImportError) as exc:
        print(f"pixelvla-robot: {exc}", file=sys.stderr)
        return 2
    on_event = _print_event if args.events else None
    delay = RECONNECT_MIN_S
    try:
        while True:
            client = RobotClient(  # a malformed URL or option fails here, retried or not
                args.server,
                adapter,
                name=args.name,
                api_token=args.api_token,
                operator_token=args.operator_token,
                deadman_ms=args.deadman_ms,
                on_event=on_event,
            )
            try:
                client.connect()
            except (BadServerUrl, NameTaken) as exc:  # down, restarting, or its old link not yet gone
                if not args.reconnect:
                    raise
                print(
                    f"pixelvla-robot: {exc.code}: {exc}; again in {delay:.1f} s", file=sys.stderr, flush=True
                )
                time.sleep(delay)  # a retry's pacing, not a wait for any condition
                delay = min(RECONNECT_MAX_S, 2 * delay)
                continue
            delay = RECONNECT_MIN_S
            print(f"pixelvla-robot: {args.name} connected to {client.url}", file=sys.stderr, flush=True)
            ended = client.run()  # stops the robot on its way out, whatever ended it
            print(f"pixelvla-robot: {ended}", file=sys.stderr, flush=True)
            if not (args.reconnect and ended.startswith("link lost")):
                return 3 if ended.startswith("link lost") else 0
    except (RobotClientError, ValueError) as exc:
        code = getattr(exc, "code", "invalid_argument")
        print(f"pixelvla-robot: {code}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        adapter.close()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    kinds = ("sim", "gym", "libero", "lerobot")
    if not argv or argv[0] not in kinds:
        print(f"usage: pixelvla-robot {{{','.join(kinds)}}} --server URL --name NAME ...", file=sys.stderr)
        return 2
    import importlib

    module = importlib.import_module(f"pixelvla_robot.{argv[0]}")
    return int(module.main(argv[1:]))
