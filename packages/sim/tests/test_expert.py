"""The scripted expert succeeds on every task, with and without noise."""

from __future__ import annotations

import numpy as np
import pytest
from pixelvla_sim.expert import rollout
from pixelvla_sim.robot import SimRobot
from pixelvla_sim.tasks import TASKS

SEEDS = range(20)


@pytest.mark.parametrize("task", TASKS)
def test_expert_success_rate_is_at_least_95_percent(task: str) -> None:
    robot = SimRobot(cameras=())  # physics only: success does not depend on rendering
    try:
        results = []
        for seed in SEEDS:
            # Half the seeds with noise, so robustness to perturbation is part of the claim.
            noise = 0.004 if seed % 2 else 0.0
            trace = rollout(robot, 1000 + seed, task, noise=noise, record_images=False)
            results.append(trace.success)
            assert robot.success() == trace.success
    finally:
        robot.close()
    rate = float(np.mean(results))
    assert rate >= 0.95, f"{task}: expert success {rate:.0%}"


def test_success_check_rejects_unfinished_work() -> None:
    robot = SimRobot(cameras=())
    try:
        robot.reset(5, "pick")
        assert not robot.success()  # nothing lifted yet
        robot.reset(5, "place")
        trace = rollout(robot, 5, "place", record_images=False, max_steps=12)
        assert not trace.success  # cut off mid-way: the object is not in the container
    finally:
        robot.close()


def test_actions_respect_the_control_limits() -> None:
    robot = SimRobot(cameras=())
    try:
        trace = rollout(robot, 3, "place", noise=0.004, record_images=False)
        actions = np.stack(trace.actions)
        assert np.all(np.abs(actions[:, :3]) <= robot.max_step_linear + 1e-6)
        assert np.all(np.abs(actions[:, 3:6]) <= robot.max_step_angular + 1e-6)
        assert set(np.unique(actions[:, 6])) <= {0.0, 1.0}
    finally:
        robot.close()


@pytest.mark.parametrize("task", ["pick", "place_ambiguous"])
def test_a_slower_expert_still_succeeds_and_spends_more_frames_approaching(task: str) -> None:
    robot = SimRobot(cameras=())
    try:
        fast, slow = [], []
        for seed in range(6):
            full = rollout(robot, 2000 + seed, task, record_images=False)
            part = rollout(robot, 2000 + seed, task, record_images=False, speed=0.4)
            assert full.success and part.success, seed
            moves = np.abs(np.stack(part.actions)[:, :3])
            assert moves.max() <= 0.4 * robot.max_step_linear + 1e-6
            # Frames before the first gripper close: the approach and descent a policy learns from.
            fast.append(int(np.argmax(np.stack(full.actions)[:, 6] > 0.5)))
            slow.append(int(np.argmax(np.stack(part.actions)[:, 6] > 0.5)))
        assert np.mean(slow) >= 1.8 * np.mean(fast), (fast, slow)  # measured: ~2x
    finally:
        robot.close()
    with pytest.raises(ValueError, match="expert speed"):
        rollout(robot, 0, "pick", record_images=False, speed=0.0)
