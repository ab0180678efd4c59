"""Hostile code in the real sandbox: each attempt fails cleanly, and the process that ran it is unharmed.

The import guard and the read-only context are Python, and Python has no walls: most tests
first get around them (ESCAPE below finds the real import machinery through `__subclasses__`)
to show that the process boundary holds on its own.
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.live_parts import Endpoint, Reply
from ticketflower.codetasks import sandbox
from ticketflower.codetasks.sandbox import Outcome, code_run

# The real `__import__`, past the guard: builtins -> a class -> the import system's own module.
ESCAPE = """
_importer = [k for k in ().__class__.__base__.__subclasses__() if k.__name__ == "BuiltinImporter"][0]
real_import = _importer.load_module("sys").modules["_frozen_importlib"].__import__
"""


def run(source: str, input: dict[str, Any] | None = None, seconds: float | None = None) -> Outcome:
    return code_run(source=source, input=input or {}, context={"ticket": {"id": 7}}, seconds=seconds)


def attempts(body: str) -> dict[str, Any]:
    """Run `body` (statements that fill `out`) past the guard; the dict of what each attempt gave."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    outcome = run(f"{ESCAPE}\ndef run(input, context):\n    out = {{}}\n{indented}\n    return out\n")
    assert outcome.kind == "ok", outcome
    assert outcome.output is not None
    return outcome.output


def sandbox_processes() -> list[str]:
    """Command lines of sandbox processes still alive on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if sandbox.INSIDE_RUNNER in cmdline and "[" not in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.fixture(autouse=True)
def leaves_the_worker_healthy() -> Iterator[None]:
    """After each attempt: nothing of the sandbox is left running, and code still runs here."""
    yield
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == []
    assert run("def run(input, context):\n    return {'still': 'fine'}\n").output == {"still": "fine"}


def test_the_sandbox_can_be_built_here() -> None:
    assert sandbox.sandbox_problem() is None


def test_code_gets_its_input_and_a_read_only_context_and_its_prints_are_kept() -> None:
    outcome = run(
        "def run(input, context):\n"
        "    print('adding', input['a'], 'and', input['b'])\n"
        "    return {'sum': input['a'] + input['b'], 'ticket': context['ticket']['id']}\n",
        {"a": 2, "b": 3},
    )
    assert (outcome.kind, outcome.output, outcome.log) == ("ok", {"sum": 5, "ticket": 7}, "adding 2 and 3\n")
    changed = run("def run(input, context):\n    context['ticket']['id'] = 8\n    return {}\n")
    assert changed.kind == "exception" and "context is read-only" in changed.message


def test_an_exception_has_a_traceback_through_the_tasks_own_lines_only() -> None:
    outcome = run(
        "def total(items):\n    return sum(i['price'] for i in items)\n\ndef run(input, context):\n    return {'t': total(input['items'])}\n",
        {"items": [{"cost": 1}]},
    )
    assert outcome.kind == "exception"
    assert outcome.message == "KeyError: 'price'"
    assert outcome.traceback == (
        "Traceback (most recent call last):\n"
        "  line 5, in run\n    return {'t': total(input['items'])}\n"
        "  line 2, in total\n    return sum(i['price'] for i in items)\n"
        "  line 2, in <genexpr>\n    return sum(i['price'] for i in items)\n"
        "KeyError: 'price'"
    )
    assert "runner" not in outcome.reason() and "/sandbox" not in outcome.reason()


def test_a_deep_recursion_keeps_the_first_and_last_frames() -> None:
    outcome = run("def f(n):\n    return f(n + 1)\n\ndef run(input, context):\n    return f(0)\n")
    assert (outcome.kind, outcome.message) == ("exception", "The code recursed too deeply.")
    assert "more lines]" in outcome.traceback and outcome.traceback.count("in f") == 19


@pytest.mark.parametrize("module", ["os", "subprocess", "ctypes", "socket", "importlib", "builtins", "sys"])
def test_imports_outside_the_allow_list_fail_when_run(module: str) -> None:
    outcome = run(f"def run(input, context):\n    import {module}\n    return {{}}\n")
    assert outcome.kind == "exception"
    assert outcome.message.startswith(f"ImportError: import {module}: not allowed.")


def test_allowed_modules_work() -> None:
    outcome = run(
        "import base64, collections, csv, datetime, decimal, hashlib, io, itertools, json, math, re\n"
        "import statistics, string, textwrap, unicodedata\n"
        "def run(input, context):\n"
        "    return {'sha': hashlib.sha256(b'x').hexdigest()[:8], 'mean': statistics.mean([1, 2]),\n"
        "            'day': datetime.datetime.strptime('2026-12-01', '%Y-%m-%d').strftime('%A'),\n"
        "            'vat': str(decimal.Decimal('19.99') * 3), 'name': unicodedata.name('€')}\n"
    )
    assert outcome.output == {
        "sha": "2d711642",
        "mean": 1.5,
        "day": "Tuesday",
        "vat": "59.97",
        "name": "EURO SIGN",
    }


def test_no_socket_or_http_connection_reaches_the_host() -> None:
    with Endpoint(Reply(200, {"secret": "host"})) as endpoint:
        port = urlsplit(endpoint.url).port
        out = attempts(
            f"""
socket = real_import("socket")
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    out["socket"] = "connected"
except OSError as exc:
    out["socket"] = repr(exc)
try:
    out["http"] = real_import("urllib.request", fromlist=["x"]).urlopen("{endpoint.url}", timeout=2).read().decode()
except Exception as exc:
    out["http"] = repr(exc)
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    out["internet"] = "connected"
except OSError as exc:
    out["internet"] = repr(exc)
"""
        )
        assert endpoint.received == []
    assert "ConnectionRefusedError" in out["socket"]  # the sandbox's own, empty loopback
    assert "Connection refused" in out["http"]
    assert "Network is unreachable" in out["internet"]


def test_no_file_of_the_host_or_the_project_can_be_read() -> None:
    secret = Path(settings.BASE_DIR) / f".sandbox-test-{uuid.uuid4().hex}"
    secret.write_text("the project's secret")
    socket_dir = str(settings.DATABASES["default"].get("HOST") or "/var/run/postgresql")
    try:
        out = attempts(
            f"""
for path in ["/etc/passwd", "/etc/shadow", "{settings.BASE_DIR}/.env", "{secret}", "/root/.bash_history"]:
    try:
        out[path] = open(path).read()
    except OSError as exc:
        out[path] = type(exc).__name__
os = real_import("os")
out["db socket dir"] = os.path.exists("{socket_dir}")
socket = real_import("socket")
try:
    unix = socket.socket(socket.AF_UNIX)
    unix.connect("{socket_dir}/.s.PGSQL.5432")
    out["db"] = "connected"
except OSError as exc:
    out["db"] = type(exc).__name__
out["root"] = sorted(os.listdir("/"))
out["environ"] = dict(os.environ)
out["uid"] = os.getuid()
out["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["mounts"] = open("/proc/self/mountinfo").read()
"""
        )
    finally:
        secret.unlink()
    for path in [
        "/etc/passwd",
        "/etc/shadow",
        f"{settings.BASE_DIR}/.env",
        str(secret),
        "/root/.bash_history",
    ]:
        assert out[path] == "FileNotFoundError", path
    assert out["db socket dir"] is False and out["db"] == "FileNotFoundError"
    assert out["root"] == sorted(["bin", "dev", "lib", "lib64", "proc", "sandbox", "sbin", "tmp", "usr"])
    home = sandbox.INSIDE_HOME
    assert out["environ"] == {"HOME": home, "LANG": "C.UTF-8", "PWD": home}
    assert out["uid"] == 65534
    assert out["processes"] == [1, 2]  # its own pid namespace: bubblewrap's reaper and itself
    assert str(settings.BASE_DIR) not in out["mounts"]  # not even the project's path shows


def test_nothing_can_be_written_anywhere() -> None:
    outside = Path(settings.BASE_DIR) / f".sandbox-write-{uuid.uuid4().hex}"
    out = attempts(
        f"""
for path in ["/tmp/x", "/x", "/usr/x", "/sandbox/x", "/dev/x", "/dev/shm/x", "/proc/x", "{outside}"]:
    try:
        with open(path, "w") as file:
            file.write("x")
        out[path] = "written"
    except OSError as exc:
        out[path] = exc.strerror
os = real_import("os")
try:
    os.mkdir("/tmp/d")
    out["mkdir"] = "made"
except OSError as exc:
    out["mkdir"] = exc.strerror
"""
    )
    assert set(out.values()) <= {"Read-only file system", "No such file or directory"}, out
    home, shared_memory = f"{sandbox.INSIDE_HOME}/x", "/dev/shm/x"  # noqa: S108 - the sandbox's
    assert out[home] == out[shared_memory] == out["mkdir"] == "Read-only file system"
    assert not outside.exists()


def test_memory_outside_the_address_space_limit_is_refused() -> None:
    out = attempts(
        """
os, ctypes, mmap = real_import("os"), real_import("ctypes"), real_import("mmap")
try:
    os.memfd_create("hoard")
    out["memfd"] = "made"
except OSError as exc:
    out["memfd"] = exc.strerror
libc = ctypes.CDLL(None, use_errno=True)
out["shmget"] = libc.shmget(0, 100 * 1024 * 1024, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
out["msgget"] = libc.msgget(0, 0o1600)
out["semget"] = libc.semget(0, 1, 0o1600)
try:
    mmap.mmap(-1, 1024 * 1024 * 1024)
    out["mmap"] = "mapped"
except OSError as exc:
    out["mmap"] = exc.strerror
"""
    )
    assert out == {
        "memfd": "Operation not permitted",
        "shmget": -1,
        "msgget": -1,
        "semget": -1,
        "mmap": "Cannot allocate memory",
    }


def test_a_fork_bomb_fails_at_its_first_fork() -> None:
    outcome = run(
        ESCAPE + "def run(input, context):\n    os = real_import('os')\n    while True:\n        os.fork()\n"
    )
    assert (
        outcome.kind == "exception"
        and outcome.message == "PermissionError: [Errno 1] Operation not permitted"
    )
    out = attempts('out["system"] = real_import("os").system("id")')
    assert out["system"] != 0  # a shell is a new process too


def test_no_thread_can_be_started() -> None:
    out = attempts(
        """
thread, time = real_import("_thread"), real_import("time")
thread.stack_size(32768)  # small stacks: the memory limit alone would allow a thousand
out["threads"] = 0
try:
    while True:
        thread.start_new_thread(time.sleep, (5,))
        out["threads"] += 1
except RuntimeError as exc:
    out["error"] = str(exc)
"""
    )
    assert out == {"threads": 0, "error": "can't start new thread"}


def test_an_infinite_loop_is_stopped_at_its_cpu_time() -> None:
    started = time.monotonic()
    outcome = run("def run(input, context):\n    while True:\n        pass\n", seconds=1)
    assert (outcome.kind, outcome.message) == ("timeout", "The code used more than 1 second of CPU time.")
    assert time.monotonic() - started < 4


def test_code_that_waits_forever_is_stopped_at_the_wall_clock_deadline() -> None:
    started = time.monotonic()
    outcome = run(ESCAPE + "def run(input, context):\n    real_import('time').sleep(3600)\n", seconds=1)
    assert (outcome.kind, outcome.message) == ("timeout", "The code did not finish within 1 second.")
    assert time.monotonic() - started < 4


def test_allocating_4_gb_runs_out_of_memory() -> None:
    outcome = run(
        "def run(input, context):\n    hoard = bytearray(4 * 1024 ** 3)\n    return {'n': len(hoard)}\n"
    )
    assert (outcome.kind, outcome.message) == ("memory", "The code ran out of memory.")
    grown = run(
        "def run(input, context):\n    hoard = []\n    while True:\n        hoard.append('x' * 1_000_000)\n"
    )
    assert grown.kind == "memory"


def test_printing_100_mb_is_cut_off() -> None:
    outcome = run(
        "def run(input, context):\n    for _ in range(100):\n        print('x' * 1_000_000)\n    return {}\n"
    )
    assert (outcome.kind, outcome.message) == ("output", "The code printed more than 100,000 characters.")
    assert len(outcome.log) == 100_000
    caught = run(
        "def run(input, context):\n    for _ in range(100):\n        try:\n            print('x' * 1_000_000)\n"
        "        except Exception:\n            pass\n    return {'ok': True}\n"
    )
    assert caught.kind == "output"  # catching the error does not hide it


def test_an_answer_written_past_the_runner_is_held_to_the_same_size() -> None:
    padded = '{"output": {"x": "' + "y" * 1_060_000 + '"}}'
    outcome = run(
        ESCAPE
        + f"def run(input, context):\n    real_import('os').write(1, b'{padded}')\n    real_import('os')._exit(0)\n"
    )
    assert (outcome.kind, outcome.message) == ("output", "The result is larger than 1,000,000 bytes.")


def test_flooding_the_error_output_is_cut_off() -> None:
    source = (
        ESCAPE
        + "def run(input, context):\n    while True:\n        real_import('os').write(2, b'x' * 65536)\n"
    )
    outcome = run(source)
    assert (outcome.kind, outcome.message) == (
        "output",
        "The code wrote more than 65,536 bytes to its error output.",
    )


def test_writing_past_the_protocol_is_refused_as_invalid_output() -> None:
    outcome = run(
        ESCAPE
        + "def run(input, context):\n    real_import('os').write(1, b'x' * 10_000_000)\n    return {}\n"
    )
    assert (outcome.kind, outcome.message) == ("output", "The result is larger than 1,000,000 bytes.")
    noise = run(
        ESCAPE + "def run(input, context):\n    real_import('os').write(1, b'noise')\n    return {}\n"
    )
    assert (noise.kind, noise.message) == (
        "invalid",
        "The code wrote something other than its answer to the output.",
    )


def test_text_postgresql_cannot_store_is_refused_in_the_output_and_cleaned_elsewhere() -> None:
    nul = run("def run(input, context):\n    return {'name': 'a\\x00b'}\n")
    assert (nul.kind, nul.message) == (
        "invalid",
        "The code's answer holds a \\u0000 character or a broken \\u escape, which cannot be stored.",
    )
    surrogate = run("def run(input, context):\n    return {'name': '\\ud800'}\n")
    assert surrogate.kind == "invalid"
    printed = run("def run(input, context):\n    print('a\\x00b\\ud800')\n    raise ValueError('c\\x00d')\n")
    assert (printed.kind, printed.log, printed.message) == (
        "exception",
        "a\ufffdb?\n",
        "ValueError: c\ufffdd",
    )
    nan = run(
        ESCAPE
        + "def run(input, context):\n    real_import('os').write(1, b'{\"output\": {\"x\": NaN}}')\n    real_import('os')._exit(0)\n"
    )
    assert nan.kind == "invalid"


def test_a_result_that_is_not_a_dict_of_plain_json_is_invalid() -> None:
    assert (
        run("def run(input, context):\n    return [1]\n").message
        == "run() must return a dict; it returned list."
    )
    assert run("def run(input, context):\n    return {'s': {1}}\n").message.startswith(
        "run() must return plain JSON"
    )
    assert run("def run(input, context):\n    return {'x': 'y' * 2_000_000}\n").kind == "output"
    assert run("x = 1\n").message == "The code defines no function run(input, context)."


def test_killing_every_process_it_can_finds_none() -> None:
    # kill(-1) signals every process the caller may signal but itself and its pid namespace's init.
    outcome = run(ESCAPE + "def run(input, context):\n    real_import('os').kill(-1, 9)\n    return {}\n")
    assert outcome.message == "ProcessLookupError: [Errno 3] No such process"


def test_escaping_python_gives_nothing_more() -> None:
    out = attempts(
        """
builtins = real_import("builtins")
builtins.__import__ = real_import  # the guard undone
ctypes = real_import("ctypes")
libc = ctypes.CDLL(None)
out["setuid"] = libc.setuid(0)
out["unshare"] = libc.unshare(0x10000000)  # CLONE_NEWUSER: no namespaces within
out["mount"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
os = real_import("os")
out["chroot"] = None
try:
    os.chroot("/tmp")
except OSError as exc:
    out["chroot"] = exc.strerror
"""
    )
    assert out["setuid"] == -1 and out["unshare"] == -1 and out["mount"] == -1
    assert out["chroot"] == "Operation not permitted"


def test_without_bubblewrap_code_never_runs(settings: Any) -> None:
    settings.CODE_SANDBOX_BWRAP = "/nonexistent/bwrap"
    outcome = run("def run(input, context):\n    return {}\n")
    assert outcome.kind == "unavailable" and outcome.output is None
    assert outcome.message.startswith(
        "The code sandbox cannot be built: bubblewrap (/nonexistent/bwrap) is not"
    )
    assert "apt-get install bubblewrap" in outcome.message
    assert sandbox.sandbox_problem() == outcome.message


def test_without_a_usable_python_code_never_runs(settings: Any) -> None:
    settings.CODE_SANDBOX_PYTHON = "/nonexistent/python3"
    outcome = run("def run(input, context):\n    return {}\n")
    assert outcome.kind == "unavailable"
    assert "/nonexistent/python3" in outcome.message and "CODE_SANDBOX_PYTHON" in outcome.message


def test_a_project_whose_data_the_sandbox_would_see_refuses_to_run_code(settings: Any) -> None:
    settings.DATA_DIR = "/usr/src/app/.data"  # a common place in container images
    outcome = run("def run(input, context):\n    return {}\n")
    assert outcome.kind == "unavailable"
    assert "it would show /usr/src/app/.data, which is inside /usr" in outcome.message
