"""The real, unmodified openpi client (openpi-client on PyPI) against a live server.

openpi-client pins numpy < 2, so it runs in its own side environment (scripts/openpi-client.sh builds
var/openpi-venv from a hash-locked requirements file the first time; later runs reuse it). Each test
runs a small client program in that environment and reads back what the client saw, as JSON.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pixelvla_server.config import Settings
from pixelvla_server.live import LiveServer, serve, wait_model

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "openpi-client.sh"
# A guard against a hung client, not a measure of speed: one tiny-model inference takes well under 1 s.
HANG_S = 300

# Uses openpi-client exactly as its README and openpi's examples do: the default constructor (no path:
# ws://host:port), observations with openpi's keys, infer() -> {"actions": (N, 7)}, and the runtime loop.
CLIENT = r'''
import json, sys
import numpy as np
from openpi_client import action_chunk_broker, websocket_client_policy
from openpi_client.runtime import environment, runtime
from openpi_client.runtime.agents import policy_agent

port, api_key, steps = int(sys.argv[1]), sys.argv[2] or None, int(sys.argv[3])
rng = np.random.default_rng(0)

def observation():
    return {
        "observation/image": rng.integers(0, 255, (224, 224, 3), dtype=np.uint8),
        "observation/wrist_image": rng.integers(0, 255, (224, 224, 3), dtype=np.uint8),
        "observation/state": rng.standard_normal(8).astype(np.float32),
        "prompt": "pick up the red cube",
    }

try:
    policy = websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port, api_key=api_key)
    meta = policy.get_server_metadata()
    out = policy.infer(observation())
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "detail": str(exc)}))
    sys.exit(0)
actions = out["actions"]
report = {
    "metadata": {k: v for k, v in meta.items() if isinstance(v, (str, int, float, type(None)))},
    "actions_type": type(actions).__name__,
    "actions_shape": list(getattr(actions, "shape", [])),
    "actions_dtype": str(getattr(actions, "dtype", "")),
    "finite": bool(np.isfinite(actions).all()) if isinstance(actions, np.ndarray) else False,
}

class FakeEnv(environment.Environment):
    """A robot that only records the actions it is given."""
    def __init__(self):
        self.applied = []
        self.resets = 0
    def reset(self):
        self.resets += 1
    def is_episode_complete(self):
        return False
    def get_observation(self):
        return observation()
    def apply_action(self, action):
        self.applied.append(action)

if steps:
    env = FakeEnv()
    broker = action_chunk_broker.ActionChunkBroker(policy, action_horizon=int(meta["chunk_size"]))
    runtime.Runtime(env, policy_agent.PolicyAgent(broker), [], max_episode_steps=steps).run()
    report["runtime_steps"] = len(env.applied)
    report["runtime_action_shapes"] = sorted({tuple(a["actions"].shape) for a in env.applied})
    report["runtime_resets"] = env.resets
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def openpi_python() -> Path:
    """The side environment's python, built by the project's script when missing (cached after)."""
    done = subprocess.run(["bash", str(SCRIPT), "venv"], capture_output=True, text=True, timeout=HANG_S)
    if done.returncode != 0:
        pytest.fail(f"scripts/openpi-client.sh venv failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return ROOT / "var" / "openpi-venv" / "bin" / "python"


def run_client(python: Path, tmp_path: Path, server: LiveServer, api_key: str = "", steps: int = 0) -> Any:
    program = tmp_path / "openpi_client_check.py"
    program.write_text(CLIENT)
    port = server.url.rsplit(":", 1)[1]
    done = subprocess.run(
        [str(python), str(program), port, api_key, str(steps)],
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines, f"the client printed nothing; stderr:\n{done.stderr[-3000:]}"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, models_root: Path) -> Iterator[LiveServer]:
    settings = Settings(
        device="cpu",
        data_dir=tmp_path_factory.mktemp("data"),
        models_dir=models_root,
        model="tiny-a",
        api_token="s3cret",
    )
    with serve(settings) as server:
        wait_model(server.app)
        yield server


def test_default_constructor_infer_returns_action_arrays(openpi_python, tmp_path, live):
    report = run_client(openpi_python, tmp_path, live)
    assert "error" not in report, report
    meta = report["metadata"]
    assert meta["type"] == "metadata" and meta["id"] == "tiny-a" and meta["action_dim"] == 7
    assert report["actions_type"] == "ndarray"
    assert report["actions_shape"] == [meta["chunk_size"], 7]
    assert report["actions_dtype"] == "float32" and report["finite"]


def test_runtime_loop_drives_a_fake_robot(openpi_python, tmp_path, live):
    chunk = int(live.app.state.studio.policy.current.metadata["chunk_size"])
    steps = chunk + 2  # past one chunk: the broker must ask the server again
    report = run_client(openpi_python, tmp_path, live, steps=steps)
    assert "error" not in report, report
    # openpi-client 0.1.2 checks max_episode_steps before counting the step it just ran: one more step.
    assert report["runtime_steps"] == steps + 1
    assert report["runtime_action_shapes"] == [[7]]
    assert report["runtime_resets"] == 2  # openpi resets before the episode and once at the end


def test_api_key_is_the_api_token(openpi_python, tmp_path, token_server):
    report = run_client(openpi_python, tmp_path, token_server, api_key="s3cret")
    assert "error" not in report, report
    assert report["actions_shape"] == [report["metadata"]["chunk_size"], 7]
    for wrong in ("", "nope"):
        refused = run_client(openpi_python, tmp_path, token_server, api_key=wrong)
        assert refused.get("error") == "ConnectionClosedError", refused
        assert "1008" in refused["detail"], refused
