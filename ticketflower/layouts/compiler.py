"""Layout source (TSX/JSX) → the script the sandbox frame runs, with esbuild's native binary.

Two passes, both from stdin and neither touching the file system:
1. bundle to ESM with every import external (`--external:*`): esbuild reads no file a layout
   names (`import x from "/etc/passwd"` stays an import), and its metafile lists every import
   and export, so the allow-list and the default export are checked on what esbuild parsed;
2. that module as a minified classic script, `var TicketFlowerLayout = ...`, whose imports
   are `require()` calls the frame's runtime answers for `react` and the kit only.

Plain Python with no Django models: validation, the design preview and publishing all call
`compile_layout`, which remembers recent results in this process.
"""

import functools
import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

ALLOWED_IMPORTS = frozenset({"react", "react/jsx-runtime", "@ticketflower/kit"})
GLOBAL_NAME = "TicketFlowerLayout"
# esbuild takes ~10 ms; the deadline is for a machine under load, not for the layout.
COMPILE_TIMEOUT_SECONDS = 10
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"


@dataclass(frozen=True)
class CompileProblem:
    message: str
    line: int | None = None  # from 1
    column: int | None = None  # from 1

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"Line {self.line}, column {self.column}: {self.message}"


TOO_SLOW = CompileProblem("Compiling the layout took too long.")


class LayoutInvalid(Exception):
    def __init__(self, problems: list[CompileProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class CompilerMissing(RuntimeError):
    """esbuild is not installed: `make run`/`make test` install it (npm ci)."""


@dataclass(frozen=True)
class CompiledModule:
    code: str
    sha256: str  # of `code`: its name on the sandbox origin
    compiler: str  # "esbuild 0.28.2"


def compile_layout(source: str) -> CompiledModule:
    """The script for `source`, or LayoutInvalid with every problem esbuild or the rules found.

    Results are remembered in this process by the source's hash, failures too, so a broken
    layout on a page does not start esbuild on every view.
    """
    esbuild = esbuild_path()
    limits = (settings.LAYOUT_MAX_SOURCE_BYTES, settings.LAYOUT_MAX_COMPILED_BYTES)
    key = (hashlib.sha256(source.encode()).hexdigest(), esbuild, *limits)
    with _lock:
        result = _results.get(key)
        if result is not None:
            _results.move_to_end(key)
    if result is None:
        try:
            result = _compile(source, esbuild, *limits)
        except LayoutInvalid as exc:
            if exc.problems == [TOO_SLOW]:
                raise  # a busy machine, not the layout: try again next time
            result = exc
        with _lock:
            _results[key] = result
            while len(_results) > CACHED_RESULTS:
                _results.popitem(last=False)
    if isinstance(result, LayoutInvalid):
        raise LayoutInvalid(result.problems)
    return result


CACHED_RESULTS = 256
_results: OrderedDict[tuple[str, str, int, int], CompiledModule | LayoutInvalid] = OrderedDict()
_lock = threading.Lock()


def _compile(source: str, esbuild: str, max_source: int, max_compiled: int) -> CompiledModule:
    if not source.strip():
        raise LayoutInvalid([CompileProblem("The layout is empty.")])
    size = len(source.encode())
    if size > max_source:
        raise LayoutInvalid([CompileProblem(f"The layout is {size:,} bytes; at most {max_source:,}.")])
    with tempfile.TemporaryDirectory(prefix="tf-layout-") as work:
        # An empty working directory: nothing for esbuild to find even if it looked.
        meta_path, out_path = Path(work) / "meta.json", Path(work) / "layout.js"
        _run(
            esbuild,
            [
                "--bundle",
                "--external:*",
                "--format=esm",
                "--loader=tsx",
                "--jsx=automatic",
                "--sourcefile=layout.tsx",
                f"--metafile={meta_path}",
                f"--outfile={out_path}",
                "--target=es2020",
                "--log-level=error",
                "--log-limit=0",
                "--color=false",
            ],
            source,
            cwd=work,
        )
        meta = json.loads(meta_path.read_text())
        module = out_path.read_text()
    problems = _import_problems(source, meta) + _export_problems(meta)
    if problems:
        raise LayoutInvalid(problems)
    code = _run(
        esbuild,
        [
            "--format=iife",
            f"--global-name={GLOBAL_NAME}",
            "--minify",
            "--target=es2020",
            "--log-level=error",
            "--color=false",
        ],
        module,
        cwd=None,
    )
    if len(code.encode()) > max_compiled:
        raise LayoutInvalid([CompileProblem(f"The compiled layout is over {max_compiled:,} bytes.")])
    return CompiledModule(
        code=code, sha256=hashlib.sha256(code.encode()).hexdigest(), compiler=compiler_name()
    )


def _run(esbuild: str, args: list[str], stdin: str, *, cwd: str | None) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own binary, arguments we built
            [esbuild, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMPILE_TIMEOUT_SECONDS,
            cwd=cwd,
            env={"PATH": os.environ.get("PATH", "")},
        )
    except subprocess.TimeoutExpired as exc:
        raise LayoutInvalid([TOO_SLOW]) from exc
    except OSError as exc:  # not executable, another machine's binary
        raise CompilerMissing(f"The layout compiler could not be started: {exc}") from exc
    if done.returncode != 0:
        raise LayoutInvalid(_esbuild_problems(done.stderr))
    return done.stdout


# esbuild's text log: "✘ [ERROR] message\n\n    layout.tsx:3:10:\n      3 │ ...".
_ERROR = re.compile(r"^✘ \[ERROR\] (?P<message>.+)$", re.MULTILINE)
_PLACE = re.compile(r"^\s+layout\.tsx:(?P<line>\d+):(?P<column>\d+):$", re.MULTILINE)


def _esbuild_problems(log: str) -> list[CompileProblem]:
    problems = []
    matches = list(_ERROR.finditer(log))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(log)
        place = _PLACE.search(log, match.end(), end)
        if place:
            # esbuild counts columns from 0; people (and editors) from 1.
            line, column = int(place["line"]), int(place["column"]) + 1
            problems.append(CompileProblem(match["message"].strip(), line, column))
        else:
            problems.append(CompileProblem(match["message"].strip()))
    return problems or [CompileProblem("The layout could not be compiled.")]


def _import_problems(source: str, meta: dict[str, Any]) -> list[CompileProblem]:
    problems = []
    for entry in meta["inputs"].get("layout.tsx", {}).get("imports", []):
        path = entry["path"]
        if path not in ALLOWED_IMPORTS:
            line, column = _position_of(source, path)
            problems.append(
                CompileProblem(
                    f'Layouts may import only "react" and "@ticketflower/kit", not "{path}".', line, column
                )
            )
    return problems


def _export_problems(meta: dict[str, Any]) -> list[CompileProblem]:
    output: dict[str, Any] = next(iter(meta["outputs"].values()), {})
    exports = output.get("exports") or []
    if "default" in exports:
        return []
    return [
        CompileProblem("The layout must have a default export: export default function Layout(props) { … }")
    ]


def _position_of(source: str, path: str) -> tuple[int | None, int | None]:
    """Where a module name first appears quoted in the source (esbuild's metafile has no places)."""
    for quote in ('"', "'", "`"):
        found = source.find(f"{quote}{path}{quote}")
        if found >= 0:
            line = source.count("\n", 0, found) + 1
            return line, found - (source.rfind("\n", 0, found) + 1) + 1
    return None, None


def esbuild_path() -> str:
    configured = settings.LAYOUT_ESBUILD
    path = Path(configured) if configured else _bundled_esbuild()
    if not path.is_file():
        raise CompilerMissing(
            f"The layout compiler is not installed ({path}): run `make run` or `make test`, which "
            "install it with npm (Node 20 or newer)."
        )
    return str(path)


def _bundled_esbuild() -> Path:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = platform.system().lower()
    return RUNTIME_DIR / "node_modules" / "@esbuild" / f"{system}-{machine}" / "bin" / "esbuild"


@functools.cache
def compiler_name() -> str:
    try:
        done = subprocess.run(  # noqa: S603
            [esbuild_path(), "--version"],
            capture_output=True,
            text=True,
            timeout=COMPILE_TIMEOUT_SECONDS,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise CompilerMissing(f"The layout compiler could not be started: {exc}") from exc
    return f"esbuild {done.stdout.strip()}"
