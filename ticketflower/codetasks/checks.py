"""What a CODE task's source must be before it is saved as valid or published (docs/code-tasks.md).

Plain Python over the text, no sandbox needed: it must stay under CODE_MAX_SOURCE_BYTES, parse,
import only the allowed standard-library modules, and define `def run(input, context)` at its
top level. Each problem names its line and column, so the editor (and the assistant) can point
at it. Passing these checks makes no promise about what the code does when it runs: the sandbox
is the wall, these are the signposts.
"""

import ast
from dataclasses import dataclass

from ticketflower.codetasks.runner import ALLOWED_MODULES

MAX_SOURCE_BYTES = 100_000
MAX_SECONDS = 60  # the longest a task may name (timeout_seconds); CODE_TIME_LIMIT when it names none
SIGNATURE = "def run(input, context)"
MAX_PROBLEMS = 50  # listed; past them, how many more


@dataclass(frozen=True)
class CodeProblem:
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"Line {self.line}, column {self.column or 1}: {self.message}"


def code_problems(source: str) -> list[CodeProblem]:
    """Every problem of `source` as task code; an empty list when it may run."""
    if not source.strip():
        return [CodeProblem(None, None, f"A code task needs its code: {SIGNATURE} returning a dict.")]
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        return [
            CodeProblem(None, None, f"The code is {size:,} bytes; at most {MAX_SOURCE_BYTES:,} are allowed.")
        ]
    try:
        tree = ast.parse(source, filename="<task code>")
    except SyntaxError as exc:
        return [CodeProblem(exc.lineno, exc.offset, f"The code does not parse: {exc.msg}.")]
    except UnicodeError:  # a lone surrogate: not text at all
        return [
            CodeProblem(None, None, "The code does not parse: it holds a character that is not valid text.")
        ]
    except (RecursionError, MemoryError, ValueError) as exc:  # a null byte, or nested past the parser
        what = "it holds a null byte" if isinstance(exc, ValueError) else "it nests too deeply"
        return [CodeProblem(None, None, f"The code does not parse: {what}.")]
    problems = [*_import_problems(tree), *_run_problems(tree)]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], CodeProblem(None, None, f"… and {more:,} more problems.")]
    return problems


def _import_problems(tree: ast.Module) -> list[CodeProblem]:
    allowed = ", ".join(sorted(ALLOWED_MODULES))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        for name in names:
            if name.startswith(".") or name.partition(".")[0] not in ALLOWED_MODULES:
                problems.append(
                    CodeProblem(
                        node.lineno,
                        node.col_offset + 1,
                        f"import {name} is not allowed. Task code may import only {allowed}.",
                    )
                )
    return problems


def _run_problems(tree: ast.Module) -> list[CodeProblem]:
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    runs = [node for node in found if node.name == "run"]
    if not runs:
        return [CodeProblem(None, None, f"The code must define {SIGNATURE} at its top level (not indented).")]
    run = runs[-1]  # the last definition is the one that counts
    where = (run.lineno, run.col_offset + 1)
    if isinstance(run, ast.AsyncFunctionDef):
        return [CodeProblem(*where, f"run must be a plain function ({SIGNATURE}), not async.")]
    args = run.args
    positional = [*args.posonlyargs, *args.args]
    required_keywords = [
        arg.arg for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default is None
    ]
    if len(positional) - len(args.defaults) > 2 or (len(positional) < 2 and args.vararg is None):
        return [CodeProblem(*where, f"run must take two arguments: {SIGNATURE}.")]
    if required_keywords:
        names = ", ".join(required_keywords)
        return [CodeProblem(*where, f"run must take two arguments: {SIGNATURE}; it also needs {names}.")]
    return []
