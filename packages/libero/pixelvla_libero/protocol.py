"""The official LIBERO evaluation protocol, as LIBERO's and OpenVLA's evaluation scripts run it.

- Suites and episode limits: libero_spatial 220, libero_object 280, libero_goal 300, libero_10 520
  policy steps (each a little over the suite's longest training demonstration), after
  ``SETTLE_STEPS`` = 10 steps of the dummy action (arm still, gripper open) while the objects that
  the simulator drops at reset come to rest.
- Initial states: the suite's 50 fixed states per task, applied with ``env.set_init_state`` after
  ``env.reset()``; the environment is seeded with 0 (upstream notes that the seed still affects
  object placement).
- Success: the step's ``done``, i.e. ``env.check_success()`` of the BDDL goal; the episode ends there.
- Observation: the agentview camera rotated 180 degrees (LIBERO renders it upside down and mirrored;
  OpenVLA's training data was flipped the same way); the 8-D state is end-effector position (3),
  end-effector orientation as axis-angle (3) and the two gripper finger joints (2).
- Action: 7-D delta end-effector (OSC_POSE: dx dy dz droll dpitch dyaw gripper) with the gripper
  -1 = open, +1 = close. Policies speak one of ``GRIPPER_CONVENTIONS``; ``env_gripper`` maps
  theirs to the environment's and binarises it, as OpenVLA does.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np

from .errors import TaskError

SUITES: Final = ("libero_spatial", "libero_object", "libero_goal", "libero_10")
MAX_STEPS: Final = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520}
SETTLE_STEPS: Final = 10
INIT_STATES_PER_TASK: Final = 50
ENV_SEED: Final = 0
DUMMY_ACTION: Final = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)
STATE_NAMES: Final = (
    "eef_x",
    "eef_y",
    "eef_z",
    "eef_ax",
    "eef_ay",
    "eef_az",
    "gripper_qpos_l",
    "gripper_qpos_r",
)
ACTION_NAMES: Final = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")

GripperConvention = Literal["libero", "openvla", "unit"]
# libero:  the environment's own: -1 open, +1 close (what our LIBERO datasets store).
# openvla: OpenVLA's LIBERO checkpoints: [0, 1] with 1 = open (its dataloader flips the sign), so
#          2a - 1, then inverted.
# unit:    the project's tabletop sim: [0, 1] with >= 0.5 = close.
GRIPPER_CONVENTIONS: Final = ("libero", "openvla", "unit")


def check_suite(suite: str) -> str:
    if suite not in MAX_STEPS:
        raise TaskError(
            f"unknown LIBERO suite {suite!r}; expected one of {', '.join(SUITES)}", "unknown_suite"
        )
    return suite


def quat_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """(x, y, z, w) quaternion -> axis * angle, robosuite's formula (angle in [0, 2 pi))."""
    q = np.asarray(quat, dtype=np.float64)
    w = min(1.0, max(-1.0, float(q[3])))
    den = math.sqrt(1.0 - w * w)
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return q[:3] * (2.0 * math.acos(w)) / den


def state_vector(obs: dict[str, np.ndarray]) -> np.ndarray:
    """The 8-D proprioceptive state OpenVLA(-OFT) feeds its policies, float32."""
    return np.concatenate(
        [
            np.asarray(obs["robot0_eef_pos"], np.float64),
            quat_to_axis_angle(obs["robot0_eef_quat"]),
            np.asarray(obs["robot0_gripper_qpos"], np.float64),
        ]
    ).astype(np.float32)


def policy_image(raw: np.ndarray) -> np.ndarray:
    """LIBERO's raw agentview frame (upside down and mirrored) -> the upright image, rotated 180."""
    return np.ascontiguousarray(raw[::-1, ::-1])


def env_gripper(value: float, convention: GripperConvention) -> float:
    """A policy's gripper command -> the environment's binary -1 (open) / +1 (close)."""
    v = float(value)
    if not math.isfinite(v):
        raise TaskError(f"the policy's gripper command is not finite: {v}", "invalid_action")
    if convention == "libero":
        return 1.0 if v > 0.0 else -1.0
    if convention == "openvla":
        return -(1.0 if 2.0 * v - 1.0 > 0.0 else -1.0)
    if convention == "unit":
        return 1.0 if v >= 0.5 else -1.0
    raise TaskError(f"unknown gripper convention {convention!r}; expected {', '.join(GRIPPER_CONVENTIONS)}")


def env_action(action: np.ndarray, convention: GripperConvention) -> list[float]:
    """One row of the policy's chunk -> the 7 floats ``env.step`` takes (arm deltas clipped to
    OSC_POSE's [-1, 1] input range, gripper binarised)."""
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (7,) or not np.isfinite(a).all():
        raise TaskError(f"the policy must return finite 7-D actions, got shape {a.shape}", "invalid_action")
    arm = np.clip(a[:6], -1.0, 1.0)
    return [*(float(x) for x in arm), env_gripper(a[6], convention)]
