"""The checks a code task's source passes before it may be saved or published: plain Python, no sandbox."""

import pytest

from ticketflower.codetasks.checks import MAX_SOURCE_BYTES, code_problems
from ticketflower.codetasks.runner import ALLOWED_MODULES

GOOD = "import json\n\ndef run(input, context):\n    return {'n': len(json.dumps(input))}\n"


def messages(source: str) -> list[str]:
    return [str(problem) for problem in code_problems(source)]


def test_good_code_has_no_problems() -> None:
    assert code_problems(GOOD) == []


def test_the_allow_list_is_the_issues_list_of_standard_modules() -> None:
    issue = ["json", "re", "math", "statistics", "decimal", "datetime", "itertools", "collections"]
    issue += ["string", "textwrap", "csv", "io", "base64", "hashlib", "unicodedata"]
    assert set(issue) == ALLOWED_MODULES


def test_empty_code_is_refused() -> None:
    assert messages("  \n") == ["A code task needs its code: def run(input, context) returning a dict."]


def test_a_syntax_error_names_its_line_and_column() -> None:
    (problem,) = code_problems("def run(input, context):\n    return {'a': 1\n")
    assert (problem.line, problem.column) == (2, 12)
    assert str(problem).startswith("Line 2, column 12: The code does not parse: '{' was never closed")


def test_an_indentation_error_names_its_line() -> None:
    (problem,) = code_problems("def run(input, context):\nreturn {}\n")
    assert problem.line == 2 and "expected an indented block" in problem.message


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("import os", "os"),
        ("import json, subprocess", "subprocess"),
        ("from ctypes import CDLL", "ctypes"),
        ("import os.path", "os.path"),
        ("from . import sibling", "."),
        ("import importlib", "importlib"),
    ],
)
def test_imports_outside_the_allow_list_are_refused_at_their_place(line: str, name: str) -> None:
    source = f"def run(input, context):\n    {line}\n    return {{}}\n"
    (problem,) = code_problems(source)
    assert (problem.line, problem.column) == (2, 5)
    assert problem.message.startswith(f"import {name} is not allowed. Task code may import only base64,")


def test_submodules_of_allowed_modules_are_allowed() -> None:
    assert code_problems("from collections.abc import Mapping\nimport json.decoder\n" + GOOD) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "def main(input, context):\n    return {}\n",
            "The code must define def run(input, context) at its top level",
        ),
        ("class X:\n    def run(self, a):\n        return {}\n", "at its top level"),
        ("async def run(input, context):\n    return {}\n", "Line 1, column 1: run must be a plain function"),
        ("def run(input):\n    return {}\n", "Line 1, column 1: run must take two arguments"),
        ("def run(a, b, c):\n    return {}\n", "run must take two arguments"),
        ("def run(a, b, *, strict):\n    return {}\n", "it also needs strict"),
    ],
)
def test_run_must_be_a_top_level_function_of_two_arguments(source: str, expected: str) -> None:
    (problem,) = messages(source)
    assert expected in problem


@pytest.mark.parametrize(
    "signature", ["run(input, context)", "run(i, c, extra=None)", "run(*args)", "run(i, c, /, *, flag=False)"]
)
def test_signatures_that_take_two_arguments_are_accepted(signature: str) -> None:
    assert code_problems(f"def {signature}:\n    return {{}}\n") == []


def test_code_past_the_size_cap_is_refused_before_it_is_parsed() -> None:
    source = GOOD + "#" * MAX_SOURCE_BYTES
    assert messages(source) == [
        f"The code is {len(source):,} bytes; at most {MAX_SOURCE_BYTES:,} are allowed."
    ]


def test_code_nested_past_the_parser_is_a_problem_not_a_crash() -> None:
    (problem,) = messages("def run(input, context):\n    return " + "[" * 5000 + "]" * 5000 + "\n")
    assert "does not parse" in problem


def test_a_null_byte_is_a_problem_not_a_crash() -> None:
    (problem,) = messages("def run(input, context):\n    return {}\x00\n")
    assert problem.startswith("The code does not parse") and "null byte" in problem


def test_a_lone_surrogate_is_a_problem_not_a_crash() -> None:
    assert messages("def run(input, context):\n    return {'a': '\ud800'}\n") == [
        "The code does not parse: it holds a character that is not valid text."
    ]


def test_thousands_of_problems_are_listed_fifty_at_a_time() -> None:
    source = "import os\n" * 9000 + "def run(input, context):\n    return {}\n"
    problems = messages(source)
    assert len(problems) == 51 and problems[-1] == "… and 8,950 more problems."
