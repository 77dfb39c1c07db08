"""The demo model recipe: one command from nothing to the bundle `npm start` serves.

    npm run train:demo            # = python -m pixelvla.train.demo --out models/demo
    python -m pixelvla.train.demo --quick --out /tmp/demo   # minutes-long smoke version

Steps, one at a time with every core: generate Pixel-annotated sim episodes (pixelvla-sim gen) and
labelled frames with grounding queries (pixelvla_sim.vision_data) -> the text grounder
(pixelvla.train.text_grounder) -> optionally vision pretraining of the tiny tower
(pixelvla.train.vision_pretrain, `vision_steps` > 0) -> base (OpenVLA-style discrete actions) ->
stage 1 (continuous decoder, backbone frozen) -> stage 2 (LoRA + prompt and pixel encoders, a pixel
mask with every prompt type; with `stage2_grounder`, the grounded object and container as mask
prompts too) -> stage 2 continued on place data (`continuations`, each on its own episodes, with the
grounded container as a mask prompt) -> closed-loop evaluation on held-out seeds, with the wrong-scene control -> copy the
final bundle, with the text grounder, recipe.json, eval.json and eval.md into --out and re-export the
browser prompt encoder so the studio's encoder hash matches the served model. The demo is complete
at that point (`demo_total_s` in recipe.json). Then, unless the recipe says `"ablation": false`, the
small-scale replica of the paper's ablation: stage 2 straight from the base, and base / +stage 1 /
+stage 2 only / both stages on ambiguous scenes with and without prompts, added to eval.json and
eval.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABLATION_VARIANTS = ("base", "stage1", "stage2_only", "stage1+stage2")
CONTINUATION_FIELDS = ("tasks", "episodes", "steps", "data_seed")
# camera_jitter: default the recipe's; train: TrainConfig fields of that leg (over stage_overrides'
# stage2 entry), e.g. {"lr": 5e-4, "stray_prompt_p": 0.25}.
CONTINUATION_OPTIONAL = ("camera_jitter", "train")


@dataclass
class DemoRecipe:
    data_seed: int = 0
    episodes: int = 300  # 150 per task
    # The scripted expert at 40% of the speed limit: ~2x the frames before the grasp.
    expert_speed: float = 0.4
    # Pick tasks: the same stages on all four (place included) fail, pick or place (README, issue #15).
    tasks: tuple[str, ...] = ("pick", "pick_ambiguous")
    # The front camera moved per scene by up to this (m per axis; pixelvla_sim.tasks.sample_front_camera)
    # in the episodes of the stages (a continuation may set its own); 0: the fixed camera.
    camera_jitter: float = 0.0
    # Labelled frames of seeded task scenes (the hand at random poses), for the text grounder and
    # the optional vision pretraining.
    vision_scenes: int = 1500
    vision_frames_per_scene: int = 3
    # The text grounder (pixelvla.text_grounder): which pixels the instruction names; the served
    # bundle carries it, so a text-only instruction acts on the object it names.
    grounder_steps: int = 1500
    # Stage 2 learns with the grounded objects and containers as mask prompts (TrainConfig.text_grounder),
    # which placing needs; off: the grounder only joins the finished bundle.
    stage2_grounder: bool = False
    # Which prompts come with a pixel mask, in stage 2 and in the evaluation: "mask" (mask prompts
    # only; the committed demo) or "every" (the design: a point, line or box gets the mask
    # pixel_encoder.derive_pixel_mask draws; the four-task runs that failed used it).
    pixel_mask_from: str = "mask"
    # Vision pretraining of the tiny tower (pixelvla.train.vision_pretrain), then frozen; 0: none,
    # the base stage trains the tower.
    vision_steps: int = 0
    batch_size: int = 32
    base_steps: int = 400
    stage1_steps: int = 200
    # 1.1-1.3 s/step on the 2-core box with both cores.
    stage2_steps: int = 1900
    # Stage 2 continued, in order, each from the model before it (the first from the stage 2 above) on
    # its own generated data, always with the text grounder (the container's mask prompt, which
    # placing needs): how the demo learns to place without unlearning to pick. Each entry:
    # {"tasks": [...], "episodes": N, "steps": N, "data_seed": N} and optionally "camera_jitter" and
    # "train" (that leg's TrainConfig fields); the
    # data seeds are the episodes', apart from the evaluation's (>= 1,000,000). Empty: the pick-only demo.
    continuations: tuple[dict[str, Any], ...] = ()
    # The evaluation's camera jitter; None: that of the demo's last data (the last continuation's).
    eval_camera_jitter: float | None = None
    seed: int = 0
    eval_tasks: tuple[str, ...] = ("pick", "pick_ambiguous")
    eval_prompt_types: tuple[str, ...] = ("none", "point", "line", "box", "mask")
    eval_episodes_per_cell: int = 50  # 10 was too coarse: two seed sets of 10 differed by 20 points
    # Place episodes take longer than picks (carry, lower, open): use 120 when evaluating them.
    eval_max_steps: int = 80
    # The wrong-scene control (pixelvla.evaluation): prompted types only (text-only has no pixels to
    # lose that the prompt would replace), on fewer episodes (it is a control, not a result).
    control_prompt_types: tuple[str, ...] = ("point", "line", "box", "mask")
    control_episodes_per_cell: int = 10
    # After the demo is written: stage 2 straight from the base, and every variant on ambiguous scenes.
    ablation: bool = True
    ablation_tasks: tuple[str, ...] = ("pick_ambiguous",)
    ablation_prompt_types: tuple[str, ...] = ("none", "point", "line", "box", "mask")
    ablation_variants: tuple[str, ...] = ABLATION_VARIANTS
    overrides: dict[str, Any] = field(default_factory=dict)  # extra TrainConfig fields for every stage
    # Per-stage TrainConfig fields (over `overrides`).
    stage_overrides: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"stage2": {"lr": 1e-3, "lora_lr": 1e-3}}
    )

    @classmethod
    def quick(cls) -> DemoRecipe:
        return cls(
            episodes=8,
            vision_scenes=8,
            vision_frames_per_scene=2,
            vision_steps=4,
            grounder_steps=4,
            stage2_grounder=True,
            batch_size=8,
            base_steps=4,
            stage1_steps=4,
            stage2_steps=4,
            continuations=(
                {
                    "tasks": ["place", "pick"],
                    "episodes": 4,
                    "steps": 3,
                    "data_seed": 5,
                    "camera_jitter": 0.05,
                    "train": {"stray_prompt_p": 0.25},
                },
            ),
            eval_episodes_per_cell=1,
            eval_max_steps=16,
            control_episodes_per_cell=1,
        )

    @classmethod
    def from_json(cls, fields: dict[str, Any], base: DemoRecipe | None = None) -> DemoRecipe:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(fields) - set(known)
        if unknown:
            raise ValueError(f"unknown recipe fields {sorted(unknown)}; known: {sorted(known)}")
        bad = set(fields.get("ablation_variants", ())) - set(ABLATION_VARIANTS)
        if bad:
            raise ValueError(f"unknown ablation variants {sorted(bad)}; known: {list(ABLATION_VARIANTS)}")
        for c in fields.get("continuations", ()):
            if (
                not isinstance(c, dict)
                or not set(CONTINUATION_FIELDS) <= set(c)
                or not set(c) <= {*CONTINUATION_FIELDS, *CONTINUATION_OPTIONAL}
                or not isinstance(c.get("train", {}), dict)
            ):
                raise ValueError(
                    f"a continuation has the fields {list(CONTINUATION_FIELDS)} and optionally "
                    f"{list(CONTINUATION_OPTIONAL)}, got {c!r}"
                )
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        return dataclasses.replace(base or cls(), **fixed)


def _run(argv: list[str], log: Path) -> None:
    print("+ " + " ".join(argv), file=sys.stderr, flush=True)
    with open(log, "a") as f:
        f.write("+ " + " ".join(argv) + "\n")
    subprocess.run(argv, check=True)


def _episodes(
    out: Path,
    recipe: DemoRecipe,
    tasks: tuple[str, ...] | list[str],
    n: int,
    seed: int,
    camera_jitter: float = 0.0,
) -> Path:
    """Expert episodes of `tasks` (skipped where they exist: resumable)."""
    _run(
        [
            sys.executable,  # not the `pixelvla-sim` script: it is on PATH only in an activated venv
            "-m",
            "pixelvla_sim.cli",
            "gen",
            "--episodes",
            str(n),
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--speed",
            str(recipe.expert_speed),
            "--camera-jitter",
            str(camera_jitter),
            "--tasks",
            *tasks,
        ],
        out.parent / "recipe.log",
    )
    return out


def _vision_data(work: Path, recipe: DemoRecipe) -> Path:
    """Labelled frames with grounding queries, seeds apart from the episodes' and the evaluation's
    (skipped when they exist: resumable)."""
    frames = work / "vision-data"
    _run(
        [
            sys.executable,
            "-m",
            "pixelvla_sim.vision_data",
            "--out",
            str(frames),
            "--scenes",
            str(recipe.vision_scenes),
            "--frames-per-scene",
            str(recipe.vision_frames_per_scene),
            "--seed",
            str(recipe.data_seed + 7),
        ],
        work / "recipe.log",
    )
    return frames


def _pretrain_vision(work: Path, recipe: DemoRecipe, frames: Path) -> Path:
    """The labelled frames -> a pretrained tower (skipped when trained: resumable)."""
    run = work / "runs" / "vision"
    argv = [sys.executable, "-m", "pixelvla.train.vision_pretrain", "--data", str(frames), "--out", str(run)]
    _run([*argv, "--steps", str(recipe.vision_steps), "--seed", str(recipe.seed)], work / "recipe.log")
    return run


def _train_grounder(work: Path, recipe: DemoRecipe, frames: Path) -> Path:
    """The labelled frames -> the text grounder (skipped when trained: resumable)."""
    run = work / "runs" / "grounder"
    argv = [sys.executable, "-m", "pixelvla.train.text_grounder", "--data", str(frames), "--out", str(run)]
    _run([*argv, "--steps", str(recipe.grounder_steps), "--seed", str(recipe.seed)], work / "recipe.log")
    return run


def _train(
    stage: str,
    work: Path,
    recipe: DemoRecipe,
    steps: int,
    init: Path | None,
    data: Path,
    vision: Path | None = None,
    grounder: Path | None = None,
    name: str | None = None,
    leg: dict[str, Any] | None = None,
) -> Path:
    run = (
        work
        / "runs"
        / (name or (stage if init is None or stage != "stage2" else f"{stage}-from-{init.name}"))
    )
    if (run / "bundle" / "manifest.json").exists():
        return run  # resumable recipe: a finished stage is not trained again
    argv = [
        sys.executable,
        "-m",
        "pixelvla.cli",
        "train",
        stage,
        "--dataset",
        str(data),
        "--run-dir",
        str(run),
    ]
    argv += ["--steps", str(steps), "--batch-size", str(recipe.batch_size), "--seed", str(recipe.seed)]
    if init is not None:
        argv += ["--init", str(init)]
    settings: dict[str, Any] = {}
    if vision is not None:  # the pretrained tower, kept frozen: the action loss only reads it
        settings = {"vision_init": str(vision), "train_vision": False}
    if grounder is not None:  # stage 2 with the grounded container masks; the bundle carries it
        settings["text_grounder"] = str(grounder)
    if stage == "stage2":
        settings["pixel_mask_from"] = recipe.pixel_mask_from
    for k, v in {
        **settings,
        **recipe.overrides,
        **recipe.stage_overrides.get(stage, {}),
        **(leg or {}),
    }.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    if (run / "train_config.json").exists():
        argv = [sys.executable, "-m", "pixelvla.cli", "train", stage, "--run-dir", str(run), "--resume"]
    _run(argv, work / "recipe.log")
    return run


def run_recipe(recipe: DemoRecipe, out: Path, work: Path, encoder_out: Path | None) -> dict[str, Any]:
    """Data -> base -> stage 1 -> stage 2 -> evaluation -> `out` (the demo, usable from here on);
    then, with `recipe.ablation`, stage 2 straight from the base and the ablation on ambiguous
    scenes, whose results join `out`'s eval.json / eval.md."""
    from ..evaluation import EvalConfig, evaluate, write_report
    from ..policy import Policy

    t0 = time.time()
    work.mkdir(parents=True, exist_ok=True)
    data = _episodes(
        work / "data", recipe, recipe.tasks, recipe.episodes, recipe.data_seed, recipe.camera_jitter
    )
    last_jitter = recipe.camera_jitter
    timings: dict[str, float] = {"data_s": time.time() - t0}

    def timed(key: str, fn: Any, *args: Any) -> Any:
        t = time.time()
        result = fn(*args)
        timings[key] = time.time() - t
        return result

    frames = timed("vision_data_s", _vision_data, work, recipe)
    grounder = timed("grounder_s", _train_grounder, work, recipe, frames)
    vision = (
        timed("vision_pretrain_s", _pretrain_vision, work, recipe, frames) if recipe.vision_steps else None
    )
    # One stage at a time with every core: the demo lane is the critical path.
    base = timed("base_s", _train, "base", work, recipe, recipe.base_steps, None, data, vision)
    s1 = timed("stage1_s", _train, "stage1", work, recipe, recipe.stage1_steps, base, data)
    s2_grounder = grounder if recipe.stage2_grounder else None
    s2 = timed("stage2_s", _train, "stage2", work, recipe, recipe.stage2_steps, s1, data, None, s2_grounder)
    final = s2  # the demo: stage 2, then its continuations
    for i, c in enumerate(recipe.continuations, start=1):
        key, tasks = f"continuation{i}", tuple(c["tasks"])
        last_jitter = float(c.get("camera_jitter", recipe.camera_jitter))
        more = timed(
            f"data_{key}_s",
            _episodes,
            work / f"data-{key}",
            recipe,
            tasks,
            int(c["episodes"]),
            int(c["data_seed"]),
            last_jitter,
        )
        final = timed(
            f"{key}_s",
            _train,
            "stage2",
            work,
            recipe,
            int(c["steps"]),
            final,
            more,
            None,
            grounder,
            key,
            c.get("train"),
        )

    def eval_cfg(tasks: tuple[str, ...], types: tuple[str, ...], **more: Any) -> EvalConfig:
        fields: dict[str, Any] = {
            "episodes_per_cell": recipe.eval_episodes_per_cell,
            "max_steps": recipe.eval_max_steps,
            "pixel_mask_from": recipe.pixel_mask_from,
            "camera_jitter": last_jitter if recipe.eval_camera_jitter is None else recipe.eval_camera_jitter,
            **more,
        }
        return EvalConfig(tasks=tasks, prompt_types=types, **fields)

    evals: dict[str, Any] = {}
    demo_policy = Policy.load(final / "bundle")
    report = timed("eval_s", evaluate, demo_policy, eval_cfg(recipe.eval_tasks, recipe.eval_prompt_types))
    write_report(report, work / "eval")
    evals["demo"] = report.summary()
    if recipe.control_prompt_types and recipe.control_episodes_per_cell > 0:
        control = timed(
            "control_eval_s",
            evaluate,
            demo_policy,
            eval_cfg(
                recipe.eval_tasks,
                recipe.control_prompt_types,
                episodes_per_cell=recipe.control_episodes_per_cell,
                controls=("wrong_scene",),
                live=False,
            ),
        )
        write_report(control, work / "eval", name="control-wrong-scene")
        evals["control/wrong_scene"] = control.summary()["controls"]["wrong_scene"]
    if vision is not None:
        probe = json.loads((vision / "pretrain.json").read_text())
        evals["vision_probe"] = {"before": probe["probe_before"], "after": probe["probe_after"]}
    evals["text_grounder"] = json.loads((grounder / "grounder.json").read_text())["held_out"]
    timings["demo_total_s"] = time.time() - t0
    _write_bundle(final, out, encoder_out, grounder)
    record = _write_record(recipe, out, evals, timings)

    if recipe.ablation:  # the stages' order, on stage 2 without the continuations
        variants = {"base": base, "stage1": s1, "stage1+stage2": s2}
        if "stage2_only" in recipe.ablation_variants:
            variants["stage2_only"] = timed(
                "ablation_stage2_only_s",
                _train,
                "stage2",
                work,
                recipe,
                recipe.stage2_steps,
                base,
                data,
                None,
                s2_grounder,
            )
        t = time.time()
        for name in recipe.ablation_variants:
            run = variants[name]
            rep = evaluate(
                Policy.load(run / "bundle"), eval_cfg(recipe.ablation_tasks, recipe.ablation_prompt_types)
            )
            write_report(rep, work / "eval", name=f"ablation-{name}")
            evals[f"ablation/{name}"] = rep.summary()
        timings["ablation_eval_s"] = time.time() - t
        timings["total_s"] = time.time() - t0
        record = _write_record(recipe, out, evals, timings)  # the bundle itself is unchanged
    return record


def _write_bundle(s2: Path, out: Path, encoder_out: Path | None, grounder: Path) -> None:
    """The served bundle: stage 2's weights with the LoRA adapters merged (2 MB less to commit; the
    same actions), replacing `out` atomically; and the browser encoder re-exported from it so the
    studio's hash matches."""
    from ..checkpoint import load_bundle, save_bundle

    out.parent.mkdir(parents=True, exist_ok=True)
    trained = load_bundle(s2 / "bundle", merge=True)
    save_bundle(trained.model, out, trained.normalizer, name="demo", stage="stage2")
    from ..checkpoint import attach_files
    from ..text_grounder import CONFIG_FILE, WEIGHTS_FILE
    from .text_grounder import attach

    if WEIGHTS_FILE in trained.manifest["files"]:  # the text grounder stage 2 trained with
        attach_files(out, {name: s2 / "bundle" / name for name in (WEIGHTS_FILE, CONFIG_FILE)})
    else:  # the grounder for text-only instructions, which stage 2 did not see
        attach(grounder, out)
    if encoder_out is not None:
        from ..export_onnx import export_prompt_encoder

        export_prompt_encoder(trained.model.prompt_encoder, encoder_out)


def _write_record(
    recipe: DemoRecipe, out: Path, evals: dict[str, Any], timings: dict[str, float]
) -> dict[str, Any]:
    """recipe.json, eval.json and eval.md beside the bundle (outside its manifest), each replaced
    atomically, so a later call with the ablation added rewrites only them."""
    record = {
        "recipe": dataclasses.asdict(recipe),
        "data_seed": recipe.data_seed,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "machine": {"cpus": os.cpu_count()},
        "command": " ".join(sys.argv),
    }
    files = {
        "recipe.json": json.dumps(record, indent=2),
        "eval.json": json.dumps(evals, indent=1),
        "eval.md": _eval_markdown(evals),
    }
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)
    return record


def _eval_markdown(evals: dict[str, Any]) -> str:
    from ..evaluation import PROMPT_TYPES

    lines = ["# Demo model evaluation (closed loop, held-out seeds)", ""]
    demo = evals["demo"]
    types = [t for t in PROMPT_TYPES if t in demo["prompt_type"]]
    lines += [
        "## Demo model, success by task and prompt type",
        "",
        "| task | " + " | ".join(types) + " |",
    ]
    lines.append("| --- |" + " --- |" * len(types))
    for task in demo["task"]:
        cells = [f"{100 * demo['cell'][f'{task}/{t}']['success']:.0f}%" for t in types]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    control = evals.get("control/wrong_scene")
    if control:
        ctypes = [t for t in PROMPT_TYPES if t in control["prompt_type"]]
        lines += [
            "",
            "## Wrong-scene control (the live frame replaced by one frame of another scene)",
            "",
            "| task | " + " | ".join(ctypes) + " |",
        ]
        lines.append("| --- |" + " --- |" * len(ctypes))
        for task in control["task"]:
            cells = [f"{100 * control['cell'][f'{task}/{t}']['success']:.0f}%" for t in ctypes]
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
    grounder = evals.get("text_grounder")
    if grounder:
        lines += [
            "",
            "## Text grounder (held-out labelled frames: what the instruction names, as masks)",
            "",
            "| one object (colour and kind) IoU | every object of a kind IoU | container IoU | object found | "
            "found where the scene has no such object |",
            "| --- | --- | --- | --- | --- |",
            "| "
            + " | ".join(
                "-" if grounder.get(k) is None else f"{100 * grounder[k]:.0f}%"
                for k in (
                    "iou_one_object",
                    "iou_every_of_kind",
                    "iou_container",
                    "object_found",
                    "absent_object_found",
                )
            )
            + " |",
        ]
    probe = evals.get("vision_probe")
    if probe:
        lines += [
            "",
            "## Linear probe of the vision tower (held-out frames, before any policy stage)",
            "",
            "| tower | object patches classified | named object found | error (px of 112) |",
            "| --- | --- | --- | --- |",
        ]
        for name in ("before", "after"):
            p = probe[name]
            lines.append(
                f"| {'random init' if name == 'before' else 'pretrained'} | "
                f"{100 * p['patch_accuracy_objects']:.0f}% | {100 * p['target_hit']:.0f}% | "
                f"{p['target_error_px']:.1f} |"
            )
    abl = {k.split("/", 1)[1]: v for k, v in evals.items() if k.startswith("ablation/")}
    if abl:
        types = [t for t in PROMPT_TYPES if t in next(iter(abl.values()))["prompt_type"]]
        lines += [
            "",
            "## Ablation on ambiguous scenes (success rate)",
            "",
            "| model | " + " | ".join(types) + " |",
        ]
        lines.append("| --- |" + " --- |" * len(types))
        for name, s in abl.items():
            lines.append(
                f"| {name} | "
                + " | ".join(f"{100 * s['prompt_type'][t]['success']:.0f}%" for t in types)
                + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default="models/demo", help="where the finished bundle goes")
    ap.add_argument("--work", default="var/demo", help="data, runs and logs of the recipe (resumable)")
    ap.add_argument(
        "--encoder-out", default="public/models", help="re-export the browser encoder here ('' = skip)"
    )
    ap.add_argument("--quick", action="store_true", help="a minutes-long smoke version of the recipe")
    ap.add_argument("--recipe", help="JSON file with DemoRecipe fields to override")
    args = ap.parse_args(argv)
    recipe = DemoRecipe.quick() if args.quick else DemoRecipe()
    if args.recipe:
        recipe = DemoRecipe.from_json(json.loads(Path(args.recipe).read_text()), recipe)
    record = run_recipe(
        recipe, Path(args.out), Path(args.work), Path(args.encoder_out) if args.encoder_out else None
    )
    print(json.dumps(record["timings_s"]))


if __name__ == "__main__":
    main()
