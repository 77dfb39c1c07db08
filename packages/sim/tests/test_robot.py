"""The robot interface: determinism, limits, typed errors, cameras."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from pixelvla.errors import PixelVLAError
from pixelvla_sim import scene as sc
from pixelvla_sim.errors import ActionError, RobotStateError, SeedError, TaskError
from pixelvla_sim.expert import ScriptedExpert
from pixelvla_sim.robot import SimRobot
from pixelvla_sim.tasks import TASKS, sample_episode


@pytest.fixture(scope="module")
def robot() -> Iterator[SimRobot]:
    r = SimRobot(image_size=96)
    yield r
    r.close()


def _run(robot: SimRobot, seed: int, task: str, steps: int) -> tuple[np.ndarray, list[np.ndarray]]:
    obs = robot.reset(seed, task)
    expert = ScriptedExpert(robot)
    frames = [obs["images"]["front"], obs["images"]["wrist"]]
    for _ in range(steps):
        robot.act(expert.action())
    obs = robot.observe()
    frames += [obs["images"]["front"], obs["images"]["wrist"]]
    return robot.sim_state(), frames


def test_same_seed_gives_identical_state_and_frames(robot: SimRobot) -> None:
    state_a, frames_a = _run(robot, 11, "place", 12)
    state_b, frames_b = _run(robot, 11, "place", 12)
    assert np.array_equal(state_a, state_b)
    for fa, fb in zip(frames_a, frames_b, strict=True):
        assert np.array_equal(fa, fb)
    # A second robot (its own GL context) renders the very same pixels.
    other = SimRobot(image_size=96)
    try:
        state_c, frames_c = _run(other, 11, "place", 12)
    finally:
        other.close()
    assert np.array_equal(state_a, state_c)
    assert all(np.array_equal(a, c) for a, c in zip(frames_a, frames_c, strict=True))


def test_different_seeds_give_different_scenes() -> None:
    scenes = {repr(sample_episode(s, "pick")[0]) for s in range(10)}
    assert len(scenes) == 10


def test_scenes_follow_the_task_rules() -> None:
    for seed in range(40):
        for task in TASKS:
            scene, spec = sample_episode(seed, task)
            assert 3 <= len(scene.objects) <= 6
            kinds = [o.kind for o in scene.objects]
            assert any(kinds.count(k) >= 2 for k in kinds), "every scene has a duplicated kind"
            target = scene.object(spec.target)
            same_kind = [o for o in scene.objects if o.kind == target.kind]
            same_desc = [o for o in scene.objects if o.description == target.description]
            assert len(same_desc) == 1, "colour + kind always names one object"
            if spec.ambiguous:
                assert len(same_kind) >= 2
                assert target.colour not in spec.instruction
            else:
                assert target.description in spec.instruction
            assert (spec.container is not None) == task.startswith("place")


def test_observation_contract(robot: SimRobot) -> None:
    obs = robot.reset(3, "pick")
    assert set(obs["images"]) == {"front", "wrist"}
    for img in obs["images"].values():
        assert img.dtype == np.uint8 and img.shape == (96, 96, 3)
        assert img.std() > 5  # a real render, not a blank buffer
    assert obs["state"].dtype == np.float32 and obs["state"].shape == (8,)
    assert obs["t"] == 0.0
    assert isinstance(robot.instruction, str) and robot.instruction.startswith("pick up the")
    robot.act(np.zeros(7, dtype=np.float32))
    assert robot.observe()["t"] == pytest.approx(0.1)


def test_oversized_actions_are_clipped_to_speed_limits(robot: SimRobot) -> None:
    robot.reset(0, "pick")
    before = robot.state()
    applied = robot.act(np.array([0.9, -0.9, 0.5, 3.0, -3.0, 3.0, 1.7]))
    after = robot.state()
    step, rot = robot.max_step_linear, robot.max_step_angular
    np.testing.assert_allclose(after[:3] - before[:3], [step, -step, step], atol=1e-6)
    np.testing.assert_allclose(after[3:6] - before[3:6], [rot, -rot, rot], atol=1e-6)
    assert after[6] == 1.0
    np.testing.assert_allclose(applied, [step, -step, step, rot, -rot, rot, 1.0], atol=1e-6)


def test_workspace_and_tilt_bounds_hold(robot: SimRobot) -> None:
    robot.reset(0, "pick")
    for _ in range(30):
        robot.act(np.array([1, 1, -1, 1, 1, 0, -1.0]))
    s = robot.state()
    assert np.all(s[:3] >= sc.WORKSPACE_LOW - 1e-6) and np.all(s[:3] <= sc.WORKSPACE_HIGH + 1e-6)
    assert s[0] == pytest.approx(sc.WORKSPACE_HIGH[0]) and s[2] == pytest.approx(sc.WORKSPACE_LOW[2])
    assert abs(s[3]) <= sc.TILT_LIMIT + 1e-6 and abs(s[4]) <= sc.TILT_LIMIT + 1e-6
    assert s[6] == 0.0
    # The fingertips never go through the table.
    assert robot.grasp_point()[2] - sc.FINGER_HALF[2] > -0.002


@pytest.mark.parametrize(
    "bad",
    [
        [np.nan, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, np.inf],
        [0, 0, 0],
        [[0] * 7],
        "forward",
        None,
        [5.0, 0, 0, 0, 0, 0, 0],  # metres per step: a units bug, not a fast move
        [0, 0, 0, 0, 0, -7.0, 0],
        [0, 0, 0, 0, 0, 0, 255.0],
    ],
)
def test_invalid_actions_raise_and_leave_the_robot_untouched(robot: SimRobot, bad: object) -> None:
    robot.reset(0, "pick")
    before = robot.sim_state()
    with pytest.raises(ActionError) as info:
        robot.act(bad)
    assert info.value.code == "invalid_action"
    assert np.array_equal(robot.sim_state(), before)


def test_unknown_task_and_bad_seeds_are_typed_errors(robot: SimRobot) -> None:
    with pytest.raises(TaskError, match="unknown task 'juggle'"):
        robot.reset(0, "juggle")
    for seed in (1.5, "7", True, -1, 2**64, None):
        with pytest.raises(SeedError) as info:
            robot.reset(seed, "pick")  # type: ignore[arg-type]
        assert isinstance(info.value, PixelVLAError) and info.value.code == "invalid_seed"
    robot.reset(np.int64(5), "pick")  # type: ignore[arg-type]  # numpy integers are fine too


def test_use_before_reset_is_a_typed_error() -> None:
    r = SimRobot(image_size=32)
    with pytest.raises(RobotStateError):
        r.observe()
    with pytest.raises(RobotStateError):
        r.act(np.zeros(7))
    r.stop()  # stopping an idle robot is always allowed
    r.close()


def test_stop_holds_the_pose(robot: SimRobot) -> None:
    robot.reset(2, "pick")
    robot.act(np.array([0.02, 0.0, -0.02, 0, 0, 0.1, 1.0]))
    before = robot.state()
    robot.stop()
    after = robot.state()
    np.testing.assert_allclose(after[:7], before[:7], atol=1e-7)


def test_tool_center_matches_the_fingers(robot: SimRobot) -> None:
    from pixelvla_sim.robot import euler_to_quat, tool_center

    robot.reset(6, "pick")
    for action in ([0.02, 0.01, -0.03, 0.2, -0.1, 0.25, 0], [0, 0, 0, 0.1, 0.2, -0.2, 0]):
        robot.act(np.array(action))
        robot.stop()
        # The commanded TCP and the measured one agree (the weld lags by millimetres at most).
        tcp = tool_center(robot.state())
        assert np.linalg.norm(tcp - robot.grasp_point()) < 0.004
    w, x, y, z = euler_to_quat(0.0, 0.0, np.pi / 2)
    np.testing.assert_allclose([w, x, y, z], [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)], atol=1e-12)
    states = np.stack([robot.state()] * 3)
    assert tool_center(states).shape == (3, 3)


def test_camera_model_projects_objects_onto_their_pixels(robot: SimRobot) -> None:
    robot.reset(4, "pick")
    cam = robot.camera("front")
    assert cam.intrinsics.shape == (3, 3) and cam.world_to_camera.shape == (4, 4)
    assert (cam.width, cam.height) == (96, 96)
    np.testing.assert_allclose(
        cam.world_to_camera[:3, :3] @ cam.world_to_camera[:3, :3].T, np.eye(3), atol=1e-9
    )
    seg = robot.segmentation("front")
    hits = 0
    for name, pos in robot.object_positions().items():
        u, v = cam.project(pos[None])[0]
        if 0 <= u < 96 and 0 <= v < 96:
            hits += 1
            assert seg[int(v), int(u)] == robot.object_geom_id(name), name
    assert hits >= 3
    # The wrist camera moves with the hand.
    w0 = robot.camera("wrist").world_to_camera.copy()
    robot.act(np.array([0.03, 0, 0, 0, 0, 0, 0]))
    assert not np.allclose(robot.camera("wrist").world_to_camera, w0)
    with pytest.raises(RobotStateError):
        robot.camera("ceiling")


def test_camera_jitter_moves_only_the_front_camera_per_seed() -> None:
    fixed, spec = sample_episode(7, "pick")
    assert fixed.front_camera == (sc.FRONT_CAMERA_POS, sc.FRONT_CAMERA_TARGET)
    jittered, spec_j = sample_episode(7, "pick", camera_jitter=0.05)
    # The layout and the task are the fixed camera's scene for that seed; only the camera moved.
    assert jittered.objects == fixed.objects and jittered.containers == fixed.containers and spec_j == spec
    assert jittered.front_camera != fixed.front_camera
    assert sample_episode(7, "pick", camera_jitter=0.05) == (jittered, spec_j)  # deterministic
    pos, target = jittered.front_camera
    assert np.all(np.abs(np.subtract(pos, sc.FRONT_CAMERA_POS)) <= 0.05)
    assert np.all(np.abs(np.subtract(target[:2], sc.FRONT_CAMERA_TARGET[:2])) <= 0.05) and target[2] == 0.0
    cams = {sample_episode(s, "pick", camera_jitter=0.05)[0].front_camera for s in range(10)}
    assert len(cams) == 10
    for bad in (-0.01, 0.5, float("nan"), "0.05", True):
        with pytest.raises(ValueError, match="camera_jitter"):
            sample_episode(7, "pick", camera_jitter=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="camera_jitter"):
        SimRobot(image_size=32, camera_jitter=1.0)


def test_a_jittered_camera_is_rendered_and_projected_where_it_is(robot: SimRobot) -> None:
    jit = SimRobot(image_size=96, camera_jitter=0.05)
    try:
        a = robot.reset(4, "pick")["images"]["front"]
        b = jit.reset(4, "pick")["images"]["front"]
        assert not np.array_equal(a, b)
        assert np.allclose(
            jit.object_positions()[jit.task.target], robot.object_positions()[robot.task.target]
        )
        cam, seg = jit.camera("front"), jit.segmentation("front")
        assert not np.allclose(cam.world_to_camera, robot.camera("front").world_to_camera)
        hits = 0
        for name, pos in jit.object_positions().items():
            u, v = cam.project(pos[None])[0]
            if 0 <= u < 96 and 0 <= v < 96:
                hits += 1
                assert seg[int(v), int(u)] == jit.object_geom_id(name), name
        assert hits >= 3
    finally:
        jit.close()
