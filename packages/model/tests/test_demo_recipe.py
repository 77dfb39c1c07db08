"""The demo recipe end to end at smoke size: data -> base -> stage 1 -> stage 2 -> evaluation ->
the demo folder the studio serves, then the ablation joins its eval.json / eval.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pixelvla.policy import Observation, Policy
from pixelvla.train.demo import DemoRecipe, run_recipe


def test_quick_recipe_writes_a_servable_demo_with_recipe_eval_and_ablation(tmp_path: Path) -> None:
    out, work, public = tmp_path / "models" / "demo", tmp_path / "work", tmp_path / "public"
    recipe = DemoRecipe.quick()
    record = run_recipe(recipe, out, work, public)

    policy = Policy.load(out)
    assert policy.metadata["stage"] == "stage2" and policy.metadata["state_dim"] == 8
    # The text grounder stage 2 learned with travels with the served bundle, containers and all.
    assert policy.grounder is not None and policy.grounder.cfg.targets_as_prompt
    s2_cfg = json.loads((work / "runs" / "stage2-from-stage1" / "train_config.json").read_text())
    assert s2_cfg["text_grounder"] == str(work / "runs" / "grounder")
    # The browser encoder was re-exported from the served weights: the studio's hash check passes.
    exported = json.loads((public / "prompt_encoder.json").read_text())
    assert exported["encoder_hash"] == policy.metadata["encoder_hash"]

    saved = json.loads((out / "recipe.json").read_text())
    assert saved["recipe"]["stage2_steps"] == recipe.stage2_steps and saved["data_seed"] == recipe.data_seed
    t = record["timings_s"]
    assert 0 < t["demo_total_s"] <= t["total_s"] and t["ablation_eval_s"] > 0

    evals = json.loads((out / "eval.json").read_text())
    variants = ["base", "stage1", "stage2_only", "stage1+stage2"]
    expected = {"demo", "control/wrong_scene", "vision_probe", "text_grounder"}
    assert set(evals) == expected | {f"ablation/{v}" for v in variants}
    # The wrong-scene control ran the prompted types only, and the probe was taken before and after
    # the vision pretraining.
    assert set(evals["control/wrong_scene"]["prompt_type"]) == set(recipe.control_prompt_types)
    assert set(evals["vision_probe"]) == {"before", "after"}
    demo = evals["demo"]
    assert set(demo["task"]) == set(recipe.eval_tasks)
    assert set(demo["prompt_type"]) == set(recipe.eval_prompt_types)
    assert all(demo["cell"][f"{task}/{p}"]["n"] == 1 for task in demo["task"] for p in demo["prompt_type"])
    table = (out / "eval.md").read_text()
    for v in variants:
        assert f"| {v} |" in table
    assert "## Wrong-scene control" in table and "## Linear probe of the vision tower" in table
    # Every stage trained in its own run folder; the continuation from stage 2, on its own place
    # episodes, with the grounder, and the demo is the continuation's weights.
    for run in ("base", "stage1", "stage2-from-stage1", "continuation1", "stage2-from-base"):
        assert (work / "runs" / run / "bundle" / "manifest.json").exists(), run
    c_cfg = json.loads((work / "runs" / "continuation1" / "train_config.json").read_text())
    assert c_cfg["init"] == str(work / "runs" / "stage2-from-stage1") and c_cfg["steps"] == 3
    assert c_cfg["dataset"] == str(work / "data-continuation1")
    assert c_cfg["text_grounder"] == str(work / "runs" / "grounder")
    assert c_cfg["stray_prompt_p"] == 0.25 and s2_cfg["stray_prompt_p"] == 0.0  # that leg's own setting
    assert json.loads((work / "data-continuation1" / "meta" / "info.json").read_text())["total_episodes"] == 4
    # The continuation's own camera jitter: in its episodes, and (its data being the demo's last) in
    # the evaluation; the stages' episodes keep the fixed camera.
    from pixelvla.data import open_dataset

    assert open_dataset(work / "data-continuation1").episode(0).annotation["source"]["camera_jitter"] == 0.05
    assert open_dataset(work / "data").episode(0).annotation["source"]["camera_jitter"] == 0.0
    assert json.loads((work / "eval" / "eval.json").read_text())["config"]["camera_jitter"] == 0.05
    obs = Observation(
        np.full((112, 112, 3), 90, np.uint8), "put the red cube in the box", state=np.zeros(8, np.float32)
    )
    served = policy.predict(obs).actions_normalized
    cont = Policy.load(work / "runs" / "continuation1" / "bundle").predict(obs).actions_normalized
    before = Policy.load(work / "runs" / "stage2-from-stage1" / "bundle").predict(obs).actions_normalized
    np.testing.assert_allclose(served, cont, atol=1e-4)  # LoRA merged: the same weights
    assert np.abs(served - before).max() > 1e-4  # and not stage 2's before the continuation
    assert (work / "runs" / "vision" / "vision.safetensors").exists()
    # The base stage started from the pretrained tower and kept it frozen.
    base_cfg = json.loads((work / "runs" / "base" / "train_config.json").read_text())
    assert base_cfg["vision_init"] == str(work / "runs" / "vision") and base_cfg["train_vision"] is False


def test_recipe_file_fields_are_checked() -> None:
    r = DemoRecipe.from_json({"stage2_steps": 10, "eval_tasks": ["pick"]})
    assert r.stage2_steps == 10 and r.eval_tasks == ("pick",)
    with pytest.raises(ValueError, match="unknown recipe fields"):
        DemoRecipe.from_json({"stage3_steps": 10})
    leg = {"tasks": ["place"], "episodes": 4, "steps": 3, "data_seed": 5}
    assert DemoRecipe.from_json({"continuations": [{**leg, "camera_jitter": 0.05}]}).continuations
    for bad in ({**leg, "lr": 1.0}, {k: v for k, v in leg.items() if k != "steps"}):
        with pytest.raises(ValueError, match="a continuation has the fields"):
            DemoRecipe.from_json({"continuations": [bad]})


REPO = Path(__file__).resolve().parents[3]


def test_committed_demo_bundle_is_whole_small_and_matches_the_browser_encoder() -> None:
    """models/demo is what `npm start` serves: it must load (manifest hashes verified), stay within
    the 25 MB the repo allows, carry its recipe and evaluation, and its prompt encoder must be the
    one the studio runs (public/models), or every browser token would be refused."""
    demo = REPO / "models" / "demo"
    size = sum(p.stat().st_size for p in demo.rglob("*") if p.is_file())
    assert size <= 25_000_000, size
    policy = Policy.load(demo)
    exported = json.loads((REPO / "public" / "models" / "prompt_encoder.json").read_text())
    assert exported["encoder_hash"] == policy.metadata["encoder_hash"]
    assert policy.metadata["grounds_text"]  # a text-only instruction acts on what it names
    record = json.loads((demo / "recipe.json").read_text())
    recipe = DemoRecipe.from_json(record["recipe"])
    evals = json.loads((demo / "eval.json").read_text())
    assert set(evals["demo"]["task"]) == set(recipe.eval_tasks)
    assert evals["demo"]["overall"]["n"] == (
        len(recipe.eval_tasks) * len(recipe.eval_prompt_types) * recipe.eval_episodes_per_cell
    )
    assert (demo / "eval.md").read_text().startswith("# Demo model evaluation")
