"""Hostile inputs against a live server with the tiny model: over HTTP (POST /v1/policy/predict), over
the policy WebSocket, and as robot prompt commands. Whatever arrives: no 5xx (and no "internal" error
frame: a client's bad input is never a server error), every WebSocket message answered within 5 s, the
server's memory steady, and a correct prediction right after.

The inputs are the reviewer's (numbers too big for int64 or a double, non-string keys, ...), more of the
same kind, the shared bad-prompt vectors (packages/model/testdata/prompt_errors.json), and every entry
of the malformed-input corpus packages/model/testdata/malformed/ when it is there.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgpack
import numpy as np
import pytest
from PIL import Image
from pixelvla.wire import packb, unpackb
from pixelvla_server.live import LiveServer
from websockets.sync.client import ClientConnection, connect

TESTDATA = Path(__file__).resolve().parents[3] / "packages" / "model" / "testdata"
CORPUS = TESTDATA / "malformed"
ANSWER_S = 5.0  # every WebSocket message is answered within this
ROBOT_FIELDS = frozenset({"instruction", "prompt_tokens", "prompt_valid", "prompts", "pixel_masks"})
BIG = 10**400  # JSON only: msgpack ints stop at 2**64 - 1
U64 = 2**64 - 1


def frame(size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)


def jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (a decompression bomb's header; no such pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def ndarray(data: bytes, dtype: Any, shape: Any) -> dict[str, Any]:
    """An array header exactly as a client writes it, whatever it claims."""
    return {"__ndarray__": True, "data": data, "dtype": dtype, "shape": shape}


@dataclass(frozen=True)
class Hostile:
    """One hostile input, in the forms that can carry it; it goes over every channel that can.

    fields: observation fields merged over a valid observation (a 64x64 image, an instruction); raw_ws / raw_http: a
    whole WebSocket frame / HTTP body; spliced: (field, raw msgpack bytes of its value), for values
    that must reach the server's decoder exactly as written (array markers, non-string keys);
    json_text: (field, JSON text of its value), for numbers a JSON encoder would not write (1e400).
    ok: a valid input (the corpus's "bounded" entries) that must be served, not refused."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    raw_ws: bytes | None = None
    raw_http: bytes | None = None
    spliced: tuple[str, bytes] | None = None
    json_text: tuple[str, str] | None = None
    ok: bool = False


def _json_able(obj: Any) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _json_able(v) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return all(_json_able(v) for v in obj)
    return obj is None or isinstance(obj, bool | int | float | str)


def _msgpack_able(obj: Any) -> bool:
    try:
        packb(obj)
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def point(**kw: Any) -> dict[str, Any]:
    return {"prompts": [{"type": "point", "x": 0.5, "y": 0.5, **kw}]}


def mask(rle: Any) -> dict[str, Any]:
    return {"pixel_masks": [rle]}


def inline_cases() -> list[Hostile]:
    deep: Any = 0.5
    for _ in range(200):
        deep = [deep]
    cases = [
        # the reviewer's
        Hostile("point x = 10**400", point(x=BIG)),
        Hostile("rle counts 2**64-1", mask({"size": [4, 4], "counts": [U64]})),
        Hostile("rle counts 10**30", mask({"size": [4, 4], "counts": [10**30]})),
        Hostile("prompt with an int key", {"prompts": [{"type": "point", "x": 0.5, "y": 0.5, 7: 1}]}),
        # numbers
        Hostile("point x = 2**64-1", point(x=U64)),
        Hostile("point x = -2**63", point(x=-(2**63))),
        Hostile("point x = nan", point(x=math.nan)),
        Hostile("point x = inf", point(x=math.inf)),
        Hostile("point y = -10**400", point(y=-BIG)),
        Hostile("box x1 = 10**30", {"prompts": [{"type": "box", "x0": 0, "y0": 0, "x1": 10**30, "y1": 1}]}),
        Hostile("box x1 = 2**64-1", {"prompts": [{"type": "box", "x0": 0, "y0": 0, "x1": U64, "y1": 1}]}),
        Hostile("line point 10**400", {"prompts": [{"type": "line", "points": [[0, 0], [BIG, 1]]}]}),
        Hostile(
            "line of 20000 points",
            {"prompts": [{"type": "line", "points": [[0.1, 0.1], [0.9, 0.9]] * 10000}]},
        ),
        Hostile(
            "mask prompt counts 2**64-1",
            {"prompts": [{"type": "mask", "rle": {"size": [4, 4], "counts": [0, U64]}}]},
        ),
        Hostile(
            "mask prompt counts 10**30",
            {"prompts": [{"type": "mask", "rle": {"size": [4, 4], "counts": [10**30]}}]},
        ),
        Hostile("rle size 2**31 a side", mask({"size": [2**31, 2**31], "counts": [2**62]})),
        Hostile("rle size 2**64-1", mask({"size": [U64, 1], "counts": [U64]})),
        Hostile("rle size 50000 a side", mask({"size": [50000, 50000], "counts": [2_500_000_000]})),
        Hostile("rle negative run", mask({"size": [4, 4], "counts": [-1, 17]})),
        Hostile("rle counts string overflow", mask({"size": [4, 4], "counts": "_" * 40})),
        Hostile("rle counts of 10**6 runs", mask({"size": [4, 4], "counts": [0] * 1_000_000})),
        Hostile("state 10**400", {"state": [BIG]}),
        Hostile("state 2**64-1", {"state": [U64] * 8}),
        # types and keys
        Hostile("prompt with a bytes key", {"prompts": [{"type": "point", b"x": 0.5, "y": 0.5}]}),
        Hostile("prompt with a float key", {"prompts": [{"type": "point", "x": 0.5, "y": 0.5, 1.5: 0}]}),
        Hostile("prompt type is a list", {"prompts": [{"type": ["point"], "x": 0.5, "y": 0.5}]}),
        Hostile("prompt type is a map", {"prompts": [{"type": {"a": 1}, "x": 0.5, "y": 0.5}]}),
        Hostile("point x nested 200 deep", point(x=deep)),
        Hostile("prompts is a string", {"prompts": "point"}),
        Hostile("prompts of None", {"prompts": [None, None]}),
        Hostile("rle with an int key", mask({"size": [4, 4], "counts": [16], 3: 4})),
        Hostile("rle size of strings", mask({"size": ["4", "4"], "counts": [16]})),
        Hostile("rle counts is a map", mask({"size": [4, 4], "counts": {"a": 1}})),
        Hostile("frame_ref episode 2**64-1", {"frame_ref": {"dataset": "d", "episode": U64, "frame": 0}}),
        Hostile("instruction is a map", {"instruction": {"a": 1}}),
        Hostile("instruction of 10**6 chars", {"instruction": "x" * 1_000_000}),
        Hostile("seq is a map", {"seq": {"a": [1, 2]}}),
        # arrays and images (msgpack only)
        Hostile(
            "tokens float64 nan",
            {"prompt_tokens": np.full((16, 256), np.nan), "prompt_valid": np.ones(16, bool)},
        ),
        Hostile("tokens without valid", {"prompt_tokens": np.zeros((16, 256), np.float32)}),
        Hostile("image bytes claim 100000x100000", {"image": png_claiming(100_000, 100_000)}),
        Hostile("image bytes claim 4096x1", {"image": png_claiming(4096, 1)}),
        Hostile("image truncated jpeg", {"image": jpeg(frame())[:200]}),
        Hostile("image 0x0", {"image": np.zeros((0, 0, 3), np.uint8)}),
        Hostile("image 1x3000", {"image": np.zeros((1, 3000, 3), np.uint8)}),
    ]
    raw = [
        Hostile(
            "array shape 2**32 x 2**32",
            raw_ws=msgpack.packb({"image": ndarray(b"", "|u1", [2**32, 2**32, 3])}),
        ),
        Hostile("array shape -1", raw_ws=msgpack.packb({"image": ndarray(b"\0" * 3, "|u1", [-1, 1, 3])})),
        Hostile("array shape 2**64-1", raw_ws=msgpack.packb({"image": ndarray(b"\0", "|u1", [U64])})),
        Hostile(
            "array shape nested", raw_ws=msgpack.packb({"image": ndarray(b"\0" * 3, "|u1", [[1], 1, 3])})
        ),
        Hostile("array data short", raw_ws=msgpack.packb({"image": ndarray(b"\0" * 5, "|u1", [64, 64, 3])})),
        Hostile("array object dtype", raw_ws=msgpack.packb({"image": ndarray(b"\0" * 8, "|O", [1])})),
        Hostile("array dtype is a map", raw_ws=msgpack.packb({"image": ndarray(b"\0", {"a": 1}, [1])})),
        Hostile("msgpack nested 100000 deep", raw_ws=b"\x91" * 100_000 + b"\xc0"),
        Hostile("msgpack array32 of 2**32-1, no data", raw_ws=b"\xdd\xff\xff\xff\xff"),
        Hostile("msgpack str32 of 2**32-1, no data", raw_ws=b"\xdb\xff\xff\xff\xff"),
        Hostile("msgpack map with a list key", raw_ws=b"\x81\x91\x01\x01"),
        Hostile("msgpack ext type", raw_ws=msgpack.packb({"image": msgpack.ExtType(5, b"x")})),
        Hostile("msgpack garbage", raw_ws=b"\xc1\xc1\xc1"),
        Hostile("msgpack nil", raw_ws=b"\xc0"),
        Hostile("json nested 100000 deep", raw_http=b"[" * 100_000 + b"]" * 100_000),
        Hostile("json not utf-8", raw_http=b'{"instruction": "\xff\xfe"}'),
        Hostile("json NaN state", raw_http=b'{"image_b64": "", "state": [NaN]}'),
        Hostile("json truncated", raw_http=b'{"image_b64": "abc'),
    ]
    return cases + raw


def prompt_vector_cases() -> list[Hostile]:
    data = json.loads((TESTDATA / "prompt_errors.json").read_text())
    return [Hostile(f"prompt_errors.json {c['name']}", {"prompts": c["prompts"]}) for c in data["cases"]]


def corpus_cases() -> list[Hostile]:
    """Every entry of packages/model/testdata/malformed/*.json (format pixelvla.malformed.v1) when the
    corpus is there: {"target", "encoding", "payload", "expect", ...}; each file's "feed" says how the
    live server receives its target."""
    if not CORPUS.is_dir():
        return []
    out: list[Hostile] = []
    for path in sorted(CORPUS.glob("*.json")):
        data = json.loads(path.read_text())
        assert data.get("format") == "pixelvla.malformed.v1", f"{path.name}: unknown corpus format"
        for entry in data["entries"]:
            out.append(_from_corpus(f"{path.stem}/{entry['name']}", entry))
    return out


# target -> (observation field, whether the payload is one element of that field's list)
_FIELD_OF = {"prompt": ("prompts", False), "mask_prompt": ("prompts", True), "rle": ("pixel_masks", True)}


def _from_corpus(name: str, entry: dict[str, Any]) -> Hostile:
    target, encoding, payload = entry["target"], entry["encoding"], entry["payload"]
    ok = entry.get("expect") == ["ok"]
    if encoding == "bytes_b64":
        data = base64.b64decode(payload)
        if target == "image":
            return Hostile(name, {"image": data}, ok=ok)
        assert target in ("observation", "wire_array"), f"{name}: bytes for target {target!r}"
        return Hostile(name, raw_ws=data, ok=ok)
    assert target in _FIELD_OF, f"corpus entry {name}: unknown target {target!r}"
    key, one = _FIELD_OF[target]
    if encoding == "json":
        return Hostile(name, {key: [payload] if one else payload}, ok=ok)
    if encoding == "json_text":
        return Hostile(name, json_text=(key, f"[{payload}]" if one else payload), ok=ok)
    assert encoding == "msgpack_b64", f"corpus entry {name}: unknown encoding {encoding!r}"
    data = base64.b64decode(payload)
    return Hostile(name, spliced=(key, b"\x91" + data if one else data), ok=ok)


CASES = inline_cases() + prompt_vector_cases() + corpus_cases()


# ---- the server and its channels ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_server(model_server: Callable[..., AbstractContextManager[LiveServer]]) -> Iterator[LiveServer]:
    with model_server(
        "hostile",
        deadman_ms=2000,  # the dead man is not under test here; a loaded machine must not trip it
        max_request_bytes=4 * 1024 * 1024,
    ) as server:
        yield server


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def http_predict(server: LiveServer, content: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/policy/predict",
        content=content,
        headers={"content-type": "application/json"},
        timeout=60,
    )


def _splice(pairs: bytes, count: int, key: str, value: bytes) -> bytes:
    """A msgpack map of `count` packed pairs plus key: value, with value's bytes exactly as given."""
    assert count < 15
    return bytes([0x80 | (count + 1)]) + pairs + msgpack.packb(key) + value


def _base_pairs() -> bytes:
    """A valid observation's packed pairs (the fixmap header off): image and instruction."""
    return packb({"image": frame(), "instruction": "pick"})[1:]


def http_body(case: Hostile) -> bytes | None:
    image_b64 = base64.b64encode(jpeg(frame())).decode()
    if case.raw_http is not None:
        return case.raw_http
    if case.json_text is not None:
        key, text = case.json_text
        return f'{{"image_b64": "{image_b64}", "instruction": "pick", "{key}": {text}}}'.encode()
    if case.raw_ws is not None or case.spliced is not None or not _json_able(case.fields):
        return None
    fields = dict(case.fields)
    image = fields.pop("image", None)
    if image is not None and not isinstance(image, bytes):
        return None
    b64 = image_b64 if image is None else base64.b64encode(image).decode()
    return json.dumps({"image_b64": b64, "instruction": "pick", **fields}).encode()


def _fields(case: Hostile) -> dict[str, Any] | None:
    """The observation fields as Python values (None when the case is raw bytes)."""
    if case.json_text is not None:
        key, text = case.json_text
        return {key: json.loads(text)}  # Python reads 1e400 as inf, NaN as nan
    if case.raw_ws is not None or case.raw_http is not None or case.spliced is not None:
        return None
    return case.fields


def ws_frame(case: Hostile) -> bytes | None:
    if case.raw_ws is not None:
        return case.raw_ws
    if case.spliced is not None:
        return _splice(_base_pairs(), 2, *case.spliced)
    fields = _fields(case)
    if fields is None:
        return None
    obs = {"image": frame(), "instruction": "pick", **fields}
    return packb(obs) if _msgpack_able(obs) else None


def robot_prompt(case: Hostile) -> bytes | None:
    """The case as a robot prompt command, when it only touches prompt fields."""
    if case.spliced is not None:
        return _splice(msgpack.packb({"type": "prompt", "instruction": "pick"})[1:], 2, *case.spliced)
    fields = _fields(case)
    if not fields or not set(fields) <= ROBOT_FIELDS:
        return None
    cmd = {"type": "prompt", "instruction": "pick", **fields}
    return packb(cmd) if _msgpack_able(cmd) else None


def assert_typed_http(case: Hostile, r: httpx.Response) -> None:
    name = case.name
    assert r.status_code < 500, f"{name}: {r.status_code} {r.text[:300]}"
    assert r.status_code == 200 or not case.ok, f"{name}: a valid input was refused: {r.text[:300]}"
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"} and body["error"]["code"], f"{name}: {body}"


def assert_answered(case: Hostile, msg: dict[str, Any]) -> None:
    name = case.name
    assert msg.get("type") in ("actions", "error"), f"{name}: {msg}"
    assert msg["type"] == "actions" or not case.ok, f"{name}: a valid input was refused: {msg}"
    if msg["type"] == "error":
        assert msg["error"]["code"] != "internal", f"{name}: a client input became a server error: {msg}"


class Controller:
    """A robot controller over the real WebSocket: heartbeats from its own thread (as the studio does)
    and a reader that hands on everything but frames it is not waiting for."""

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.stop = threading.Event()
        self.beat = threading.Thread(target=self._beat, daemon=True)
        self.beat.start()

    def _beat(self) -> None:
        while not self.stop.wait(0.1):
            self.ws.send(packb({"type": "heartbeat"}))

    def recv(self, timeout: float) -> dict[str, Any]:
        msg = unpackb(self.ws.recv(timeout=max(0.01, timeout)))
        assert isinstance(msg, dict)
        return msg

    def command(self, cmd: dict[str, Any] | bytes) -> dict[str, Any]:
        """Send a command; its ack or error must come within ANSWER_S."""
        self.ws.send(cmd if isinstance(cmd, bytes) else packb(cmd))
        deadline = time.monotonic() + ANSWER_S
        while (msg := self.recv(deadline - time.monotonic()))["type"] not in ("ack", "error"):
            pass
        return msg

    def outcome(self, timeout: float) -> str:
        """After go: 'acted' (a frame of the go carries an action) or 'error' (the control loop stopped
        the robot with an error, e.g. a prompt that does not decode)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(deadline - time.monotonic())
            if msg["type"] == "frame" and msg.get("mode") == "go" and msg.get("action") is not None:
                return "acted"
            if msg["type"] in ("frame", "status") and msg.get("mode") == "error":
                return "error"


# ---- the tests -----------------------------------------------------------------------------------------


def test_reviewer_inputs_are_typed_400s_over_http(hostile_server: LiveServer) -> None:
    """Decode failures of client data are the client's fault: 400 with a typed code, never a 500."""
    for name in ("point x = 10**400", "rle counts 2**64-1", "rle counts 10**30"):
        case = next(c for c in CASES if c.name == name)
        body = http_body(case)
        assert body is not None
        r = http_predict(hostile_server, body)
        assert r.status_code == 400, f"{name}: {r.status_code} {r.text[:300]}"
        assert r.json()["error"]["code"] in ("invalid_observation", "invalid_prompt", "invalid_rle")


def test_hostile_inputs_get_typed_answers_and_the_server_keeps_serving(hostile_server: LiveServer) -> None:
    server = hostile_server
    good_http = json.dumps({"image_b64": base64.b64encode(jpeg(frame())).decode(), "instruction": "pick"})
    good_ws = packb({"image": frame(), "instruction": "pick", "seq": -1})
    robot = httpx.post(f"{server.url}/v1/robots", json={"control_hz": 20.0, "image_size": 64}, timeout=60)
    assert robot.status_code == 201, robot.text
    sid = robot.json()["id"]
    url = f"{server.ws_url}/v1/robots/{sid}/stream?role=controller"
    try:
        with (
            connect(f"{server.ws_url}/v1/policy/stream", max_size=None, open_timeout=10) as ws,
            connect(url, max_size=None, open_timeout=10) as robot_ws,
        ):
            assert unpackb(ws.recv(timeout=10))["type"] == "metadata"
            ctl = Controller(robot_ws)
            try:
                assert ctl.recv(10)["type"] == "session"
                # Warm up every path once before the baseline (first calls allocate caches).
                assert http_predict(server, good_http.encode()).status_code == 200
                ws.send(good_ws)
                assert unpackb(ws.recv(timeout=30))["type"] == "actions"
                assert ctl.command({"type": "prompt", "instruction": "pick"})["type"] == "ack"
                assert ctl.command({"type": "go"})["type"] == "ack"
                assert ctl.outcome(60) == "acted"
                assert ctl.command({"type": "stop"})["type"] == "ack"
                baseline = rss()

                channels = {"http": 0, "ws": 0, "robot": 0}
                for case in CASES:
                    body = http_body(case)
                    if body is not None:
                        channels["http"] += 1
                        assert_typed_http(case, http_predict(server, body))
                    payload = ws_frame(case)
                    if payload is not None:
                        channels["ws"] += 1
                        ws.send(payload)
                        t0 = time.monotonic()
                        msg = unpackb(ws.recv(timeout=ANSWER_S))
                        assert time.monotonic() - t0 <= ANSWER_S
                        assert_answered(case, msg)
                    command = robot_prompt(case)
                    if command is not None:
                        channels["robot"] += 1
                        answer = ctl.command(command)
                        if answer["type"] == "error":
                            assert answer["error"]["code"] != "internal", f"{case.name}: {answer}"
                            assert not case.ok, f"{case.name}: a valid prompt was refused: {answer}"
                            continue
                        assert ctl.command({"type": "go"})["type"] == "ack", case.name
                        outcome = ctl.outcome(ANSWER_S)  # the loop acts, or stops with an error, in time
                        assert outcome == "acted" or not case.ok, f"{case.name}: the robot stopped"
                        assert ctl.command({"type": "stop"})["type"] == "ack", case.name
                assert all(channels.values()), channels

                # Still serving, on every channel, right after.
                r = http_predict(server, good_http.encode())
                assert r.status_code == 200 and len(r.json()["actions"][0]) == 7
                ws.send(good_ws)
                reply = unpackb(ws.recv(timeout=30))
                assert reply["type"] == "actions" and reply["seq"] == -1
                assert ctl.command({"type": "prompt", "instruction": "pick"})["type"] == "ack"
                assert ctl.command({"type": "go"})["type"] == "ack"
                assert ctl.outcome(60) == "acted"
                assert ctl.command({"type": "stop"})["type"] == "ack"
                grown = rss() - baseline
                assert grown <= 0.10 * baseline, (
                    f"RSS grew {grown / 2**20:.0f} MiB over {baseline / 2**20:.0f}"
                )
            finally:
                ctl.stop.set()
                ctl.beat.join()
    finally:
        httpx.delete(f"{server.url}/v1/robots/{sid}", timeout=30)
