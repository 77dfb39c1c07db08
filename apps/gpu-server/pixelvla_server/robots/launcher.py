"""Remote robots the server starts itself: a LIBERO task as a robot, on request from the studio.

Without this a user runs ``python -m pixelvla_robot.libero --server ...`` by hand in LIBERO's own
environment (var/libero-venv). Here the server does it (docs/PROTOCOLS.md "Launched robots"):

- ``GET /v1/remote-robots/launchable``: what can be launched (the four paper suites, their tasks'
  instructions from pixelvla_libero.tasks, the 50 official initial states) and whether LIBERO's
  environment is installed yet.
- ``POST /v1/remote-robots/launch {kind: "libero", suite, task_id, init_index, name?}`` (operator):
  answers 202 at once with a launch record; a thread then runs packages/libero/scripts/venv.sh
  (status ``installing``: a no-op when the environment is there, ~2 GB of wheels on first use; a
  failed install ends in ``failed`` with the typed error ``libero_unavailable`` and what to do), then
  spawns ``python -m pixelvla_robot.libero --server ws://<this server> --name NAME ...`` in that
  environment (status ``starting`` while LIBERO builds its scene), which connects back to
  WS /v1/remote-robots/connect like any remote robot (``connected``: it is in GET /v1/remote-robots
  and a session drives it with POST /v1/robots {"robot": "remote:NAME", "seed": init_index}).
- ``GET /v1/remote-robots/launched``: the launch records; the last stderr lines of the install and
  of the robot process are in ``log``, and a process that ended on its own is ``exited`` with
  ``robot_exited`` and those lines as the error.
- ``DELETE /v1/remote-robots/launched/{id}`` (operator): stops it (SIGINT: the robot client stops
  the arm and closes the env; SIGKILL after a grace period) and forgets the record. Server shutdown
  stops every launched robot the same way.

At most ``MAX_RUNNING`` launched robots run at once (each is a LIBERO process: ~1 GB of memory and
most of a CPU core rendering in software). The robot gets the server's tokens through its environment
(PIXELVLA_API_TOKEN / PIXELVLA_OPERATOR_TOKEN), never on its command line.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import signal
import subprocess
import threading
import time
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ..config import Settings
from ..errors import ERROR_RESPONSES, ApiError, Conflict, ErrorBody, ErrorResponse, NotFound
from ..security import require_operator
from .remote import NAME_PATTERN, RemoteHub

log = logging.getLogger("pixelvla_server.robots.launcher")
router = APIRouter(prefix="/v1/remote-robots", tags=["robots"], responses=ERROR_RESPONSES)
OPERATOR: dict[int | str, dict[str, Any]] = {403: {"model": ErrorResponse, "description": "Operator token"}}

MAX_RUNNING = 2  # launched robots installing, starting or connected at once
MAX_RECORDS = 16  # launch records kept (ended ones too, so the studio can show why)
LOG_LINES = 20
STOP_GRACE_S = 10.0  # SIGINT, then SIGKILL: the client stops the arm and closes LIBERO's env first
INIT_STATES = 50  # the official fixed initial states per LIBERO task

Suite = Literal["libero_spatial", "libero_object", "libero_goal", "libero_10"]
Status = Literal["installing", "starting", "connected", "stopped", "exited", "failed"]
RUNNING: frozenset[str] = frozenset({"installing", "starting", "connected"})


class LaunchRequest(BaseModel):
    kind: Literal["libero"] = Field(default="libero", description="what to launch: a LIBERO task")
    suite: Suite
    task_id: int = Field(ge=0, le=1000, description="the task's index in its suite (GET .../launchable)")
    init_index: int = Field(
        default=0, ge=0, lt=INIT_STATES, description="the official initial state the robot starts from"
    )
    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = Field(
        default=None, description="the robot's name in the picker; default libero-<suite>-t<task>-i<init>"
    )
    image_size: int = Field(default=128, ge=32, le=512, description="agentview's side in pixels")


class LaunchedRobot(BaseModel):
    id: str
    name: str
    kind: str
    suite: str
    task_id: int
    init_index: int = Field(description="the seed to give the session (its reset's initial state)")
    instruction: str
    status: Status = Field(
        description="installing (LIBERO's environment), starting (the process builds its scene), "
        "connected (a remote robot now), stopped (by DELETE or shutdown), exited (on its own), "
        "failed (the install failed)"
    )
    error: ErrorBody | None = Field(description="libero_unavailable or robot_exited, with the reason")
    exit_code: int | None
    pid: int | None
    age_s: float = Field(description="seconds since the launch was requested")
    log: list[str] = Field(description="the last stderr lines of the install and the robot process")


class LaunchedList(BaseModel):
    robots: list[LaunchedRobot]
    max_running: int


class LaunchableTask(BaseModel):
    task_id: int
    instruction: str


class LaunchableSuite(BaseModel):
    suite: str
    tasks: list[LaunchableTask]


class LaunchableKind(BaseModel):
    kind: str
    available: bool = Field(description="the server can launch it (pixelvla_libero is importable)")
    installed: bool = Field(
        description="LIBERO's environment is installed (else the first launch installs it)"
    )
    init_states: int
    suites: list[LaunchableSuite]
    message: str | None = Field(description="why it is not available, and what to do")


class Launchable(BaseModel):
    kinds: list[LaunchableKind]
    max_running: int


class LiberoUnavailable(ApiError):
    status = 503
    code = "libero_unavailable"


def _libero_host() -> Any:
    """pixelvla_libero.host (packages/libero: the venv script, the harness's environment), or a typed
    error when the server's environment lacks it (a server installed without the workspace)."""
    try:
        from pixelvla_libero import host
    except ImportError as exc:
        raise LiberoUnavailable(
            "pixelvla_libero is not installed in the server's environment; run the server from the "
            "project's workspace (`npm run bootstrap` installs packages/libero into .venv)"
        ) from exc
    return host


def _tasks() -> dict[str, tuple[str, ...]]:
    try:
        from pixelvla_libero.tasks import TASKS
    except ImportError:
        return {}
    return dict(TASKS)


def default_name(req: LaunchRequest) -> str:
    return f"libero-{req.suite.removeprefix('libero_')}-t{req.task_id}-i{req.init_index}"


class Launch:
    """One launched robot: its install, its process, its last stderr lines. Fields change on the
    launch's own thread and are read by the routes, under ``lock``."""

    def __init__(self, launch_id: str, name: str, req: LaunchRequest, instruction: str):
        self.id = launch_id
        self.name = name
        self.req = req
        self.instruction = instruction
        self.lock = threading.Lock()
        self.status: str = "installing"
        self.error: ErrorBody | None = None
        self.exit_code: int | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.stopping = False
        self.created = time.monotonic()
        self.log: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.thread: threading.Thread | None = None

    def running(self) -> bool:
        with self.lock:
            return self.status in RUNNING

    def info(self, hub: RemoteHub) -> LaunchedRobot:
        connected = any(link.hello.name == self.name for link in hub.list())
        with self.lock:
            status = self.status
            if status == "starting" and connected:
                status = "connected"
            return LaunchedRobot(
                id=self.id,
                name=self.name,
                kind=self.req.kind,
                suite=self.req.suite,
                task_id=self.req.task_id,
                init_index=self.req.init_index,
                instruction=self.instruction,
                status=status,  # type: ignore[arg-type]
                error=self.error,
                exit_code=self.exit_code,
                pid=self.proc.pid if self.proc is not None and status in RUNNING else None,
                age_s=round(time.monotonic() - self.created, 2),
                log=list(self.log),
            )


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # its own session (start_new_session): the group is its pid


class Launcher:
    """The launched robots of one server; ``close`` at shutdown stops them all."""

    def __init__(self, settings: Settings, hub: RemoteHub, *, max_running: int = MAX_RUNNING):
        self.settings = settings
        self.hub = hub
        self.max_running = max_running
        self._launches: dict[str, Launch] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False

    # ---- what the routes call
    def launchable(self) -> Launchable:
        tasks = _tasks()
        available, installed, message = True, False, None
        try:
            host = _libero_host()
            installed = (host.venv_dir() / ".lock-sha256").is_file()
        except LiberoUnavailable as exc:
            available, message = False, exc.message
        suites = [
            LaunchableSuite(
                suite=s, tasks=[LaunchableTask(task_id=i, instruction=t) for i, t in enumerate(ts)]
            )
            for s, ts in tasks.items()
        ]
        kind = LaunchableKind(
            kind="libero",
            available=available,
            installed=installed,
            init_states=INIT_STATES,
            suites=suites,
            message=message,
        )
        return Launchable(kinds=[kind], max_running=self.max_running)

    def launch(self, req: LaunchRequest, server_url: str) -> Launch:
        host = _libero_host()
        instructions = _tasks().get(req.suite, ())
        if not 0 <= req.task_id < len(instructions):
            raise ApiError(
                f"{req.suite} has tasks 0..{len(instructions) - 1}, not {req.task_id} "
                "(GET /v1/remote-robots/launchable lists them)",
                code="unknown_task",
            )
        name = req.name or default_name(req)
        with self._lock:
            if self._closed:
                raise Conflict("the server is shutting down", code="shutting_down")
            if any(x.name == name and x.running() for x in self._launches.values()) or any(
                link.hello.name == name for link in self.hub.list()
            ):
                raise Conflict(
                    f"a robot named {name!r} is already launched or connected; stop it first or "
                    "pick another name",
                    code="robot_name_taken",
                )
            running = sum(x.running() for x in self._launches.values())
            if running >= self.max_running:
                raise Conflict(
                    f"at most {self.max_running} launched robots run at once (each is a LIBERO process "
                    "rendering on the CPU); stop one with DELETE /v1/remote-robots/launched/{id}",
                    code="too_many_launched",
                )
            ended = [k for k, x in self._launches.items() if not x.running()]
            for k in ended[: max(0, len(self._launches) + 1 - MAX_RECORDS)]:
                del self._launches[k]  # the oldest ended records make room
            launch = Launch(f"launch-{next(self._ids)}", name, req, instructions[req.task_id])
            self._launches[launch.id] = launch
        launch.thread = threading.Thread(
            target=self._run, args=(launch, host, server_url), name=f"launch-{name}", daemon=True
        )
        launch.thread.start()
        log.info("robot launch", extra={"robot": name, "suite": req.suite, "task_id": req.task_id})
        return launch

    def records(self) -> list[LaunchedRobot]:
        with self._lock:
            launches = list(self._launches.values())
        return [x.info(self.hub) for x in launches]

    def get(self, launch_id: str) -> Launch:
        with self._lock:
            launch = self._launches.get(launch_id)
        if launch is None:
            raise NotFound(f"no launched robot {launch_id!r}", code="unknown_launch")
        return launch

    def delete(self, launch_id: str) -> None:
        launch = self.get(launch_id)
        self._stop(launch)
        with self._lock:
            self._launches.pop(launch_id, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            launches = list(self._launches.values())
        for x in launches:  # signal them all first, then wait: shutdown takes one grace period at most
            self._signal(x, signal.SIGINT)
        for x in launches:
            self._stop(x)

    # ---- the launch's thread
    def _signal(self, launch: Launch, sig: int) -> None:
        with launch.lock:
            launch.stopping = True
            proc = launch.proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc, sig)

    def _stop(self, launch: Launch) -> None:
        self._signal(launch, signal.SIGINT)
        with launch.lock:
            proc = launch.proc
        if proc is not None:
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        if launch.thread is not None and launch.thread is not threading.current_thread():
            launch.thread.join(timeout=STOP_GRACE_S)

    def _spawn(self, launch: Launch, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str] | None:
        """Start a child in its own session with stderr piped, unless the launch is being stopped."""
        with launch.lock:
            if launch.stopping:
                return None
            launch.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                start_new_session=True,
            )
            return launch.proc

    def _drain(self, launch: Launch, stream: IO[str] | None) -> None:
        for line in stream or ():
            line = line.rstrip()
            if line:
                with launch.lock:
                    launch.log.append(line[:500])

    def _end(self, launch: Launch, status: str, error: ErrorBody | None, code: int | None) -> None:
        with launch.lock:
            launch.status = "stopped" if launch.stopping else status
            launch.error = None if launch.stopping else error
            launch.exit_code = code
        log.info("launched robot ended", extra={"robot": launch.name, "status": launch.status, "exit": code})

    def _run(self, launch: Launch, host: Any, server_url: str) -> None:
        try:
            python = self._install(launch, host)
            if python is None:
                return
            self._robot(launch, host, python, server_url)
        except Exception as exc:  # a bug here must still end the record, not leave it "installing"
            log.exception("robot launch failed", extra={"robot": launch.name})
            self._end(
                launch,
                "failed",
                ErrorBody(code="launch_failed", message=f"{type(exc).__name__}: {exc}"),
                None,
            )

    def _install(self, launch: Launch, host: Any) -> str | None:
        script = str(host.VENV_SCRIPT)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        proc = self._spawn(launch, ["bash", script], env)
        if proc is None:
            self._end(launch, "stopped", None, None)
            return None
        with launch.lock:
            launch.log.append(f"$ bash {script}  (LIBERO's environment: installed on first use, ~2 GB)")
        reader = threading.Thread(target=self._drain, args=(launch, proc.stderr), daemon=True)
        reader.start()
        out = proc.stdout.read() if proc.stdout is not None else ""
        code = proc.wait()
        reader.join()
        lines = [x for x in out.splitlines() if x.strip()]
        if code != 0 or not lines:
            with launch.lock:
                said = " | ".join(list(launch.log)[-3:])
            self._end(
                launch,
                "failed",
                ErrorBody(
                    code="libero_unavailable",
                    message=f"installing LIBERO's environment failed (exit {code}): {said}. Run "
                    f"`bash {script}` on the server to see the whole output; it needs Python 3.11 "
                    "(pyenv or python3.11 on PATH), uv, network access to PyPI and ~2 GB of disk "
                    "(LIBERO_PYTHON names the interpreter, LIBERO_VENV where it goes)",
                ),
                code,
            )
            return None
        return lines[-1].strip()

    def _robot(self, launch: Launch, host: Any, python: str, server_url: str) -> None:
        req = launch.req
        argv = [python, "-m", "pixelvla_robot.libero", "--server", server_url, "--name", launch.name]
        argv += ["--suite", req.suite, "--task-id", str(req.task_id), "--init-index", str(req.init_index)]
        argv += ["--image-size", str(req.image_size)]
        env: dict[str, str] = host.harness_env()  # PYTHONPATH, software GL, one llvmpipe thread
        for var, value in (
            ("PIXELVLA_API_TOKEN", self.settings.api_token),
            ("PIXELVLA_OPERATOR_TOKEN", self.settings.operator_token),
        ):
            if value is None:
                env.pop(var, None)
            else:
                env[var] = value
        with launch.lock:
            launch.log.append(f"$ {' '.join(argv)}")
            if not launch.stopping:
                launch.status = "starting"
        proc = self._spawn(launch, argv, env)
        if proc is None:
            self._end(launch, "stopped", None, None)
            return
        if proc.stdout is not None:
            proc.stdout.close()  # it prints nothing there without --events
        self._drain(launch, proc.stderr)
        code = proc.wait()
        with launch.lock:
            said = " | ".join(list(launch.log)[-3:])
        error = ErrorBody(
            code="robot_exited",
            message=f"the LIBERO robot process exited with code {code}: {said}",
        )
        self._end(launch, "exited", error, code)


def server_ws_url(request: Request) -> str:
    """This server as the launched robot reaches it: the address the request came in on (a wildcard
    bind means loopback), ws:// or wss:// as the request was."""
    settings: Settings = request.app.state.studio.settings
    server = request.scope.get("server") or (settings.host, settings.port)
    host, port = str(server[0]), int(server[1])
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{host}:{port}"


def launcher(request: Request) -> Launcher:
    return request.app.state.studio.launcher  # type: ignore[no-any-return]


Launchers = Annotated[Launcher, Depends(launcher)]


@router.get("/launchable", response_model=Launchable)
def get_launchable(m: Launchers) -> Launchable:
    """What the server can launch as a remote robot: LIBERO's four paper suites with their tasks'
    instructions and the 50 official initial states, and whether LIBERO's environment is installed."""
    return m.launchable()


@router.post(
    "/launch",
    response_model=LaunchedRobot,
    status_code=202,
    responses={**OPERATOR, 409: {"model": ErrorResponse, "description": "Name taken or too many"}},
    dependencies=[Depends(require_operator)],
)
def launch_robot(body: LaunchRequest, request: Request, m: Launchers) -> LaunchedRobot:
    """Start a LIBERO task as a remote robot: the server installs LIBERO's environment when missing
    (status installing), runs `python -m pixelvla_robot.libero` in it (starting), and the robot
    connects back (connected: drive it with POST /v1/robots {"robot": "remote:<name>", "seed":
    init_index}). Poll GET /v1/remote-robots/launched. Operator only."""
    return m.launch(body, server_ws_url(request)).info(m.hub)


@router.get("/launched", response_model=LaunchedList)
def list_launched(m: Launchers) -> LaunchedList:
    """The robots this server launched, running or ended (with the reason), newest last."""
    return LaunchedList(robots=m.records(), max_running=m.max_running)


@router.get("/launched/{launch_id}", response_model=LaunchedRobot)
def get_launched(launch_id: str, m: Launchers) -> LaunchedRobot:
    """One launched robot: its status, typed error and last stderr lines (404 unknown_launch)."""
    return m.get(launch_id).info(m.hub)


@router.delete(
    "/launched/{launch_id}", status_code=204, responses=OPERATOR, dependencies=[Depends(require_operator)]
)
def delete_launched(launch_id: str, m: Launchers) -> None:
    """Stop a launched robot (a session driving it stops with robot_disconnected) and forget it.
    Operator only."""
    m.delete(launch_id)
