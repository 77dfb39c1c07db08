"""Property-based fuzz of every HTTP route in /openapi.json (schemathesis) against a live server: no 5xx.

Bounded (a few examples per operation) so it stays well under two minutes. The server has a model
loaded (so predict can succeed), no operator token (so the fuzzer reaches run and robot creation),
and a run command that exits at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import msgpack
import pytest
import schemathesis  # the root dev group installs it: a missing fuzzer fails, never skips
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pixelvla_server.live import LiveServer


@pytest.fixture(scope="module")
def fuzz_server(model_server: Callable[..., AbstractContextManager[LiveServer]]) -> Iterator[LiveServer]:
    with model_server(
        "fuzz",
        run_command="{python} -c pass {run_dir}",
        max_request_bytes=256 * 1024,
    ) as server:
        yield server
        for sid in list(server.app.state.studio.robots.sessions):
            httpx.delete(f"{server.url}/v1/robots/{sid}", timeout=30)


@schemathesis.serializer("application/msgpack")
def _msgpack_body(ctx: Any, value: Any) -> bytes:
    """The msgpack predict route declares a binary body: the fuzzer's bytes go as they are (garbage
    for the decoder), anything structured is packed, so both the framing and the map checks are hit."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return msgpack.packb(value)


FUZZ_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


CALLS: list[tuple[str, int]] = []


def check_response(case: Any) -> None:
    response = case.call(timeout=60)
    CALLS.append((f"{case.method} {case.path}", response.status_code))
    assert response.status_code < 500, (
        f"{case.method} {case.path}: {response.status_code} {response.text[:500]}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and body["error"]["code"], body  # every error is typed


def test_no_server_errors(fuzz_server: LiveServer) -> None:
    # schemathesis' pytest plugin does not load under pytest 9; drive its strategies with hypothesis directly.
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for op in operations:
        if op.path.endswith("/events"):
            continue  # an SSE stream of a live run never ends; its 404/422 paths are covered in test_runs
        if op.path.endswith("/remote-robots/launch"):
            continue  # it starts LIBERO processes (a first use installs ~2 GB): test_robot_launcher
        for mode in modes:  # schema-valid data, then data that breaks the schema on purpose

            @FUZZ_SETTINGS
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                check_response(case)

            try:
                run()
            except Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing to break (no inputs)
    statuses = {code for _, code in CALLS}
    assert len({op for op, _ in CALLS}) == len(operations) - 2  # every other operation was exercised
    assert any(200 <= c < 300 for c in statuses) and 422 in statuses  # happy and rejected inputs
