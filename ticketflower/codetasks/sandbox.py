"""Run a CODE task's Python in a sandbox that nothing escapes: bubblewrap, rlimits, a deadline.

Each run is a new process tree, started as

    prlimit (CPU time, address space, file size, open files, no core files)
      setpriv (only when this process is root: become CODE_SANDBOX_UID outside too)
        bwrap (new user, pid, net, ipc, uts, cgroup and mount namespaces; no capabilities;
               uid 65534 inside; no further user namespaces; dies with its parent;
               a seccomp filter that refuses new processes, seccomp.py)
          python -I -S -B runner.py

The sandbox sees a read-only /usr (and the interpreter's own prefix), a private /proc and
/dev, a size-capped /tmp and runner.py; nothing of the project, of /etc or of the host's
other files, no network at all, no environment. Input and output pass as JSON over
stdin/stdout; the answer is read up to a cap and the whole tree is killed at the wall-clock
deadline. Whatever the code does, `code_run` answers an Outcome, and the calling process
is unharmed.

Where the sandbox cannot be built (no bubblewrap, user namespaces disabled, no interpreter
the sandbox user can read), runs answer kind "unavailable" with the reason: code never runs
any other way.
"""

import contextlib
import functools
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

from django.conf import settings

from ticketflower.codetasks import seccomp
from ticketflower.codetasks.checks import MAX_SECONDS
from ticketflower.core.limits import MAX_RESULT_BYTES

RUNNER = Path(__file__).with_name("runner.py")
INSIDE_RUNNER = "/sandbox/runner.py"
SANDBOX_ID = "65534"  # the uid and gid inside: nobody
STARTUP_SECONDS = 1.0  # on top of a run's own limit: building the sandbox and starting Python
MAX_STDERR_BYTES = 64 * 1024
PRINT_LIMIT = 100_000  # characters the code may print (kept as the run's log)
# Host paths a dynamically linked interpreter may need, as links or read-only directories.
ROOT_ENTRIES = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
INSIDE_TMP = "/tmp"  # noqa: S108 - the sandbox's own tmpfs, not the host's

Kind = Literal["ok", "exception", "syntax", "invalid", "timeout", "memory", "output", "unavailable"]


@dataclass(frozen=True)
class Outcome:
    """What came of one run: `output` when kind is "ok", else `message` (and `traceback`)."""

    kind: Kind
    output: dict[str, Any] | None = None
    message: str = ""
    traceback: str = ""
    log: str = ""
    ms: int = 0
    details: dict[str, Any] = field(default_factory=dict)

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
    tmp_bytes: int
    result_bytes: int = MAX_RESULT_BYTES
    print_chars: int = PRINT_LIMIT


def limits(seconds: float | None = None) -> Limits:
    """The limits from settings; `seconds` is a task's own timeout (at most checks.MAX_SECONDS)."""
    wanted = float(seconds or settings.CODE_TIME_LIMIT)
    return Limits(
        seconds=min(wanted, float(MAX_SECONDS)),
        memory_mb=int(settings.CODE_MEMORY_LIMIT_MB),
        tmp_bytes=int(settings.CODE_TMP_BYTES),
    )


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
    return Outcome(**{**outcome.__dict__, "ms": ms})


def sandbox_problem() -> str | None:
    """None when code can run here; otherwise why not, with what to install."""
    found = _interpreter()
    return found.reason if isinstance(found, _Missing) else None


# --- the command ---------------------------------------------------------------------------------


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


INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `make run` does it when run "
    "as root) and allow unprivileged user namespaces; see README, “Code tasks”."
)


def _tools() -> _Tools | _Missing:
    bwrap = shutil.which(settings.CODE_SANDBOX_BWRAP)
    if bwrap is None:
        return _Missing(
            f"The code sandbox cannot be built: bubblewrap ({settings.CODE_SANDBOX_BWRAP}) is "
            f"not installed. {INSTALL_HINT}"
        )
    prlimit, setpriv = shutil.which("prlimit"), shutil.which("setpriv")
    if prlimit is None or (os.geteuid() == 0 and setpriv is None):
        return _Missing("The code sandbox cannot be built: prlimit and setpriv (util-linux) are missing.")
    return _Tools(prlimit, setpriv if os.geteuid() == 0 else None, bwrap, "", "")


def _candidates() -> list[str]:
    """Interpreters to try, best first: the setting, or this process's own, then the system's."""
    if settings.CODE_SANDBOX_PYTHON:
        return [settings.CODE_SANDBOX_PYTHON]
    own = str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    system = [str(Path(p).resolve()) for p in SYSTEM_PYTHONS if Path(p).exists()]
    return list(dict.fromkeys([own, *system]))


def _interpreter() -> _Tools | _Missing:
    return _probe(
        settings.CODE_SANDBOX_BWRAP,
        settings.CODE_SANDBOX_PYTHON,
        int(settings.CODE_SANDBOX_UID),
        int(settings.CODE_MEMORY_LIMIT_MB),
    )


@functools.lru_cache(maxsize=8)
def _probe_cached(*key: Any) -> _Tools | None:
    tools = _tools()
    if isinstance(tools, _Missing):
        return None
    for python in _candidates():
        candidate = _with_python(tools, python)
        if _works(candidate):
            return candidate
    return None


def _probe(*key: Any) -> _Tools | _Missing:
    """The tools and the first interpreter a sandbox runs; success is remembered per process."""
    found = _probe_cached(*key)
    if found is not None:
        return found
    _probe_cached.cache_clear()  # a failure is looked at again next time: the operator may fix it
    tools = _tools()
    if isinstance(tools, _Missing):
        return tools
    reasons = []
    for python in _candidates():
        candidate = _with_python(tools, python)
        reasons.append(f"{python}: {_works_reason(candidate)}")
    return _Missing(
        "The code sandbox cannot be built: " + "; ".join(reasons) + f". {INSTALL_HINT} "
        "Or set CODE_SANDBOX_PYTHON to a Python 3.11 or newer that the sandbox user can read."
    )


def _with_python(tools: _Tools, python: str) -> _Tools:
    prefix = str(Path(python).resolve().parent.parent)
    return _Tools(tools.prlimit, tools.setpriv, tools.bwrap, python, prefix)


def _works(tools: _Tools) -> bool:
    return _works_reason(tools) == ""


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
    exchange = _exchange(tools, json.dumps(request).encode(), bounds)
    outcome = _outcome(exchange, bounds)
    if outcome.ok and outcome.output == {"ok": 2}:
        return ""
    return outcome.message or f"it answered {outcome.kind}"


def _root_entries() -> list[str]:
    args: list[str] = []
    for entry in ROOT_ENTRIES:
        path = Path(entry)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), entry]
        elif path.is_dir():
            args += ["--ro-bind", entry, entry]
    return args


def _command(tools: _Tools, bounds: Limits, seccomp_fd: int) -> list[str]:
    cpu = max(1, math.ceil(bounds.seconds))
    memory = bounds.memory_mb * 1024 * 1024
    command = [
        tools.prlimit,
        f"--cpu={cpu}:{cpu + 1}",
        f"--as={memory}",
        f"--fsize={bounds.tmp_bytes}",
        "--nofile=64",
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
        INSIDE_TMP,
        "--ro-bind",
        "/usr",
        "/usr",
        *_root_entries(),
        *prefix,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(bounds.tmp_bytes),
        "--tmpfs",
        INSIDE_TMP,
        "--ro-bind",
        str(RUNNER),
        INSIDE_RUNNER,
        "--remount-ro",
        "/",  # bubblewrap's root is a tmpfs: only /tmp stays writable
        "--chdir",
        INSIDE_TMP,
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
    start_error: str = ""


def _exchange(tools: _Tools, request: bytes, bounds: Limits) -> _Exchange:
    """Start a sandbox, send `request`, read the answer up to its cap; kill it all at the deadline."""
    try:
        program = seccomp.no_new_processes()
    except seccomp.Unsupported as exc:
        return _Exchange(b"", b"", None, start_error=str(exc))
    filter_fd = os.memfd_create("ticketflower-seccomp", 0)
    try:
        os.write(filter_fd, program)
        os.lseek(filter_fd, 0, os.SEEK_SET)
        process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
            _command(tools, bounds, filter_fd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            close_fds=True,
            pass_fds=(filter_fd,),
            start_new_session=True,
        )
    except OSError as exc:
        return _Exchange(b"", b"", None, start_error=f"it could not start: {exc}")
    finally:
        os.close(filter_fd)
    deadline = time.monotonic() + bounds.seconds + STARTUP_SECONDS
    out, err = bytearray(), bytearray()
    most = bounds.result_bytes + 65536
    timed_out = too_big = False
    pending = memoryview(request)
    stdin = cast(IO[bytes], process.stdin)
    os.set_blocking(stdin.fileno(), False)
    with selectors.DefaultSelector() as selector:
        selector.register(stdin, selectors.EVENT_WRITE)
        selector.register(cast(IO[bytes], process.stdout), selectors.EVENT_READ, out)
        selector.register(cast(IO[bytes], process.stderr), selectors.EVENT_READ, err)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _events in selector.select(remaining):
                if key.fileobj is stdin:
                    try:
                        pending = pending[os.write(stdin.fileno(), pending[:65536]) :]
                    except (BrokenPipeError, BlockingIOError, OSError):
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(stdin)
                        stdin.close()
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer: bytearray = key.data
                if buffer is out and len(out) + len(chunk) > most:
                    too_big = True
                    break
                if buffer is out or len(err) < MAX_STDERR_BYTES:
                    buffer += chunk
            if too_big:
                break
    if timed_out or too_big:
        _kill(process)
    try:
        returncode = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
        returncode = process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream and not stream.closed:
            stream.close()
    return _Exchange(bytes(out), bytes(err), returncode, timed_out=timed_out, too_big=too_big)


def _kill(process: subprocess.Popen[bytes]) -> None:
    # bwrap dies, and with it (--die-with-parent, the pid namespace) everything the code started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        process.kill()


def _outcome(exchange: _Exchange, bounds: Limits) -> Outcome:
    seconds = f"{bounds.seconds:g} second{'s' if bounds.seconds != 1 else ''}"
    if exchange.start_error:
        return Outcome("unavailable", message=f"The code sandbox cannot be built: {exchange.start_error}.")
    if exchange.timed_out:
        return Outcome("timeout", message=f"The code did not finish within {seconds}.")
    if exchange.too_big:
        return Outcome("output", message=f"The result is larger than {bounds.result_bytes:,} bytes.")
    try:
        answer = json.loads(exchange.stdout)
    except (ValueError, RecursionError):
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return Outcome(
            _kind(error.get("kind")),
            message=str(error.get("message") or ""),
            traceback=str(error.get("traceback") or ""),
            log=str(answer.get("log") or ""),
        )
    if isinstance(answer, dict) and isinstance(answer.get("output"), dict):
        return Outcome("ok", output=answer["output"], log=str(answer.get("log") or ""))
    return _no_answer(exchange, bounds, seconds)


def _kind(kind: Any) -> Kind:
    known: tuple[Kind, ...] = ("exception", "syntax", "invalid", "timeout", "memory", "output")
    return kind if kind in known else "invalid"


def _no_answer(exchange: _Exchange, bounds: Limits, seconds: str) -> Outcome:
    """The process ended without a readable answer: why, as far as its end tells."""
    stderr = exchange.stderr.decode("utf-8", "replace").strip()
    code = exchange.returncode
    tool_error = next(
        (line for line in stderr.splitlines() if line.startswith(("bwrap:", "setpriv:", "prlimit:"))), ""
    )
    if tool_error and not exchange.stdout:
        return Outcome("unavailable", message=f"The code sandbox cannot be built: {tool_error}")
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL):
        return Outcome("timeout", message=f"The code used more than {seconds} of CPU time.")
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return Outcome("memory", message=f"The code ran out of memory ({bounds.memory_mb} MB).")
    if exchange.stdout:
        return Outcome("invalid", message="The code wrote something other than its answer to the output.")
    tail = stderr[-300:]
    return Outcome(
        "invalid",
        message=f"The code stopped without an answer (exit status {code})." + (f" {tail}" if tail else ""),
    )
