"""`npm start` prints the studio's URLs only once the server answers: scripts/wait-server.sh polls
/healthz and says what it waits for; a server that exits or never answers is a clear error, not a
silent time-out followed by URLs that answer 502."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WAIT = ROOT / "scripts" / "wait-server.sh"
START = ROOT / "scripts" / "start.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_script(url: str, pid: int, limit: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(WAIT), "GPU server", url, str(pid), str(limit)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def test_returns_only_once_the_server_answers(tmp_path):
    port = free_port()
    go = tmp_path / "go"
    # A server that binds only when told to: the script must still be waiting until then.
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import http.server, os, sys, time\n"
            "while not os.path.exists(sys.argv[1]): time.sleep(0.02)\n"
            "http.server.HTTPServer(('127.0.0.1', int(sys.argv[2])), http.server.SimpleHTTPRequestHandler)"
            ".serve_forever()",
            str(go),
            str(port),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        w = wait_script(f"http://127.0.0.1:{port}/", server.pid, 120)
        assert w.stderr is not None
        first = w.stderr.readline()
        assert "waiting for the GPU server" in first
        assert w.poll() is None  # nothing answers yet
        go.touch()
        rest = w.stderr.read()
        assert w.wait(timeout=60) == 0
        assert "GPU server answers" in rest
    finally:
        server.kill()
        server.wait()


def test_a_server_that_exits_is_named(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    w = wait_script(f"http://127.0.0.1:{free_port()}/healthz", dead.pid, 120)
    _, err = w.communicate(timeout=60)
    assert w.returncode == 1
    assert "exited before it answered" in err


def test_a_server_that_never_answers_times_out_with_a_message():
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        w = wait_script(f"http://127.0.0.1:{free_port()}/healthz", alive.pid, 2)
        _, err = w.communicate(timeout=60)
        assert w.returncode == 1
        assert "did not answer" in err and "within 2 s" in err and "PIXELVLA_START_TIMEOUT" in err
    finally:
        alive.kill()
        alive.wait()


def test_start_prints_the_urls_after_the_wait():
    text = START.read_text()
    waits = text.index("wait-server.sh")
    assert text.index("PixelVLA Studio:  http") > waits
    assert "seq 1 120" not in text  # no fixed number of tries that runs out silently
