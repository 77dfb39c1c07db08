"""`pixelvla eval --env libero`: the project's side of the LIBERO evaluation.

LIBERO lives in its own environment (var/libero-venv, see scripts/venv.sh), so this module, run in
the project's .venv, does three things and no simulation:

1. installs LIBERO's environment from the committed lock when it is missing (cached after);
2. when no ``--server`` is given, serves the ``--model`` bundle itself: the real GPU server app
   (``pixelvla_server.live.serve``) on a free loopback port, in this process;
3. runs ``python -m pixelvla_libero.harness`` in LIBERO's interpreter against that server and
   passes its progress through; its JSON summary line is this command's result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pixelvla.errors import PixelVLAError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # packages/libero
VENV_SCRIPT = PACKAGE_ROOT / "scripts" / "venv.sh"


def venv_dir() -> Path:
    """Where scripts/venv.sh installs LIBERO's environment: $LIBERO_VENV, else var/libero-venv."""
    return Path(os.environ.get("LIBERO_VENV") or PACKAGE_ROOT.parents[1] / "var" / "libero-venv")


class LiberoEvalError(PixelVLAError):
    """LIBERO's environment, the server or the harness failed; the message says which."""

    default_code = "libero_eval_failed"


def _error(message: str, code: str) -> LiberoEvalError:
    return LiberoEvalError(message, code=code)


def libero_python(*, quiet: bool = False) -> Path:
    """LIBERO's interpreter, installing its environment first when it is missing or stale."""
    proc = subprocess.run(
        ["bash", str(VENV_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise _error(
            f"installing LIBERO's environment failed ({VENV_SCRIPT}, exit {proc.returncode})",
            "libero_venv_failed",
        )
    return Path(lines[-1])


def harness_env() -> dict[str, str]:
    """The harness's environment: our package on the path, software GL unless told otherwise."""
    env = dict(os.environ)
    # pixelvla_robot (packages/robot-client: numpy + msgpack + websockets) brings the wire layout.
    paths = [str(PACKAGE_ROOT), str(PACKAGE_ROOT.parent / "robot-client")]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("MUJOCO_GL", "osmesa")
    env.setdefault("PYOPENGL_PLATFORM", env["MUJOCO_GL"])
    env.setdefault("OMP_NUM_THREADS", "1")
    # One llvmpipe thread: on a busy box its render threads only contend (measured: 65 vs 76 CPU ms
    # per rendered step with the default two threads on two cores; see the README).
    env.setdefault("LP_NUM_THREADS", "1")
    env.pop("VIRTUAL_ENV", None)
    return env


@contextmanager
def serving(model: str, *, device: str = "cpu") -> Iterator[str]:
    """The GPU server with ``model`` (a bundle folder, or a model id in ./models) on a free port."""
    from pixelvla_server.config import Settings
    from pixelvla_server.live import serve, wait_model

    path = Path(model)
    models_dir, model_id = (
        (path.parent, path.name) if (path / "config.json").is_file() else (Path("models"), model)
    )
    with tempfile.TemporaryDirectory(prefix="pixelvla-libero-") as data:
        settings = Settings(
            device=device,
            data_dir=Path(data),
            models_dir=models_dir.resolve(),
            model=model_id,
            log_level="warning",
        )
        with serve(settings) as server:
            try:
                wait_model(server.app)
            except (RuntimeError, TimeoutError) as e:
                raise _error(f"the server could not load model {model!r}: {e}", "model_not_loaded") from e
            yield server.url


def harness_args(
    server: str,
    suite: str,
    out: Path,
    *,
    tasks: Sequence[str] | None = None,
    init_states: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = ["-m", "pixelvla_libero.harness", "--server", server, "--suite", suite, "--out", str(out)]
    if tasks:
        args += ["--tasks", *tasks]
    if init_states:
        args += ["--init-states", *init_states]
    return [*args, *extra]


def run_harness(python: Path, args: Sequence[str]) -> dict[str, Any]:
    """Run the harness; its stderr (progress) passes through, its last stdout line is the result."""
    proc = subprocess.run(
        [str(python), *args], stdout=subprocess.PIPE, text=True, env=harness_env(), check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise _error(
            f"the LIBERO harness failed (exit {proc.returncode}); see its messages above",
            "libero_harness_failed",
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def evaluate(
    *,
    suite: str,
    out: Path,
    server: str | None = None,
    model: str | None = None,
    device: str = "cpu",
    tasks: Sequence[str] | None = None,
    init_states: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """What `pixelvla eval --env libero` does (see the module docstring)."""
    python = libero_python()
    if server:
        return run_harness(
            python, harness_args(server, suite, out, tasks=tasks, init_states=init_states, extra=extra)
        )
    if not model:
        raise _error(
            "pass --server URL (a running GPU server) or --model BUNDLE (served here)", "model_required"
        )
    with serving(model, device=device) as url:
        return run_harness(
            python, harness_args(url, suite, out, tasks=tasks, init_states=init_states, extra=extra)
        )


def cli_eval(args: Any) -> int:
    """The `pixelvla eval --env libero` entry point (args from pixelvla.cli's eval parser: --tasks
    are task indices there, --prompt-types takes one type)."""
    if not args.suite:
        raise _error(
            "--env libero needs --suite (libero_spatial, libero_object, libero_goal or libero_10)",
            "suite_required",
        )
    types = list(args.prompt_types or ["mask"])
    if len(types) != 1:
        raise _error(f"--env libero evaluates one prompt type per run, got {types}", "invalid_prompt_type")
    extra: list[str] = ["--prompt-type", types[0], "--gripper", args.gripper]
    if args.replan_steps:
        extra += ["--replan-steps", str(args.replan_steps)]
    if args.official_render:
        extra.append("--official-render")
    if args.quiet:
        extra.append("--quiet")
    result = evaluate(
        suite=args.suite,
        out=Path(args.out),
        server=args.server,
        model=args.model,
        device=args.device,
        tasks=args.tasks,
        init_states=args.init_states,
        extra=extra,
    )
    md = result.get("markdown")
    if md and Path(md).is_file():
        print(Path(md).read_text(encoding="utf-8"))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # python -m pixelvla_libero.host --python: print LIBERO's interpreter
    print(libero_python())
    sys.exit(0)
