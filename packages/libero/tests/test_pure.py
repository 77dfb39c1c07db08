"""The harness's pure modules against the project's own implementations they re-create (LIBERO's
environment cannot import pixelvla, so these run in the project's .venv and compare)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pixelvla import prompts as P
from pixelvla import rle as project_rle
from pixelvla_libero import protocol, report, rle
from pixelvla_libero.errors import LiberoError, TaskError
from pixelvla_libero.harness import _pin_run, parse_indices
from pixelvla_libero.prompts import sample_prompts, select
from pixelvla_libero.targets import target_from_problem


@pytest.mark.parametrize("seed", range(6))
def test_rle_strings_equal_pixelvla_rle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    mask = rng.random((h, w)) < rng.random()
    if seed == 0:
        mask[:] = False
    if seed == 1:
        mask[:] = True
    assert rle.encode(mask) == project_rle.encode(mask)
    assert np.array_equal(project_rle.decode(rle.encode(mask)), mask)


def _blob(h: int = 64, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - 30) ** 2 / 64 + (xx - 20) ** 2 / 36 <= 1.0


def test_prompts_are_valid_prompt_json_inside_the_mask() -> None:
    mask = _blob()
    prompts = sample_prompts(mask, np.random.default_rng(3))
    parsed = P.prompts_from_json(prompts)  # the server's own validation
    P.featurize(parsed)
    kinds = [p["type"] for p in prompts]
    assert kinds[-3:] == ["line", "box", "mask"] and 1 <= kinds.count("point") <= 3
    h, w = mask.shape
    for p in prompts:
        if p["type"] == "point":
            assert mask[int(p["y"] * h), int(p["x"] * w)]
        if p["type"] == "box":
            assert (p["x0"], p["y0"], p["x1"], p["y1"]) == (14 / 64, 22 / 64, 27 / 64, 39 / 64)
        if p["type"] == "mask":
            assert np.array_equal(project_rle.decode(p["rle"]), mask)
    chosen, masks = select(prompts, "mask")
    assert [c["type"] for c in chosen] == ["mask"] and masks == [prompts[-1]["rle"]]
    assert select(prompts, "none") == ([], [])
    assert select(prompts, "box")[1] == []


SPATIAL = {
    "objects": {"akita_black_bowl": ["akita_black_bowl_1", "akita_black_bowl_2"], "plate": ["plate_1"]},
    "fixtures": {"table": ["main_table"], "wooden_cabinet": ["wooden_cabinet_1"]},
    "goal_state": [["On", "akita_black_bowl_1", "plate_1"]],
}


def test_targets_from_the_bddl_goal() -> None:
    assert target_from_problem(SPATIAL).name == "akita_black_bowl_1"
    drawer = {**SPATIAL, "goal_state": [["Open", "wooden_cabinet_1_middle_region"]]}
    t = target_from_problem(drawer)
    assert (t.name, t.kind) == ("wooden_cabinet_1", "fixture")
    # libero_10 task 3 lists the fixture predicate first; the object to move still wins
    both = {
        **SPATIAL,
        "goal_state": [["Close", "wooden_cabinet_1_bottom_region"], ["In", "akita_black_bowl_2", "x"]],
    }
    assert target_from_problem(both).name == "akita_black_bowl_2"
    with pytest.raises(TaskError):
        target_from_problem({**SPATIAL, "goal_state": [["Open", "nothing_here"]]})


def test_protocol_state_gripper_and_limits() -> None:
    assert protocol.MAX_STEPS == {
        "libero_spatial": 220,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
    }
    assert np.allclose(protocol.quat_to_axis_angle(np.array([0.0, 0.0, 0.0, 1.0])), 0.0)
    s = math.sin(math.pi / 4)
    assert np.allclose(protocol.quat_to_axis_angle(np.array([0.0, 0.0, s, s])), [0.0, 0.0, math.pi / 2])
    obs = {
        "robot0_eef_pos": np.array([0.1, 0.2, 0.3]),
        "robot0_eef_quat": np.array([1.0, 0.0, 0.0, 0.0]),
        "robot0_gripper_qpos": np.array([0.04, -0.04]),
    }
    assert np.allclose(protocol.state_vector(obs), [0.1, 0.2, 0.3, math.pi, 0.0, 0.0, 0.04, -0.04])
    assert protocol.env_gripper(0.3, "libero") == 1.0 and protocol.env_gripper(-0.3, "libero") == -1.0
    # OpenVLA: 1 = open -> -1 in the environment; 0 = close -> +1
    assert protocol.env_gripper(1.0, "openvla") == -1.0 and protocol.env_gripper(0.0, "openvla") == 1.0
    assert protocol.env_gripper(0.6, "unit") == 1.0 and protocol.env_gripper(0.4, "unit") == -1.0
    assert protocol.env_action(np.array([2.0, -3, 0, 0, 0, 0.5, -1]), "libero") == [
        1.0,
        -1.0,
        0,
        0,
        0,
        0.5,
        -1.0,
    ]
    with pytest.raises(TaskError):
        protocol.env_action(np.array([np.nan] * 7), "libero")
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(protocol.policy_image(img)[0, 0], img[1, 1])


def test_index_ranges_and_run_pinning(tmp_path: Path) -> None:
    assert parse_indices(["0", "3-5", "9,1"], 10, "--tasks") == (0, 1, 3, 4, 5, 9)
    assert parse_indices(None, 10, "--tasks") is None
    for bad in (["10"], ["a"], ["5-3"]):
        with pytest.raises(TaskError):
            parse_indices(bad, 10, "--tasks")
    _pin_run(tmp_path, {"model_id": "a", "prompt_type": "mask"})
    _pin_run(tmp_path, {"model_id": "a", "prompt_type": "mask"})  # same: fine
    with pytest.raises(LiberoError) as e:
        _pin_run(tmp_path, {"model_id": "b", "prompt_type": "mask"})
    assert e.value.code == "run_mismatch"


def _rec(suite: str, task: int, init: int, ok: bool) -> dict[str, object]:
    return {
        "suite": suite,
        "task_id": task,
        "init_state": init,
        "success": ok,
        "steps": 10,
        "task": "t",
        "wall_s": 1.0,
    }


def test_report_per_task_per_suite_and_the_paper_table(tmp_path: Path) -> None:
    lines = [json.dumps(_rec("libero_spatial", t, i, (t + i) % 2 == 0)) for t in range(2) for i in range(3)]
    (tmp_path / "episodes.jsonl").write_text("\n".join(lines) + '\n{"suite": "libero_spat', encoding="utf-8")
    js, md = report.write_reports(tmp_path, model="m")
    summary = json.loads(js.read_text())
    sp = summary["suites"]["libero_spatial"]
    assert (sp["n"], sp["successes"], sp["complete"]) == (6, 3, False)
    assert sp["tasks"]["0"]["successes"] == 2 and sp["tasks"]["1"]["successes"] == 1
    text = md.read_text()
    assert "| PixelVLA `m` (measured) | 50.0 (6 ep.) | — | — | — | — |" in text
    assert "| OpenVLA (paper) | 84.7 | 88.4 | 79.2 | 53.7 | 76.5 |" in text
    full = [_rec(s, t, i, True) for s in protocol.SUITES for t in range(10) for i in range(50)]
    table = report.markdown(report.summarize(full), model="m")
    assert "| PixelVLA `m` (measured) | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |" in table
