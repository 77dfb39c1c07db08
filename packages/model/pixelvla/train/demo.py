"""The demo model recipe: one command from nothing to the bundle `npm start` serves.

    npm run train:demo            # = python -m pixelvla.train.demo --out models/demo
    python -m pixelvla.train.demo --quick --out /tmp/demo   # minutes-long smoke version

Steps: generate Pixel-annotated sim episodes (pixelvla-sim gen) -> base (OpenVLA-style discrete
actions) -> stage 1 (continuous decoder, backbone frozen) -> stage 2 (LoRA + prompt and pixel
encoders) -> closed-loop evaluation on held-out seeds, including the small-scale replica of the
paper's ablation (base, +stage 1, +stage 2 only, both stages; each with and without prompts) ->
copy the final bundle with recipe.json, eval.json and eval.md into --out, and re-export the browser
prompt encoder so the studio's encoder hash matches the served model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DemoRecipe:
    data_seed: int = 0
    episodes: int = 300
    batch_size: int = 32
    base_steps: int = 600
    stage1_steps: int = 300
    stage2_steps: int = 900
    seed: int = 0
    eval_episodes_per_cell: int = 10
    eval_max_steps: int = 80
    ablation: bool = True
    ablation_prompt_types: tuple[str, ...] = ("none", "point", "box", "mask")
    overrides: dict[str, Any] = field(default_factory=dict)  # extra TrainConfig fields for every stage

    @classmethod
    def quick(cls) -> DemoRecipe:
        return cls(
            episodes=8, batch_size=8, base_steps=4, stage1_steps=4, stage2_steps=4, eval_episodes_per_cell=1
        )


def _run(argv: list[str], log: Path, threads: int | None = None) -> None:
    print("+ " + " ".join(argv), file=sys.stderr, flush=True)
    with open(log, "a") as f:
        f.write("+ " + " ".join(argv) + "\n")
    env = None if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(argv, check=True, env=env)


def _train(
    stage: str,
    work: Path,
    recipe: DemoRecipe,
    steps: int,
    init: Path | None,
    data: Path,
    threads: int | None = None,
) -> Path:
    run = (
        work / "runs" / stage
        if init is None or stage != "stage2"
        else work / "runs" / f"{stage}-from-{init.name}"
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
    for k, v in recipe.overrides.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    if (run / "train_config.json").exists():
        argv = [sys.executable, "-m", "pixelvla.cli", "train", stage, "--run-dir", str(run), "--resume"]
    _run(argv, work / "recipe.log", threads)
    return run


def run_recipe(recipe: DemoRecipe, out: Path, work: Path, encoder_out: Path | None) -> dict[str, Any]:
    from ..evaluation import EvalConfig, evaluate, write_report
    from ..policy import Policy

    t0 = time.time()
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    _run(
        [
            sys.executable,  # not the `pixelvla-sim` script: it is on PATH only in an activated venv
            "-m",
            "pixelvla_sim.cli",
            "gen",
            "--episodes",
            str(recipe.episodes),
            "--out",
            str(data),
            "--seed",
            str(recipe.data_seed),
        ],
        work / "recipe.log",
    )
    timings: dict[str, float] = {"data_s": time.time() - t0}
    t = time.time()
    base = _train("base", work, recipe, recipe.base_steps, None, data)
    timings["base_s"] = time.time() - t
    # After the base, two independent lanes: stage 1 -> stage 2 (the demo model) and, for the
    # ablation, stage 2 straight from the base. On a small CPU box they run side by side with one
    # thread each: two single-thread processes use two cores better than one two-thread process
    # (OpenMP scaling is ~1.5x), and a two-thread process next to anything else is far slower.
    t = time.time()
    lanes = 2 if recipe.ablation else 1
    threads = 1 if lanes == 2 and (os.cpu_count() or 1) <= 4 else None

    def demo_lane() -> tuple[Path, Path, float]:
        t1 = time.time()
        s1 = _train("stage1", work, recipe, recipe.stage1_steps, base, data, threads)
        t_s1 = time.time() - t1
        return s1, _train("stage2", work, recipe, recipe.stage2_steps, s1, data, threads), t_s1

    with ThreadPoolExecutor(lanes) as pool:
        demo = pool.submit(demo_lane)
        only = (
            pool.submit(_train, "stage2", work, recipe, recipe.stage2_steps, base, data, threads)
            if recipe.ablation
            else None
        )
        s1, s2, timings["stage1_s"] = demo.result()
        s2_only = only.result() if only is not None else None
    timings["stage1_and_stage2_lanes_s"] = time.time() - t

    evals: dict[str, Any] = {}
    t = time.time()
    final = Policy.load(s2 / "bundle")
    main_cfg = EvalConfig(episodes_per_cell=recipe.eval_episodes_per_cell, max_steps=recipe.eval_max_steps)
    report = evaluate(final, main_cfg)
    write_report(report, work / "eval")
    evals["demo"] = report.summary()
    if s2_only is not None:
        variants = {"base": base, "stage1": s1, "stage2_only": s2_only, "stage1+stage2": s2}
        amb = EvalConfig(
            tasks=("pick_ambiguous", "place_ambiguous"),
            prompt_types=recipe.ablation_prompt_types,
            episodes_per_cell=recipe.eval_episodes_per_cell,
            max_steps=recipe.eval_max_steps,
        )
        for name, run in variants.items():
            rep = evaluate(Policy.load(run / "bundle"), amb)
            write_report(rep, work / "eval", name=f"ablation-{name}")
            evals[f"ablation/{name}"] = rep.summary()
    timings["eval_s"] = time.time() - t
    timings["total_s"] = time.time() - t0

    # The served bundle: stage 2's folder plus the recipe and the evaluation beside it.
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(s2 / "bundle", tmp)
    record = {
        "recipe": dataclasses.asdict(recipe),
        "data_seed": recipe.data_seed,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "machine": {"cpus": os.cpu_count()},
        "command": " ".join(sys.argv),
    }
    (tmp / "recipe.json").write_text(json.dumps(record, indent=2))
    (tmp / "eval.json").write_text(json.dumps(evals, indent=1))
    (tmp / "eval.md").write_text(_eval_markdown(evals))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    if encoder_out is not None:
        from ..checkpoint import load_bundle
        from ..export_onnx import export_prompt_encoder

        export_prompt_encoder(load_bundle(out).model.prompt_encoder, encoder_out)
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
        fields = json.loads(Path(args.recipe).read_text())
        if "ablation_prompt_types" in fields:
            fields["ablation_prompt_types"] = tuple(fields["ablation_prompt_types"])
        recipe = dataclasses.replace(recipe, **fields)
    record = run_recipe(
        recipe, Path(args.out), Path(args.work), Path(args.encoder_out) if args.encoder_out else None
    )
    print(json.dumps(record["timings_s"]))


if __name__ == "__main__":
    main()
