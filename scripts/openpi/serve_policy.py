"""openpi's own server (openpi-server's WebsocketPolicyServer, unmodified) serving a pixelvla bundle.

Runs in the openpi bench side environment (scripts/openpi/bench-venv.sh: numpy < 2, openpi-server,
torch), with packages/model on PYTHONPATH, so the policy is the very `pixelvla.policy.Policy` our
server runs. The adapter is what an openpi policy is: `infer(obs) -> {"actions", "policy_timing"}`,
with openpi's observation keys; `policy_timing.infer_ms` is the wall time of `Policy.predict`, the
same quantity our server reports as `timing_ms.forward`, so the bench can take it off both round
trips and compare what is left (the serving overhead).

    python serve_policy.py BUNDLE_DIR PORT
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from openpi_client import base_policy
from openpi_server import WebsocketPolicyServer
from pixelvla.policy import Observation, Policy


class PixelVLAOpenpiPolicy(base_policy.BasePolicy):
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def infer(self, obs: dict[str, Any]) -> dict[str, Any]:
        state = obs.get("observation/state")
        observation = Observation(
            image=np.asarray(obs["observation/image"]),
            instruction=str(obs["prompt"]),
            state=None if state is None else np.asarray(state, np.float32),
        )
        t0 = time.perf_counter()
        pred = self.policy.predict(observation)
        infer_ms = (time.perf_counter() - t0) * 1000.0
        return {"actions": pred.actions, "policy_timing": {"infer_ms": infer_ms}}


def main() -> None:
    bundle, port = sys.argv[1], int(sys.argv[2])
    policy = Policy.load(bundle, "cpu")
    size = policy.config.vision.image_size
    policy.predict(Observation(np.zeros((size, size, 3), np.uint8), "warm up"))
    meta = {k: v for k, v in policy.metadata.items() if isinstance(v, (str, int, float, bool, type(None)))}
    print(f"serving {meta['model_id'][:12]} on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    WebsocketPolicyServer(
        PixelVLAOpenpiPolicy(policy), host="127.0.0.1", port=port, metadata=meta
    ).serve_forever()


if __name__ == "__main__":
    main()
