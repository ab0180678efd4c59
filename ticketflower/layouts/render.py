"""Does a layout render? React's server renderer runs it in Node, without a browser.

The check before a bundle is saved (the assistant's gate, a management command, job workers):
every layout renders with sample values, in edit and display mode for edit layouts. It renders
once, to a string, as the sandbox frame would first show it: effects, event handlers and the
browser (`window`, `document`) are not there, so it catches what breaks a layout on sight, not
everything that could.

Security: the compiled code is untrusted. runtime/render-check.mjs runs each layout in a fresh
V8 context with nothing of the host in it; node:vm alone is no security boundary, so Node runs
here under its permission model (reads of the runtime directory only; no writes, child processes
or workers), with a heap cap, rlimits, only PATH in its environment and a wall-clock deadline
after which it is killed. Its output is read up to a cap. Network access is not something
Node 20's permission model stops: the context has no `fetch` or socket to reach it with.
"""

import functools
import json
import os
import resource
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ticketflower.core import pipes
from ticketflower.layouts.compiler import RUNTIME_DIR, LayoutInvalid, compile_layout
from ticketflower.layouts.embed import sample_props
from ticketflower.layouts.slots import bundle_slots

RENDER_CHECK = RUNTIME_DIR / "render-check.mjs"
RENDER_RUNTIME = RUNTIME_DIR / "dist" / "render.js"

ITEM_SECONDS = 2  # render-check.mjs's deadline for one item
STARTUP_SECONDS = 5  # Node's start and a busy machine, once a process
HEAP_MB = 128
# Memory outside V8's heap (ArrayBuffers): V8 itself fits in this with the heap cap above.
DATA_LIMIT_BYTES = 512 * 1024 * 1024
MAX_STDOUT_BYTES = 1024 * 1024
MAX_STDERR_BYTES = 64 * 1024

TOO_SLOW = "The render check took too long: the layout may not have been rendered."
TOO_MUCH_MEMORY = "The layout used too much memory."
_HEADER = '{"results": ['
_FOOTER = "]}"


@dataclass(frozen=True)
class RenderOutcome:
    ok: bool
    error: str = ""


class RendererMissing(RuntimeError):
    """Node or the render check's runtime (dist/render.js) is not there or does not start."""


def render_check(items: list[tuple[str, dict[str, Any]]]) -> list[RenderOutcome]:
    """Render each (compiled code, props) once; an outcome for each, in order.

    One Node process for all of them. A layout that brings it down (out of memory) fails, and
    the items after it are checked in a new one.
    """
    node = node_path()
    if not RENDER_RUNTIME.is_file():
        raise RendererMissing(
            f"The render check's runtime is not built ({RENDER_RUNTIME}): run `make layouts`."
        )
    outcomes: list[RenderOutcome] = []
    while len(outcomes) < len(items):
        outcomes += _run(node, items[len(outcomes) :])
    return outcomes


def slot_render_problems(bundle: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(slot path, message) for every layout of a shape-valid `bundle` that does not compile or render.

    Empty slots are checked with their generated default, as publishing would freeze it. Nothing
    is stored. CompilerMissing and RendererMissing are raised, not reported: the bundle is fine.
    """
    found: dict[str, list[str]] = {}
    checks: list[tuple[str, str]] = []  # (path, mode) of each item
    items: list[tuple[str, dict[str, Any]]] = []
    slots = bundle_slots(bundle)
    for slot in slots:
        try:
            module = compile_layout(slot.effective_source())
        except LayoutInvalid as exc:
            found[slot.path] = [str(problem) for problem in exc.problems]
            continue
        # An edit layout also shows read-only: a task's answer on the admin's page.
        for mode in ("edit", "display") if slot.mode == "edit" else ("display",):
            checks.append((slot.path, mode))
            items.append((module.code, sample_props(slot, mode)))
    failed: dict[str, dict[str, str]] = {}  # path → mode → error
    for (path, mode), outcome in zip(checks, render_check(items) if items else [], strict=True):
        if not outcome.ok:
            failed.setdefault(path, {})[mode] = outcome.error
    for path, by_mode in failed.items():
        errors = set(by_mode.values())
        if len(by_mode) == 2 and len(errors) == 1:
            found[path] = [f"It fails to render in edit and display mode with sample values: {errors.pop()}"]
        else:
            found[path] = [
                f"It fails to render in {mode} mode with sample values: {error}"
                for mode, error in by_mode.items()
            ]
    return [(slot.path, message) for slot in slots for message in found.get(slot.path, [])]


def node_path() -> str:
    node = shutil.which("node")
    if node is None:
        raise RendererMissing("Node.js is not on PATH: the render check needs Node 20 or newer.")
    _permission_flag(node)  # Node too old: say so now
    return node


def node_command(node: str) -> list[str]:
    """Node with the render check's confinement, before the script's name."""
    return [
        node,
        _permission_flag(node),
        f"--allow-fs-read={RUNTIME_DIR}",
        # Makes `import()` in a layout fail with a value of its own realm (render-check.mjs).
        "--experimental-vm-modules",
        "--no-warnings",  # the flags above are experimental, and say so on stderr
        f"--max-old-space-size={HEAP_MB}",
    ]


@functools.cache
def _permission_flag(node: str) -> str:
    """Node 22.13 and 23.5 made the permission model stable, under a new flag."""
    try:
        done = subprocess.run(  # noqa: S603 - node, no arguments from outside
            [node, "--version"], capture_output=True, text=True, timeout=10, check=True
        )
        major, minor = (int(part) for part in done.stdout.strip().lstrip("v").split(".")[:2])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise RendererMissing(f"Node.js could not be started for the render check: {exc}") from exc
    if major < 20:
        raise RendererMissing(f"The render check needs Node 20 or newer, not {done.stdout.strip()}.")
    stable = (major, minor) >= (22, 13) and not (major == 23 and minor < 5)
    return "--permission" if stable else "--experimental-permission"


def _run(node: str, items: list[tuple[str, dict[str, Any]]]) -> list[RenderOutcome]:
    """Outcomes for a prefix of `items`: all of them, or those before and including a crash."""
    payload = json.dumps({"items": [{"code": code, "props": props} for code, props in items]}).encode()
    deadline = ITEM_SECONDS * len(items) + STARTUP_SECONDS
    try:
        process = subprocess.Popen(  # noqa: S603 - our script; the layouts go in on stdin
            [*node_command(node), str(RENDER_CHECK)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=RUNTIME_DIR,
            env={"PATH": os.environ.get("PATH", "")},
        )
    except OSError as exc:
        raise RendererMissing(f"Node.js could not be started for the render check: {exc}") from exc
    # Limits are set on the running process, not in preexec_fn (unsafe in a threaded server):
    # Node reads all of stdin before it runs any layout, and stdin is not written yet.
    _limit(process.pid, cpu_seconds=deadline * 2)  # two cores' worth of the wall-clock deadline
    stdout, stderr, timed_out = _exchange(process, payload, deadline)
    lines = stdout.decode(errors="replace").split("\n")
    if lines[0] != _HEADER:
        if timed_out:
            return [RenderOutcome(False, TOO_SLOW)] * len(items)
        raise RendererMissing(
            "The render check did not start (run `make layouts`): "
            + stderr.decode(errors="replace").strip()[-500:]
        )
    outcomes = []
    # Only whole lines: the last one is cut short if the process was stopped while writing.
    for line in lines[1:-1]:
        if line == _FOOTER:
            break
        outcomes.append(_outcome(line.removeprefix(",")))
    if len(outcomes) >= len(items):
        return outcomes[: len(items)]
    if timed_out:
        return outcomes + [RenderOutcome(False, TOO_SLOW)] * (len(items) - len(outcomes))
    # The process died on the item after the last result: that layout did it.
    return [*outcomes, RenderOutcome(False, _crash_message(process.returncode, stderr))]


def _outcome(line: str) -> RenderOutcome:
    try:
        result = json.loads(line)
    except ValueError:
        return RenderOutcome(False, "The render check answered nonsense.")
    if isinstance(result, dict) and result.get("ok") is True:
        return RenderOutcome(True)
    error = result.get("error") if isinstance(result, dict) else None
    return RenderOutcome(False, str(error)[:300] if error else "The layout could not be rendered.")


def _crash_message(returncode: int | None, stderr: bytes) -> str:
    text = stderr.decode(errors="replace")
    if "heap out of memory" in text or "Reached heap limit" in text or "Allocation failed" in text:
        return TOO_MUCH_MEMORY
    return f"The render check stopped while rendering this layout (exit status {returncode})."


def _limit(pid: int, *, cpu_seconds: int) -> None:
    if not hasattr(resource, "prlimit"):  # Linux only; elsewhere the deadline and heap cap remain
        return
    limits = {
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_DATA: DATA_LIMIT_BYTES,
        resource.RLIMIT_FSIZE: 0,  # no file writes even past the permission model
        resource.RLIMIT_CORE: 0,  # V8 aborts when out of memory: no core dump of it
    }
    for which, value in limits.items():
        try:
            _, hard = resource.prlimit(pid, which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.prlimit(pid, which, (value, value))
        except (OSError, ValueError):  # it has exited already
            pass


def _exchange(process: subprocess.Popen[bytes], payload: bytes, seconds: float) -> tuple[bytes, bytes, bool]:
    """Write stdin, read stdout and stderr up to their caps; kill at the deadline or the caps.

    Returns stdout, stderr and whether the deadline passed.
    """
    done = pipes.exchange(
        process, payload, seconds=seconds, max_stdout=MAX_STDOUT_BYTES, max_stderr=MAX_STDERR_BYTES
    )
    return done.stdout, done.stderr, done.timed_out
