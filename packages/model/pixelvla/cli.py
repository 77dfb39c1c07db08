"""`pixelvla`: train (base | stage1 | stage2), evaluate in the simulator, export the browser encoder.

    pixelvla train stage2 --dataset DATA --init RUN_OR_BUNDLE --run-dir RUN [--steps N] [--set key=value]
    pixelvla train --config RUN/train_config.json [--run-dir NEW]   # replay a run (stage from the file)
    pixelvla train stage2 --run-dir RUN --resume
    pixelvla eval --model BUNDLE --out DIR [--episodes-per-cell N]
    pixelvla probe --model BUNDLE --dataset DATA   # open loop: does the motion follow the image?
    pixelvla export-encoder --model BUNDLE --out public/models
    pixelvla import openvla OPENVLA_DIR --out BUNDLE [--unnorm-key bridge_orig]   # a local HF folder

`--init` also takes an OpenVLA folder (Hugging Face layout), imported on the fly (stage 1 from OpenVLA).

`--config FILE` takes a train_config.json (pixelvla.train.config.TrainConfig as JSON): a run's own, or
the one the GPU server builds from a launch request; flags given beside it change its fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .config import POLICY_BACKENDS
from .errors import PixelVLAError


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _read_config(path: Path, error: type[PixelVLAError]) -> dict[str, Any]:
    """--config as a JSON object whose `overrides` (if any) is an object: a typed `error` otherwise,
    so a damaged file is a clear `pixelvla: error [...]` in the run's log, not a traceback."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as exc:
        raise error(f"cannot read --config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"--config {path} must hold a JSON object")
    if not isinstance(data.get("overrides") or {}, dict):
        raise error(f"--config {path}: overrides must be a JSON object")
    return data


def cmd_train(args: argparse.Namespace) -> int:
    # The training loop (torch, transformers: tens of seconds to import on a busy box) is imported
    # only once the config is valid, so a wrong flag or file is reported at once.
    from .train.config import TrainConfig, TrainConfigError

    if args.resume:
        if args.run_dir is None:
            raise TrainConfigError("--resume needs --run-dir")
        from .train.loop import CONFIG_FILE, train

        saved = Path(args.run_dir) / CONFIG_FILE
        if saved.exists():
            cfg = TrainConfig.load(saved)
            result = train(cfg, resume=True, progress=not args.quiet)
            return _report(result)
        # A run resumed before it wrote its config (it never started): start it afresh.
    values: dict[str, Any] = {}
    if args.config:  # a TrainConfig as JSON; TrainConfig.from_dict says what is wrong with it
        values.update(_read_config(Path(args.config), TrainConfigError))
    if args.stage is not None:
        values["stage"] = args.stage
    if not values.get("stage"):
        raise TrainConfigError("name the stage (pixelvla train base|stage1|stage2) or pass --config FILE")
    for key in ("dataset", "init", "steps", "batch_size", "seed", "device", "model"):
        v = getattr(args, key)
        if v is not None:
            values[key] = v
    if args.run_dir is not None:
        values["out_dir"] = args.run_dir
    for item in args.set or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise TrainConfigError(f"--set expects key=value, got {item!r}")
        values[key.replace("-", "_")] = _value(raw)
    for required in ("dataset", "out_dir"):
        if not values.get(required) and not args.config:  # a file's own gaps: TrainConfig says them
            flag = "--run-dir" if required == "out_dir" else f"--{required}"
            raise TrainConfigError(f"missing {flag}")
    cfg = TrainConfig.from_dict(values)
    from .train.loop import train

    return _report(train(cfg, progress=not args.quiet))


def _report(result: Any) -> int:
    print(
        json.dumps(
            {
                "run_dir": str(result.run_dir),
                "step": result.step,
                "bundle": str(result.bundle) if result.bundle else None,
                "final_loss": result.final_loss,
            }
        )
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.env == "libero":  # the LIBERO benchmark, in LIBERO's own environment (packages/libero)
        from pixelvla_libero.host import cli_eval

        return cli_eval(args)
    if not args.model:
        raise PixelVLAError("pixelvla eval needs --model BUNDLE", code="model_required")
    from .evaluation import EvalConfig, evaluate, write_report
    from .policy import Policy

    cfg = EvalConfig(episodes_per_cell=args.episodes_per_cell, seed=args.seed, max_steps=args.max_steps)
    if args.tasks:
        cfg.tasks = tuple(args.tasks)
    if args.prompt_types:
        cfg.prompt_types = tuple(args.prompt_types)
    cfg.controls = tuple(args.controls)
    cfg.pixel_mask_from = args.pixel_mask_from
    cfg.camera_jitter = args.camera_jitter
    policy = Policy.load(args.model, device=args.device, backend=args.backend)
    report = evaluate(policy, cfg, progress=not args.quiet)
    js, md = write_report(report, Path(args.out), name=args.name)
    print(report.markdown())
    print(json.dumps({"json": str(js), "markdown": str(md), "overall": report.summary()["overall"]}))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The GPU server's entry point, any stage. Training stages read the train_config.json the
    server built (as `train --config`); an `eval` run reads its launch request (config.json:
    {base_dir, overrides}), evaluates that model in the simulator and writes eval.json / eval.md
    plus an "eval" metrics record into the run folder."""
    if args.stage != "eval":
        return cmd_train(args)
    from .evaluation import EvaluationError, config_from_overrides, evaluate, write_report
    from .policy import Policy
    from .train.metrics import MetricsLog

    request = _read_config(Path(args.config), EvaluationError)
    if not request.get("base_dir"):
        raise EvaluationError("an eval run needs a base checkpoint (the model to evaluate)")
    cfg = config_from_overrides(request.get("overrides") or {})
    run_dir = Path(args.run_dir)
    log = MetricsLog(run_dir, tensorboard=False)
    total = len(cfg.tasks) * len(cfg.prompt_types) * cfg.episodes_per_cell
    log.event("start", step=0, total_steps=total)
    try:
        report = evaluate(Policy.load(request["base_dir"], device=args.device or "cpu"), cfg, progress=False)
    except Exception as exc:
        log.event("failed", step=0, total_steps=total, error=f"{type(exc).__name__}: {exc}")
        raise
    write_report(report, run_dir)
    summary = report.summary()
    log.eval(
        step=total,
        success=summary["overall"]["success"],
        episodes=summary["overall"]["n"],
        **{f"success/{k}": v["success"] for k, v in summary["prompt_type"].items()},
    )
    log.event("done", step=total, total_steps=total)
    print(report.markdown())
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from .data import open_dataset
    from .policy import Policy
    from .probe import probe

    dataset = open_dataset(args.dataset)
    n = dataset.num_episodes
    episodes = list(range(max(0, n - args.episodes), n))  # the last ones (held out if you hold any out)
    report = probe(
        Policy.load(args.model, device=args.device),
        dataset,
        episodes,
        horizon=args.horizon,
        prompt_type=args.prompt_type,
    )
    print(json.dumps(report.to_json(), indent=1))
    return 0


def cmd_export_encoder(args: argparse.Namespace) -> int:
    from .checkpoint import load_bundle
    from .export_onnx import export_prompt_encoder

    bundle = load_bundle(args.model, device="cpu")
    path = export_prompt_encoder(bundle.model.prompt_encoder, args.out)
    print(json.dumps({"onnx": str(path)}))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """An OpenVLA folder -> a PixelVLA bundle (tokens head, OpenVLA's tokens, prompt and statistics),
    with a report of what was loaded and what is new."""
    import tempfile

    import torch

    from .checkpoint import save_bundle
    from .config import load_config
    from .openvla_import import choose_unnorm_key, import_openvla

    folder, out = Path(args.folder), Path(args.out)
    key = choose_unnorm_key(folder, args.unnorm_key)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The tokenizer's files go through a folder of their own, so the bundle copies only them.
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.tokenizer.", dir=out.parent) as tok_dir:
        imported = import_openvla(
            folder,
            tok_dir,
            base=load_config(args.model) if args.model else None,
            unnorm_key=key,
            dtype=getattr(torch, args.dtype),
            seed=args.seed,
        )
        bundle = save_bundle(
            imported.model,
            out,
            imported.normalizer,
            name=f"openvla-{key}",
            stage="base",
            extra={"source": "openvla", "openvla_folder": str(folder.resolve()), "unnorm_key": key},
        )
    summary = imported.report.summary()
    print(json.dumps({"bundle": str(bundle), "unnorm_key": key, "dtype": args.dtype, **summary}, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixelvla", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one stage (base, stage1, stage2)")
    t.add_argument("stage", nargs="?", choices=["base", "stage1", "stage2"], help="default: --config's")
    t.add_argument("--run-dir", help="the run folder (checkpoints, metrics, bundle)")
    t.add_argument("--config", help="a train_config.json (a run's, or the GPU server's); flags change it")
    t.add_argument("--dataset", help="LeRobot dataset folder")
    t.add_argument("--init", help="bundle, finished run folder, or OpenVLA folder (HF layout) to start from")
    t.add_argument(
        "--model",
        help="model config name or .json: a fresh base run's (default tiny), an OpenVLA init's (default full)",
    )
    t.add_argument("--steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other config field (JSON value)")
    t.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint"
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=cmd_train)

    r = sub.add_parser("run", help="the GPU server's entry point: a launch request for any stage")
    r.add_argument("stage", choices=["base", "stage1", "stage2", "eval"])
    r.add_argument("--run-dir", required=True)
    r.add_argument(
        "--config",
        required=True,
        help="train_config.json (training stages) or the eval request (config.json)",
    )
    r.add_argument("--resume", action="store_true")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(
        fn=cmd_run,
        **{k: None for k in ("dataset", "init", "model", "steps", "batch_size", "seed", "device", "set")},
    )

    e = sub.add_parser("eval", help="closed-loop evaluation in the simulator on held-out seeds")
    e.add_argument("--model", help="bundle folder (with --env libero and no --server: served on a free port)")
    e.add_argument("--out", required=True, help="folder for eval.json and eval.md")
    e.add_argument("--name", default="eval")
    e.add_argument("--episodes-per-cell", type=int, default=10)
    e.add_argument("--seed", type=int, default=1_000_000)
    e.add_argument("--max-steps", type=int, default=80)
    e.add_argument("--tasks", nargs="+")
    e.add_argument("--prompt-types", nargs="+")
    e.add_argument(
        "--controls",
        nargs="+",
        choices=["wrong_scene"],
        default=[],
        help="also run every cell with the live frame replaced by a frame of another scene",
    )
    e.add_argument(
        "--pixel-mask-from",
        choices=["every", "mask"],
        default="every",
        help="pixel masks with every prompt type (derived from point/line/box) or with mask prompts only",
    )
    e.add_argument(
        "--camera-jitter",
        type=float,
        default=0.0,
        help="sim: move the front camera per scene by up to this many metres per axis (default 0: fixed)",
    )
    e.add_argument("--device", default="cpu")
    e.add_argument(
        "--backend",
        choices=POLICY_BACKENDS,
        default="torch",
        help="sim: how the policy runs a chunk (pixelvla.fast_tiny; onnx-int8 is not exact)",
    )
    e.add_argument("--quiet", action="store_true")
    # --env libero: packages/libero/README.md (--tasks are task indices or ranges there).
    e.add_argument("--env", choices=["sim", "libero"], default="sim")
    e.add_argument("--suite", choices=["libero_spatial", "libero_object", "libero_goal", "libero_10"])
    e.add_argument("--server", help="a running GPU server's URL (libero; default: serve --model here)")
    e.add_argument("--init-states", nargs="+", help="libero: initial-state indices or ranges (default 0-49)")
    e.add_argument("--gripper", default="libero", choices=["libero", "openvla", "unit"])
    e.add_argument("--replan-steps", type=int, help="libero: actions executed per policy call")
    e.add_argument("--official-render", action="store_true", help="libero: 256 px, MSAA, reflections")
    e.set_defaults(fn=cmd_eval)

    pr = sub.add_parser("probe", help="open-loop check: does the predicted motion follow the image?")
    pr.add_argument("--model", required=True, help="bundle folder")
    pr.add_argument("--dataset", required=True, help="LeRobot dataset folder")
    pr.add_argument("--episodes", type=int, default=30, help="the dataset's last N episodes")
    pr.add_argument("--horizon", type=int, default=4, help="actions summed into the compared motion")
    pr.add_argument("--prompt-type", default="none", choices=["none", "point", "line", "box", "mask"])
    pr.add_argument("--device", default="cpu")
    pr.set_defaults(fn=cmd_probe)

    im = sub.add_parser("import", help="turn another project's checkpoint into a PixelVLA bundle")
    im_sub = im.add_subparsers(dest="source", required=True)
    ov = im_sub.add_parser("openvla", help="an OpenVLA folder (Hugging Face layout, local; never downloaded)")
    ov.add_argument(
        "folder", help="config.json with norm_stats, safetensors (sharded + index), tokenizer files"
    )
    ov.add_argument("--out", required=True, help="the bundle folder to write")
    ov.add_argument("--unnorm-key", help="which norm_stats entry un-normalises actions (needed if several)")
    ov.add_argument("--model", help="base model config name or .json whose towers match (default full)")
    ov.add_argument(
        "--dtype", choices=["bfloat16", "float32"], default="bfloat16", help="weights in the bundle"
    )
    ov.add_argument("--seed", type=int, default=0, help="init of the new (PixelVLA) modules")
    ov.set_defaults(fn=cmd_import)

    x = sub.add_parser("export-encoder", help="export a bundle's browser prompt encoder to ONNX")
    x.add_argument("--model", required=True, help="bundle folder")
    x.add_argument("--out", default="public/models")
    x.set_defaults(fn=cmd_export_encoder)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.fn(args)
    except PixelVLAError as exc:
        print(f"pixelvla: error [{exc.code}]: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from exc
    raise SystemExit(code)


if __name__ == "__main__":
    main()
