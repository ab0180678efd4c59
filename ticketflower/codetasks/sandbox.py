"""Run a CODE task's Python in a sandbox that nothing escapes: bubblewrap, seccomp, rlimits, a deadline.

Each run is a new process tree, started as

    prlimit (CPU time, address space, file size, open files, message queues, locked memory,
             no core files)
      setpriv (only when this process is root: become CODE_SANDBOX_UID outside too)
        bwrap (new user, pid, net, ipc, uts, cgroup and mount namespaces; no capabilities;
               uid 65534 inside; no further user namespaces; dies with its parent; a seccomp
               filter: no new processes or threads, no memory outside the limit, seccomp.py)
          python -I -S -B runner.py

The sandbox sees, read-only, /usr (and the interpreter's own prefix) and runner.py, plus its
own /proc and a read-only /dev; nothing is writable, nothing of the project, of /etc or of the
host's other files is there, there is no network at all and no environment. Input and output
pass as JSON over stdin/stdout; the answer is read up to a cap and checked like any JSON from
outside; the whole tree is killed at the wall-clock deadline. Whatever the code does,
`code_run` answers an Outcome, and the calling process is unharmed.

Where the sandbox cannot be built (no bubblewrap, user namespaces disabled, no interpreter the
sandbox user can read, the project or its data inside a path the sandbox would see), runs
answer kind "unavailable" with the reason: code never runs any other way.
"""

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from django.conf import settings

from ticketflower.codetasks import seccomp
from ticketflower.codetasks.checks import MAX_SECONDS
from ticketflower.codetasks.runner import STARTED
from ticketflower.core import pipes
from ticketflower.core.limits import MAX_RESULT_BYTES, JsonRefused, json_loads_bounded

RUNNER = Path(__file__).with_name("runner.py")
INSIDE_RUNNER = "/sandbox/runner.py"
INSIDE_HOME = "/tmp"  # noqa: S108 - an empty, read-only directory of the sandbox's own root
SANDBOX_ID = "65534"  # the uid and gid inside: nobody
STARTUP_SECONDS = 2.0  # on top of a run's own limit: building the sandbox and starting Python
MAX_STDERR_BYTES = 64 * 1024
PRINT_LIMIT = 100_000  # characters the code may print (kept as the run's log)
# Host paths a dynamically linked interpreter may need, as links or read-only directories.
ROOT_ENTRIES = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")

Kind = Literal["ok", "exception", "syntax", "invalid", "timeout", "memory", "output", "unavailable"]


@dataclass(frozen=True)
class Outcome:
    """What came of one run: `output` when kind is "ok", else `message` (and `traceback`).

    Every text in it can be stored as it is: no NUL character, no lone surrogate.
    """

    kind: Kind
    output: dict[str, Any] | None = None
    message: str = ""
    traceback: str = ""
    log: str = ""
    ms: int = 0

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def reason(self) -> str:
        """One paragraph for a ticket admin: the message, then the trimmed traceback."""
        if self.traceback:
            return f"{self.message}\n\n{self.traceback}"
        return self.message


@dataclass(frozen=True)
class Limits:
    seconds: float
    memory_mb: int
    result_bytes: int = MAX_RESULT_BYTES
    print_chars: int = PRINT_LIMIT

    @property
    def answer_bytes(self) -> int:
        # The runner escapes every character beyond ASCII: at most 6 bytes each, log included.
        return self.result_bytes + 6 * self.print_chars + 65536


def limits(seconds: float | None = None) -> Limits:
    """The limits from settings; `seconds` is a task's own timeout (at most checks.MAX_SECONDS)."""
    wanted = float(seconds or settings.CODE_TIME_LIMIT)
    return Limits(seconds=min(wanted, float(MAX_SECONDS)), memory_mb=int(settings.CODE_MEMORY_LIMIT_MB))


def code_run(
    *, source: str, input: dict[str, Any], context: dict[str, Any], seconds: float | None = None
) -> Outcome:
    """Run `run(input, context)` of `source` in a new sandbox. Never raises for what the code does."""
    bounds = limits(seconds)
    found = _interpreter()
    if isinstance(found, _Missing):
        return Outcome("unavailable", message=found.reason)
    request = {
        "source": source,
        "input": input,
        "context": context,
        "print_limit": bounds.print_chars,
        "result_limit": bounds.result_bytes,
    }
    started = time.monotonic()
    exchange = _exchange(found, json.dumps(request).encode(), bounds)
    ms = round((time.monotonic() - started) * 1000)
    outcome = _outcome(exchange, bounds)
    return Outcome(outcome.kind, outcome.output, outcome.message, outcome.traceback, outcome.log, ms)


def sandbox_problem() -> str | None:
    """None when code can run here; otherwise why not, with what to install."""
    found = _interpreter()
    return found.reason if isinstance(found, _Missing) else None


# --- the tools and the interpreter ---------------------------------------------------------------


@dataclass(frozen=True)
class _Tools:
    prlimit: str
    setpriv: str | None  # only when this process is root
    bwrap: str
    python: str
    prefix: str  # the interpreter's installation, bound read-only when it is not under /usr


@dataclass(frozen=True)
class _Missing:
    reason: str


CANNOT = "The code sandbox cannot be built: "
INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `make run` does it when run "
    "as root) and allow unprivileged user namespaces; see docs/code-tasks.md."
)


def _tools() -> _Tools | _Missing:
    bwrap = shutil.which(settings.CODE_SANDBOX_BWRAP)
    if bwrap is None:
        return _Missing(
            f"{CANNOT}bubblewrap ({settings.CODE_SANDBOX_BWRAP}) is not installed. {INSTALL_HINT}"
        )
    prlimit, setpriv = shutil.which("prlimit"), shutil.which("setpriv")
    root = os.geteuid() == 0
    if prlimit is None or (root and setpriv is None):
        return _Missing(f"{CANNOT}prlimit and setpriv (util-linux) are missing.")
    if root and int(settings.CODE_SANDBOX_UID) == 0:
        return _Missing(f"{CANNOT}CODE_SANDBOX_UID must not be 0 (root).")
    return _Tools(prlimit, setpriv if root else None, bwrap, "", "")


def _candidates() -> list[str]:
    """Interpreters to try, best first: the setting, or this process's own, then the system's."""
    if settings.CODE_SANDBOX_PYTHON:
        return [settings.CODE_SANDBOX_PYTHON]
    own = str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    system = [str(Path(p).resolve()) for p in SYSTEM_PYTHONS if Path(p).exists()]
    return list(dict.fromkeys([own, *system]))


def _interpreter() -> _Tools | _Missing:
    """The tools and the first interpreter a sandbox runs, or why there are none.

    A sandbox found is remembered per process (per settings that shape it); a failure is looked
    at again next time, as the operator may have fixed it.
    """
    key = (
        settings.CODE_SANDBOX_BWRAP,
        settings.CODE_SANDBOX_PYTHON,
        int(settings.CODE_SANDBOX_UID),
        int(settings.CODE_MEMORY_LIMIT_MB),
        tuple(_private_paths()),
    )
    found = _found.get(key)
    if found is not None:
        return found
    tools = _tools()
    if isinstance(tools, _Missing):
        return tools
    reasons = []
    for python in _candidates():
        candidate = _with_python(tools, python)
        why = _exposed(candidate) or _works_reason(candidate)
        if not why:
            _found[key] = candidate
            return candidate
        reasons.append(f"{python}: {why}")
    return _Missing(
        CANNOT + "; ".join(reasons) + f". {INSTALL_HINT} "
        "Or set CODE_SANDBOX_PYTHON to a Python 3.11 or newer that the sandbox user can read."
    )


_found: dict[tuple[Any, ...], _Tools] = {}


def _with_python(tools: _Tools, python: str) -> _Tools:
    prefix = str(Path(python).resolve().parent.parent)
    return _Tools(tools.prlimit, tools.setpriv, tools.bwrap, python, prefix)


def _mounted(tools: _Tools) -> list[Path]:
    """The host directories the sandbox would see."""
    roots = [Path("/usr"), Path(tools.prefix)]
    roots += [Path(entry) for entry in ROOT_ENTRIES if Path(entry).is_dir() and not Path(entry).is_symlink()]
    return roots


def _private_paths() -> list[Path]:
    """What code must never see: the project, its data (files, the embedded database), the socket."""
    paths = [Path(settings.BASE_DIR), Path(settings.DATA_DIR)]
    database = settings.DATABASES["default"]
    paths += [
        Path(str(database[key])) for key in ("PGDATA", "HOST") if str(database.get(key) or "").startswith("/")
    ]
    storage = cast(dict[str, Any], settings.STORAGES.get("default") or {})
    location = (storage.get("OPTIONS") or {}).get("location")
    if location:
        paths.append(Path(str(location)))
    return [path.resolve() for path in paths]


def _exposed(tools: _Tools) -> str:
    """Why this sandbox would show something private; "" when it would not."""
    for root in _mounted(tools):
        resolved = root.resolve()
        if resolved == Path("/"):
            return f"it would show the whole file system ({tools.python}'s prefix is /)"
        for private in _private_paths():
            if private.is_relative_to(resolved):
                return f"it would show {private}, which is inside {resolved}"
    return ""


def _works_reason(tools: _Tools) -> str:
    """ "" when a trivial run answers in the sandbox built with `tools`; else what went wrong."""
    bounds = limits(5)
    request = {
        "source": "def run(input, context):\n    return {'ok': input['n'] + 1}\n",
        "input": {"n": 1},
        "context": {},
        "print_limit": 100,
        "result_limit": 1000,
    }
    outcome = _outcome(_exchange(tools, json.dumps(request).encode(), bounds), bounds)
    if outcome.ok and outcome.output == {"ok": 2}:
        return ""
    return (outcome.message or f"it answered {outcome.kind}").removeprefix(CANNOT)


# --- the command ---------------------------------------------------------------------------------


def _root_entries() -> list[str]:
    args: list[str] = []
    for entry in ROOT_ENTRIES:
        path = Path(entry)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), entry]
        elif path.is_dir():
            args += ["--ro-bind", entry, entry]
    return args


def _command(tools: _Tools, bounds: Limits, seccomp_fd: int, runner_fd: int) -> list[str]:
    cpu = max(1, math.ceil(bounds.seconds))
    memory = bounds.memory_mb * 1024 * 1024
    command = [
        tools.prlimit,
        f"--cpu={cpu}:{cpu + 1}",
        f"--as={memory}",
        "--fsize=1048576",  # nothing is writable anyway; bwrap itself writes the runner's copy
        "--nofile=64",
        "--msgqueue=0",
        "--memlock=0",
        "--core=0",
        "--",
    ]
    if tools.setpriv:
        uid = str(int(settings.CODE_SANDBOX_UID))
        command += [
            tools.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
    prefix = [] if Path(tools.prefix).is_relative_to("/usr") else ["--ro-bind", tools.prefix, tools.prefix]
    command += [
        tools.bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        SANDBOX_ID,
        "--gid",
        SANDBOX_ID,
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--seccomp",
        str(seccomp_fd),
        "--clearenv",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "HOME",
        INSIDE_HOME,
        "--ro-bind",
        "/usr",
        "/usr",
        *_root_entries(),
        *prefix,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--remount-ro",
        "/dev",  # its tmpfs (and /dev/shm) would hold memory outside the limit
        "--ro-bind-data",  # a copy: no path of the project shows, not even in /proc/self/mountinfo
        str(runner_fd),
        INSIDE_RUNNER,
        "--dir",
        INSIDE_HOME,
        "--remount-ro",
        "/",  # bubblewrap's root is a tmpfs: nothing stays writable
        "--chdir",
        INSIDE_HOME,
        "--",
        tools.python,
        "-I",
        "-S",
        "-B",
        INSIDE_RUNNER,
    ]
    return command


# --- one exchange --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Exchange:
    stdout: bytes
    stderr: bytes
    returncode: int | None
    timed_out: bool = False
    too_big: bool = False
    noisy: bool = False  # wrote past the cap of its error output
    start_error: str = ""


def _exchange(tools: _Tools, request: bytes, bounds: Limits) -> _Exchange:
    """Start a sandbox, send `request`, read the answer up to its cap; kill it all at the deadline."""
    try:
        program = seccomp.program()
    except seccomp.Unsupported as exc:
        return _Exchange(b"", b"", None, start_error=str(exc))
    filter_fd, runner_fd = _memory_file(program), _memory_file(_runner_source())
    try:
        process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
            _command(tools, bounds, filter_fd, runner_fd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            close_fds=True,
            pass_fds=(filter_fd, runner_fd),
            start_new_session=True,
        )
    except OSError as exc:
        return _Exchange(b"", b"", None, start_error=f"it could not start: {exc}")
    finally:
        os.close(filter_fd)
        os.close(runner_fd)
    done = pipes.exchange(
        process,
        request,
        seconds=bounds.seconds + STARTUP_SECONDS,
        max_stdout=bounds.answer_bytes,
        max_stderr=MAX_STDERR_BYTES,
        kill=_kill,
    )
    too_big = done.overflowed and len(done.stdout) >= bounds.answer_bytes
    # Past the stderr cap only the code's own writes can be (the runner's are a line or two).
    noisy = done.overflowed and not too_big
    return _Exchange(done.stdout, done.stderr, done.returncode, done.timed_out, too_big, noisy)


def _memory_file(content: bytes) -> int:
    """A file descriptor to read `content` from, from its start (bwrap reads it once)."""
    fd = os.memfd_create("ticketflower-sandbox", os.MFD_CLOEXEC)
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@functools.cache
def _runner_source() -> bytes:
    return RUNNER.read_bytes()


def _kill(process: subprocess.Popen[bytes]) -> None:
    # bwrap dies, and with it (--die-with-parent, the pid namespace) everything the code started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        process.kill()


# --- what came of it -----------------------------------------------------------------------------


def _text(value: Any, most: int) -> str:
    """A text from the sandbox, as it can be stored: no NUL, no lone surrogate, at most `most` long."""
    text = str(value or "")[:most]
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _outcome(exchange: _Exchange, bounds: Limits) -> Outcome:
    seconds = f"{bounds.seconds:g} second{'s' if bounds.seconds != 1 else ''}"
    if exchange.start_error:
        return Outcome("unavailable", message=f"{CANNOT}{exchange.start_error}.")
    if exchange.timed_out:
        return Outcome("timeout", message=f"The code did not finish within {seconds}.")
    too_big = Outcome("output", message=f"The result is larger than {bounds.result_bytes:,} bytes.")
    if exchange.too_big:
        return too_big
    if exchange.noisy:
        return Outcome(
            "output", message=f"The code wrote more than {MAX_STDERR_BYTES:,} bytes to its error output."
        )
    try:
        answer = json_loads_bounded(exchange.stdout)
    except JsonRefused as exc:
        if exc.not_json:
            return _no_answer(exchange, bounds, seconds)
        return Outcome("invalid", message=f"The code's answer {exc}.")
    if not isinstance(answer, dict):
        return _no_answer(exchange, bounds, seconds)
    log = _text(answer.get("log"), bounds.print_chars)
    if isinstance(answer.get("error"), dict):
        error = answer["error"]
        return Outcome(
            _kind(error.get("kind")),
            message=_text(error.get("message"), 10_000),
            traceback=_text(error.get("traceback"), 10_000),
            log=log,
        )
    output = answer.get("output")
    if not isinstance(output, dict):
        return _no_answer(exchange, bounds, seconds)
    if len(json.dumps(output).encode()) > bounds.result_bytes:
        return too_big
    return Outcome("ok", output=output, log=log)


def _kind(kind: Any) -> Kind:
    known: tuple[Kind, ...] = ("exception", "syntax", "invalid", "timeout", "memory", "output")
    return kind if kind in known else "invalid"


def _no_answer(exchange: _Exchange, bounds: Limits, seconds: str) -> Outcome:
    """The process ended without a readable answer: why, as far as its end tells."""
    stderr = exchange.stderr.decode("utf-8", "replace")
    code = exchange.returncode
    if STARTED not in stderr:
        # The runner never said it started: the sandbox (or Python in it) did not come up. (Code
        # can write to stderr only after the runner has said so.)
        tool_error = next(
            (line for line in stderr.splitlines() if line.startswith(("bwrap:", "setpriv:", "prlimit:"))), ""
        )
        if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
            return Outcome("memory", message=f"Python did not start in {bounds.memory_mb} MB.")
        why = tool_error or f"Python did not start (exit status {code})"
        return Outcome("unavailable", message=f"{CANNOT}{_text(why, 500)}")
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return Outcome("timeout", message=f"The code used more than {seconds} of CPU time.")
    if code in (-signal.SIGKILL, 128 + signal.SIGKILL):
        return Outcome(
            "timeout",
            message=f"The code was stopped: it used more than {seconds} of CPU time or too much memory.",
        )
    if exchange.stdout:
        return Outcome("invalid", message="The code wrote something other than its answer to the output.")
    return Outcome("invalid", message=f"The code stopped without an answer (exit status {code}).")
