"""Run user-written expressions in child processes, under a hard time and memory budget.

CEL conditions, JSON-e templates and JSON Schemas come from users; a small one can run for
minutes or fill the memory (docs/expressions.md, "Evaluation limits"). They never run in the
web or job process itself: a small pool of evaluator children (evaluator_child.py) does it.

- Each child limits its own address space (EXPRESSION_MEMORY_LIMIT_MB) and CPU time, and
  imports neither Django nor TicketFlower; its environment is empty (no secrets).
- The parent waits at most EXPRESSION_TIME_LIMIT seconds of wall-clock time for an answer;
  a child that overruns is killed, one that dies is dropped, and a new one is started on the
  next call. Callers get OverBudget, never a hung thread.
- `time_budget()` bounds many evaluations together (a whole bundle's validation): once its
  time is spent, further evaluations are not run.
- Thread-safe; children start lazily, at most EXPRESSION_WORKERS per process, and are killed
  at exit. A forked process starts its own pool and never touches its parent's children.
"""

import atexit
import contextlib
import contextvars
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, cast

from django.conf import settings

from ticketflower.core.limits import MAX_RESULT_BYTES

CHILD = Path(__file__).with_name("evaluator_child.py")
START_SECONDS = 10.0  # a new child must say it is ready within this time
Reason = Literal["time", "memory", "budget"]


class OverBudget(Exception):
    """An evaluation ran out of time or memory, or was not run because `time_budget` was spent.

    `seconds` is the limit that was hit (time, budget), `megabytes` the memory limit.
    """

    def __init__(self, reason: Reason, *, seconds: float = 0.0, megabytes: int = 0) -> None:
        super().__init__(reason)
        self.reason: Reason = reason
        self.seconds = seconds
        self.megabytes = megabytes


class EvaluatorUnavailable(RuntimeError):
    """No child could be started: a fault of the installation, not of the expression."""


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Send one request (evaluator_child.py's protocol) and return the child's reply.

    The request must be plain JSON. Raises OverBudget when the time, memory or budget runs out.
    """
    limit = float(settings.EXPRESSION_TIME_LIMIT)
    budget = _budget.get()
    seconds = limit
    if budget is not None:
        seconds = min(limit, budget.deadline - time.monotonic())
        if seconds <= 0:
            raise OverBudget("budget", seconds=budget.seconds)
    line = json.dumps(request).encode()
    try:
        return _pool().run(line, seconds=seconds)
    except OverBudget as exc:
        if exc.reason == "time" and budget is not None and seconds < limit:
            # It was cut short by the shared budget, not by its own limit.
            raise OverBudget("budget", seconds=budget.seconds) from exc
        raise


# --- a budget shared by many evaluations ----------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    seconds: float
    deadline: float


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("expression_budget", default=None)


@contextlib.contextmanager
def time_budget(seconds: float | None = None) -> Iterator[None]:
    """Evaluations inside share `seconds` of wall-clock time (EXPRESSION_CHECK_TIME_LIMIT).

    A tighter budget around this one still applies. Per thread (and per asyncio task).
    """
    total = float(settings.EXPRESSION_CHECK_TIME_LIMIT) if seconds is None else seconds
    budget = _Budget(total, time.monotonic() + total)
    outer = _budget.get()
    token = _budget.set(outer if outer is not None and outer.deadline < budget.deadline else budget)
    try:
        yield
    finally:
        _budget.reset(token)


# --- children --------------------------------------------------------------------------------


class _Stale(Exception):
    """The child was already gone before the request reached it: try another."""


class _Child:
    """One evaluator process. Used by one thread at a time; killed once anything goes wrong."""

    def __init__(self, *, seconds: float, megabytes: int) -> None:
        self.config = (seconds, megabytes)
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our module, no shell
            [sys.executable, "-I", str(CHILD), str(seconds), str(megabytes), str(MAX_RESULT_BYTES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={"RUST_BACKTRACE": "0"},
        )
        self._stdin = cast(IO[bytes], self.process.stdin)
        self._stdout = cast(IO[bytes], self.process.stdout).fileno()
        self._poll = select.poll()
        self._poll.register(self._stdout, select.POLLIN)
        self._buffer = bytearray()
        if self._read_line(time.monotonic() + START_SECONDS) != b'{"ready": true}':
            self.kill()
            raise EvaluatorUnavailable(f"The expression evaluator did not start ({CHILD.name}).")

    @property
    def pid(self) -> int:
        return self.process.pid

    def ask(self, line: bytes, *, seconds: float) -> dict[str, Any]:
        """The reply to one request line; OverBudget (the child is then dead) or _Stale."""
        if self.process.poll() is not None:
            raise _Stale
        try:
            self._stdin.write(line + b"\n")
            self._stdin.flush()
        except BrokenPipeError:
            raise _Stale from None
        reply = self._read_line(time.monotonic() + seconds)
        if reply is None:
            self.kill()
            raise OverBudget("time", seconds=seconds)
        if not reply:  # it died on this request
            self.kill()
            if self.process.returncode == -signal.SIGXCPU:
                raise OverBudget("time", seconds=seconds)
            raise OverBudget("memory", megabytes=self.config[1])
        answer: dict[str, Any] = json.loads(reply)
        if answer.get("limit") == "memory":
            raise OverBudget("memory", megabytes=self.config[1])
        return answer

    def _read_line(self, deadline: float) -> bytes | None:
        """The next line without its newline; b"" when the child has gone, None at the deadline."""
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_RESULT_BYTES + 65536:
                return b""  # the child caps its replies: this one is broken
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poll.poll(max(1, int(remaining * 1000))):
                return None
            chunk = os.read(self._stdout, 65536)
            if not chunk:
                return b""
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class _Pool:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._starting = 0
        self._changed = threading.Condition()

    def run(self, line: bytes, *, seconds: float) -> dict[str, Any]:
        for _attempt in range(3):
            child = self._take()
            try:
                reply = child.ask(line, seconds=seconds)
            except _Stale:
                self._drop(child)
                continue
            except BaseException:
                self._drop(child)  # a request may still be running in it
                raise
            if reply.get("exit"):
                self._drop(child)
            else:
                self._give_back(child)
            return reply
        raise EvaluatorUnavailable("The expression evaluator keeps stopping.")

    def _take(self) -> _Child:
        config = (float(settings.EXPRESSION_TIME_LIMIT), int(settings.EXPRESSION_MEMORY_LIMIT_MB))
        with self._changed:
            while True:
                while self._idle:
                    child = self._idle.pop()
                    if child.config == config:
                        return child
                    self._children.discard(child)  # started under other settings
                    child.kill()
                if len(self._children) + self._starting < max(1, int(settings.EXPRESSION_WORKERS)):
                    self._starting += 1
                    break
                self._changed.wait()
        try:
            child = _Child(seconds=config[0], megabytes=config[1])  # outside the lock: it takes a while
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
        with self._changed:
            self._children.add(child)
        return child

    def _give_back(self, child: _Child) -> None:
        with self._changed:
            self._idle.append(child)
            self._changed.notify()

    def _drop(self, child: _Child) -> None:
        child.kill()
        with self._changed:
            self._children.discard(child)
            self._changed.notify()

    def pids(self) -> list[int]:
        with self._changed:
            return sorted(child.pid for child in self._children)

    def close(self) -> None:
        with self._changed:
            children, self._children, self._idle = list(self._children), set(), []
        for child in children:
            child.kill()


_pool_lock = threading.Lock()
_current: _Pool | None = None


def _pool() -> _Pool:
    global _current
    with _pool_lock:
        if _current is None or _current.pid != os.getpid():
            _current = _Pool()  # a forked process must not share its parent's children
        return _current


def child_pids() -> list[int]:
    """The process ids of this process's evaluator children (for tests and diagnostics)."""
    return _pool().pids()


@atexit.register
def shutdown() -> None:
    """Kill this process's evaluator children; the next evaluation starts new ones."""
    with _pool_lock:
        pool = _current
    if pool is not None and pool.pid == os.getpid():
        pool.close()
