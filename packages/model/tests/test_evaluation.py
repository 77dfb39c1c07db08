"""Closed-loop evaluation in the simulator: deterministic, per-type prompt selection, typed errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pixelvla import prompts as P
from pixelvla import rle
from pixelvla.checkpoint import make_random_tiny_bundle
from pixelvla.evaluation import EvalConfig, EvaluationError, evaluate, select_prompts, write_report
from pixelvla.pixel_encoder import derive_pixel_mask
from pixelvla.policy import Observation, Policy


def test_select_prompts_keeps_one_type_and_masks_travel_with_mask_prompts():
    m = np.zeros((8, 8), bool)
    m[2:5, 2:5] = True
    sampled = [
        P.Point(0.3, 0.3),
        P.Point(0.4, 0.4),
        P.Line(((0.2, 0.3), (0.5, 0.3))),
        P.Box(0.2, 0.2, 0.6, 0.6),
        P.Mask(dict(rle.encode(m))),
    ]
    pts, masks = select_prompts(sampled, "point", pixel_mask_from="mask")
    assert len(pts) == 2 and all(isinstance(p, P.Point) for p in pts) and masks == []
    # By default every prompt type comes with a pixel mask, drawn from the prompt (derive_pixel_mask).
    for kind in ("point", "line", "box"):
        chosen, masks = select_prompts(sampled, kind)
        assert len(masks) == 1 and masks[0].dtype == np.bool_ and masks[0].any(), kind
        assert np.array_equal(masks[0], derive_pixel_mask(chosen))
    none, masks = select_prompts(sampled, "none")
    assert none == [] and masks == []
    mk, masks = select_prompts(sampled, "mask")
    assert len(mk) == 1 and masks == [dict(rle.encode(m))]
    with pytest.raises(EvaluationError):
        select_prompts(sampled[:1], "box")


def test_evaluation_is_deterministic_and_reports(tmp_path):
    policy = Policy.load(make_random_tiny_bundle(tmp_path / "bundle", seed=0))
    cfg = EvalConfig(
        tasks=("pick", "pick_ambiguous"),
        prompt_types=("none", "box"),
        episodes_per_cell=1,
        max_steps=6,
        execute_steps=3,
    )
    a = evaluate(policy, cfg, progress=False)
    b = evaluate(policy, cfg, progress=False)
    assert [e.__dict__ for e in a.episodes] == [e.__dict__ for e in b.episodes]
    assert len(a.episodes) == 4
    assert {e.ambiguous for e in a.episodes} == {False, True}
    assert all(e.steps == 6 or e.success for e in a.episodes)  # ran to the step limit unless it succeeded
    # The same scene for every prompt type of a task: only the prompt differs.
    assert len({e.seed for e in a.episodes if e.task == "pick"}) == 1
    js, md = write_report(a, tmp_path / "out")
    data = json.loads(js.read_text())
    assert data["summary"]["overall"]["n"] == 4 and set(data["summary"]["prompt_type"]) == {"none", "box"}
    assert "| pick |" in md.read_text() and "| **all** |" in md.read_text()


def test_unknown_prompt_type_is_typed(tmp_path):
    policy = Policy.load(make_random_tiny_bundle(tmp_path / "bundle", seed=0))
    with pytest.raises(EvaluationError, match="unknown prompt type"):
        evaluate(policy, EvalConfig(prompt_types=("scribble",)), progress=False)


def test_server_eval_run_writes_report_and_eval_metrics(tmp_path):
    """`pixelvla run eval` is what the GPU server launches for an eval run (launch request in)."""
    from pixelvla.cli import main
    from pixelvla.train.metrics import read_metrics

    bundle = make_random_tiny_bundle(tmp_path / "bundle", seed=0)
    request = tmp_path / "config.json"
    overrides = {"tasks": ["pick"], "prompt_types": ["none", "point"], "episodes_per_cell": 1, "max_steps": 4}
    request.write_text(json.dumps({"stage": "eval", "base_dir": str(bundle), "overrides": overrides}))
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as done:
        main(["run", "eval", "--run-dir", str(run), "--config", str(request)])
    assert done.value.code == 0
    assert json.loads((run / "eval.json").read_text())["summary"]["overall"]["n"] == 2
    recs = read_metrics(run / "metrics.jsonl")
    assert [r.get("event", r["kind"]) for r in recs] == ["start", "eval", "done"]
    assert recs[1]["episodes"] == 2 and "success/point" in recs[1] and recs[2]["total_steps"] == 2
    # a bad override is a typed error (exit 2), not a traceback
    request.write_text(json.dumps({"stage": "eval", "base_dir": str(bundle), "overrides": {"steps": 3}}))
    with pytest.raises(SystemExit) as bad:
        main(["run", "eval", "--run-dir", str(tmp_path / "run2"), "--config", str(request)])
    assert bad.value.code == 2


def test_open_loop_probe_tells_a_blind_policy_from_one_that_follows_the_data(tmp_path):
    """A policy that replays the recorded motion scores ratio 1 / correlation 1; a constant one 0."""
    from pixelvla.data import EpisodeRecord, LeRobotWriter, open_dataset
    from pixelvla.policy import Prediction
    from pixelvla.probe import probe

    root = tmp_path / "ds"
    names = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]
    w = LeRobotWriter(
        root, cameras={"front": (16, 16)}, state_names=[f"s{i}" for i in range(8)], action_names=names
    )
    rng = np.random.default_rng(0)
    for i in range(6):
        frames = np.full((5, 16, 16, 3), 20 * i, np.uint8)  # the episode index is in the pixels
        actions = rng.uniform(-0.04, 0.04, (5, 7)).astype(np.float32)
        w.write_episode(
            i,
            EpisodeRecord(
                frames={"front": frames}, actions=actions, states=np.zeros((5, 8), np.float32), task="t"
            ),
        )
    w.finalize()
    ds = open_dataset(root)

    class Replay:  # reads the episode from the image, answers with its recorded actions
        def predict(self, obs):
            a = ds.episode(int(obs.image[0, 0, 0]) // 20).actions
            return Prediction(actions=a, actions_normalized=a)

    class Blind:
        def predict(self, obs):
            a = np.full((8, 7), 0.01, np.float32)
            return Prediction(actions=a, actions_normalized=a)

    good = probe(Replay(), ds, list(range(6)), horizon=3)
    assert good.spread_ratio == {"x": 1.0, "y": 1.0, "z": 1.0} and good.correlation["x"] == pytest.approx(1.0)
    assert good.l1 == {"x": 0.0, "y": 0.0, "z": 0.0} and good.direction_agreement["y"] == 1.0
    blind = probe(Blind(), ds, list(range(6)), horizon=3)
    assert blind.spread_ratio == {"x": 0.0, "y": 0.0, "z": 0.0} and blind.correlation["x"] == 0.0
    assert blind.l1_predict_zero == good.l1_predict_zero and blind.l1["x"] > 0
    with pytest.raises(ValueError, match="unknown prompt type"):
        probe(Blind(), ds, [0], prompt_type="scribble")


class _Recorder:
    """A policy that records the frames it is shown and never moves (the episode runs to its end)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def predict(self, obs: Observation) -> object:
        self.frames.append(np.asarray(obs.image).copy())
        return type("Pred", (), {"actions": np.zeros((4, 7), np.float32)})()


def test_wrong_scene_control_shows_one_frame_of_another_scene_for_the_whole_episode():
    from pixelvla.evaluation import WRONG_SCENE_OFFSET, run_episode
    from pixelvla_sim.robot import SimRobot

    cfg = EvalConfig(max_steps=12, execute_steps=4)
    seed = 1_000_000
    live, wrong = _Recorder(), _Recorder()
    with SimRobot(image_size=cfg.image_size) as robot:
        a = run_episode(live, robot, "pick", "box", seed, cfg)
        b = run_episode(wrong, robot, "pick", "box", seed, cfg, control="wrong_scene")
        other = robot.reset(seed + WRONG_SCENE_OFFSET, "pick")["images"]["front"]
        own = robot.reset(seed, "pick")["images"]["front"]
    assert a.control == "live" and b.control == "wrong_scene" and len(wrong.frames) == 3
    assert np.array_equal(live.frames[0], own) and not np.array_equal(own, other)
    assert all(np.array_equal(f, other) for f in wrong.frames)


def test_controls_are_reported_apart_from_the_live_episodes(tmp_path):
    policy = Policy.load(make_random_tiny_bundle(tmp_path / "bundle", seed=0))
    cfg = EvalConfig(
        tasks=("pick",), prompt_types=("box",), episodes_per_cell=1, max_steps=4, controls=("wrong_scene",)
    )
    report = evaluate(policy, cfg, progress=False)
    s = report.summary()
    assert [e.control for e in report.episodes] == ["live", "wrong_scene"]
    assert s["overall"]["n"] == 1 and s["controls"]["wrong_scene"]["cell"]["pick/box"]["n"] == 1
    assert "Control wrong_scene" in report.markdown()
    only = evaluate(policy, EvalConfig(**{**cfg.__dict__, "live": False}), progress=False)
    assert [e.control for e in only.episodes] == ["wrong_scene"]
    with pytest.raises(EvaluationError, match="unknown control"):
        evaluate(policy, EvalConfig(controls=("blindfold",)), progress=False)


def test_camera_jitter_evaluates_each_scene_through_its_own_camera():
    from pixelvla.evaluation import config_from_overrides, evaluate
    from pixelvla_sim.robot import SimRobot

    seed = 1_000_000
    fixed, jittered = _Recorder(), _Recorder()
    base = dict(tasks=("pick",), prompt_types=("none",), episodes_per_cell=1, max_steps=4, execute_steps=4)
    evaluate(fixed, EvalConfig(**base), progress=False)  # type: ignore[arg-type]
    report = evaluate(jittered, EvalConfig(**base, camera_jitter=0.05), progress=False)  # type: ignore[arg-type]
    assert report.config["camera_jitter"] == 0.05
    with SimRobot(image_size=224, camera_jitter=0.05) as robot:
        own = robot.reset(seed, "pick")["images"]["front"]
    assert np.array_equal(jittered.frames[0], own) and not np.array_equal(fixed.frames[0], own)
    # The studio's eval runs may set it, within bounds.
    assert config_from_overrides({"camera_jitter": 0.03}).camera_jitter == 0.03
    for bad in (0.5, -0.1):
        with pytest.raises(EvaluationError, match="camera_jitter"):
            config_from_overrides({"camera_jitter": bad})
