"""Runs one CODE task's `run(input, context)` inside the sandbox (sandbox.py starts it).

Started as `python -I -S -B runner.py` in a bubblewrap sandbox: no network, no files but a
read-only Python runtime and a small /tmp, as an unprivileged user, under rlimits. Standard
library only, and nothing of TicketFlower: it must run on whatever Python the sandbox has.

Protocol: the request is the whole of stdin, one JSON object
    {"source": str, "input": {...}, "context": {...}, "print_limit": int, "result_limit": int}
and the answer is one JSON object on stdout, the only thing written there:
    {"output": {...}, "log": str}
    {"error": {"kind": str, "message": str, "traceback": str}, "log": str}
What the code prints goes to `log` (capped), never to stdout.

The import allow-list and the read-only context are for clear messages only: code that gets
around them (they are Python, and Python has no walls) is still inside the sandbox.
"""

import builtins
import io
import json
import linecache
import sys
import traceback

ALLOWED_MODULES = frozenset(
    {
        "json",
        "re",
        "math",
        "statistics",
        "decimal",
        "datetime",
        "itertools",
        "collections",
        "string",
        "textwrap",
        "csv",
        "io",
        "base64",
        "hashlib",
        "unicodedata",
    }
)
# Modules the allowed C modules import on first use, from inside the task's own frame (so the
# guard sees the task as the importer): datetime's strptime and strftime.
IMPLEMENTATION_MODULES = frozenset({"_strptime", "time"})
FILENAME = "<task code>"
# Written to stderr before anything else: without it the sandbox (or Python) never came up.
STARTED = "ticketflower-runner: started"
MODULE_NAME = "__task_code__"
MAX_MESSAGE = 2_000
MAX_FRAMES = 20


class PrintLimit(Exception):
    """The code printed more than it may."""


class _Log(io.TextIOBase):
    """What the code prints: kept up to `limit` characters; past it every write fails."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.overflowed = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.overflowed:
            raise PrintLimit(f"The code printed more than {self.limit:,} characters.")
        text = str(text)
        if self.size + len(text) > self.limit:
            self.parts.append(text[: self.limit - self.size])
            self.size = self.limit
            self.overflowed = True
            raise PrintLimit(f"The code printed more than {self.limit:,} characters.")
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def text(self) -> str:
        return "".join(self.parts)


class ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes: `context` is what the ticket is, not something to edit."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("context is read-only: copy what you need, e.g. dict(context['ticket']).")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]


def _read_only(value: object) -> object:
    if isinstance(value, dict):
        return ReadOnlyDict({key: _read_only(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_read_only(item) for item in value)
    return value


_real_import = builtins.__import__


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):  # type: ignore[no-untyped-def]
    # Only the task's own imports are checked: the allowed modules import what they need.
    if globals is not None and globals.get("__name__") == MODULE_NAME:
        top = name.partition(".")[0]
        if level or (top not in ALLOWED_MODULES and name not in IMPLEMENTATION_MODULES):
            allowed = ", ".join(sorted(ALLOWED_MODULES))
            raise ImportError(f"import {name}: not allowed. Task code may import only {allowed}.")
    return _real_import(name, globals, locals, fromlist, level)


def _message(exc: BaseException) -> str:
    try:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except Exception:  # a __str__ that fails or loops is the code's, not ours
        text = type(exc).__name__
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " …"


def _traceback(exc: BaseException) -> str:
    """The traceback through the task's own lines only (none of the runner's)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == FILENAME]
    skipped = max(0, len(frames) - MAX_FRAMES)
    lines = ["Traceback (most recent call last):"]
    for index, frame in enumerate(frames):
        if skipped and index == MAX_FRAMES // 2:
            lines.append(f"  [{skipped} more lines]")
        if skipped and MAX_FRAMES // 2 <= index < MAX_FRAMES // 2 + skipped:
            continue  # a deep recursion: its first and last frames say enough
        lines.append(f"  line {frame.lineno}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()[:200]}")
    lines.append(_message(exc))
    return "\n".join(lines)


def _clean(text: str) -> str:
    """Text the host can store: no NUL character, no lone surrogate (only the output is refused for them)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _error(kind: str, message: str, trace: str = "") -> dict[str, object]:
    return {"error": {"kind": kind, "message": _clean(message), "traceback": _clean(trace)}}


def _run(request: dict[str, object]) -> dict[str, object]:
    source = str(request["source"])
    try:
        code = compile(source, FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}, column {exc.offset}: " if exc.lineno else ""
        return _error("syntax", f"The code does not parse: {where}{exc.msg}.")
    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    namespace: dict[str, object] = {"__name__": MODULE_NAME, "__builtins__": builtins}
    try:
        exec(code, namespace)  # noqa: S102 - this process is the sandbox
        run = namespace.get("run")
        if not callable(run):
            return _error("invalid", "The code defines no function run(input, context).")
        output = run(_read_only(request["input"]), _read_only(request["context"]))
    except PrintLimit as exc:
        return _error("output", str(exc))
    except MemoryError:
        return _error("memory", "The code ran out of memory.")
    except RecursionError as exc:
        return _error("exception", "The code recursed too deeply.", _traceback(exc))
    except SystemExit:
        return _error("exception", "The code called exit(): return a dict from run() instead.")
    except BaseException as exc:  # whatever the code raises is its answer
        return _error("exception", _message(exc), _traceback(exc))
    if not isinstance(output, dict):
        return _error("invalid", f"run() must return a dict; it returned {type(output).__name__}.")
    return {"output": output}


def main() -> None:
    sys.stderr.write(STARTED + "\n")
    sys.stderr.flush()
    protocol = sys.stdout
    request = json.loads(sys.stdin.buffer.read())
    log = _Log(int(request["print_limit"]))
    sys.stdin = io.StringIO("")
    sys.stdout = sys.stderr = log
    builtins.__import__ = _guarded_import
    try:
        reply = _checked(_run(request), int(request["result_limit"]))
        if log.overflowed:  # printed past the cap, whatever run() did after
            reply = _error("output", f"The code printed more than {log.limit:,} characters.")
        reply["log"] = _clean(log.text())
        # ASCII only: a lone surrogate the code made travels as an escape the host can refuse.
        encoded = json.dumps(reply, ensure_ascii=True)
    except MemoryError:
        encoded = json.dumps(_error("memory", "The code ran out of memory."))
    except RecursionError:
        encoded = json.dumps(_error("invalid", "run() returned a value nested too deeply for JSON."))
    protocol.write(encoded)
    protocol.flush()


def _checked(reply: dict[str, object], result_limit: int) -> dict[str, object]:
    """The reply with its output as plain JSON within `result_limit` bytes, or why it is not."""
    if "output" not in reply:
        return reply
    try:
        size = len(
            json.dumps(reply["output"], allow_nan=False, ensure_ascii=False).encode("utf-8", "surrogatepass")
        )
    except (TypeError, ValueError) as exc:
        return _error("invalid", f"run() must return plain JSON: {_message(exc)}")
    if size > result_limit:
        return _error("output", f"The result is larger than {result_limit:,} bytes.")
    return reply


if __name__ == "__main__":
    main()
