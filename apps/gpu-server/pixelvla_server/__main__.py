"""`python -m pixelvla_server`: parse flags, check the environment, serve. Fails fast on bad configuration."""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from .config import POLICY_BACKENDS, ConfigError, Settings, from_env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="pixelvla_server",
        description="PixelVLA Studio GPU server. Every flag also reads from PIXELVLA_<NAME> in the environment.",
    )
    p.add_argument("--host", help="bind address (default 127.0.0.1; other addresses need --api-token)")
    p.add_argument("--port", type=int, help="TCP port (default 8000)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument(
        "--policy-backend",
        choices=list(POLICY_BACKENDS),
        help="torch (default); onnx: the served tiny model's chunk through ONNX Runtime on the CPU; "
        "onnx-int8: the same with int8 matmul weights (faster, actions within 0.05 normalised)",
    )
    p.add_argument("--model", help="model id to load at start (default: the demo bundle when present)")
    p.add_argument("--data-dir", help="folder for the run registry, runs and datasets (default ./var)")
    p.add_argument("--models-dir", help="folder of checkpoint bundles (default ./models)")
    p.add_argument(
        "--datasets-dir",
        help="a folder of LeRobot v3.0 datasets (or one dataset) to list beside <data-dir>/datasets",
    )
    p.add_argument("--api-token", help="token every request must carry when binding beyond loopback")
    p.add_argument("--operator-token", help="token needed to command robots and launch runs")
    p.add_argument(
        "--studio-origin", action="append", dest="studio_origins", help="allowed CORS origin (repeatable)"
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--run-command", help="training/eval command template (see README: run command template)")
    p.add_argument("--run-slots", type=int, help="concurrent runs (default: one per GPU, one on CPU)")
    p.add_argument(
        "--runner",
        choices=["subprocess", "ray"],
        help="where runs execute: subprocess (default, on this machine) or ray (jobs on a Ray cluster)",
    )
    p.add_argument(
        "--ray-address",
        metavar="URL",
        help="the Ray cluster's job API (dashboard) address for --runner ray, e.g. http://head:8265",
    )
    p.add_argument("--deadman-ms", type=int, help="robot dead-man timeout in ms (default 200)")
    p.add_argument(
        "--no-model",
        dest="load_model",
        action="store_const",
        const=False,
        help="start without loading a model",
    )
    return p.parse_args(argv)


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use; stop the other process "
                    f"(`ss -ltnp 'sport = :{port}'` shows it) or pass --port N / set PIXELVLA_PORT"
                ) from exc
            raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror}") from exc


def check_model(settings: Settings) -> None:
    from .ids import list_model_dirs, model_roots

    if settings.model and settings.load_model and settings.model not in list_model_dirs(settings):
        roots = ", ".join(str(r) for r in model_roots(settings))
        raise ConfigError(
            f"model {settings.model!r} is not in the model registry ({roots}); "
            "check GET /v1/models for the ids, or omit --model to use the default"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    if "studio_origins" in overrides:
        overrides["studio_origins"] = tuple(overrides["studio_origins"])
    try:
        settings = from_env(**overrides)
        check_port_free(settings.host, settings.port)
        check_model(settings)
        from . import logs

        logs.configure(settings.log_level)
        from .app import create_app

        app = create_app(settings)
    except ConfigError as exc:
        print(f"pixelvla_server: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc

    import uvicorn

    # Keep Python's default GIL switch interval (5 ms): measured with the bench, 0.5 ms made the
    # model forward on the worker thread ~30x slower (GIL thrash with the event loop).

    print(f"pixelvla_server: serving on http://{settings.host}:{settings.port}", file=sys.stderr, flush=True)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_config=None, ws_max_size=settings.max_request_bytes
    )


if __name__ == "__main__":
    main()
