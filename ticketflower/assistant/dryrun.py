"""A dry run of a bundle's transitions: does every branch take, and does every task get reached?

The engine's own router (`runtime.engine.first_task` / `next_step`) decides where a run goes
after each task, over sample data: one data set with a sample value for every field, and
variants that change one field at a time to each value the conditions talk about (each side of
`data.amount > 500`, every option of a choice, yes and no, the field left empty). A transition
no variant takes, a task no taken transition reaches, and a variant after which no transition
holds (the run would stop in ERROR) are problems, each with its place.

Pure reads: nothing is written, no run is made.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

from ticketflower.definitions import expressions
from ticketflower.definitions.fields import sample_value
from ticketflower.definitions.validation import Problem
from ticketflower.runtime import engine

_LITERAL = re.compile(
    r"data\.(?P<name>[a-z][a-z0-9_]*)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>-?\d+(?:\.\d+)?|\"(?:[^\"\\]|\\.)*\")"
)
_IN_LIST = re.compile(r"(?P<value>\"(?:[^\"\\]|\\.)*\")\s+in\s+data\.(?P<name>[a-z][a-z0-9_]*)")
MAX_VARIANTS = 200


def dry_run_problems(bundle: dict[str, Any]) -> list[Problem]:
    """Every branch must be taken by some sample data; every task reached. `bundle` is valid."""
    workflow = bundle["workflow"]
    tasks = workflow.get("tasks") or []
    transitions = workflow.get("transitions") or []
    if not tasks:
        return []
    fields = {f["name"]: f for f in workflow.get("fields") or []}
    # Always there: what every ticket type makes the submitter fill in.
    submitted = set.intersection(
        *(
            {
                e["field"]
                for e in t.get("fields") or []
                if fields.get(e["field"], {}).get("required") or "preset" in e
            }
            for t in bundle.get("ticket_types") or []
        ),
        set(fields),
    )
    memo: dict[tuple[str, str], bool] = {}

    def holds(expression: str, context: dict[str, Any]) -> bool:
        key = (expression, json.dumps(context, sort_keys=True, default=str))
        if key not in memo:
            memo[key] = expressions.condition_holds(expression, context)
        return memo[key]

    taken: set[tuple[str | None, str]] = set()
    problems: list[Problem] = []
    stuck: dict[str | None, str] = {}
    for key in [None, *(t["key"] for t in tasks)]:
        if key is not None and not any(t["from"] == key for t in transitions):
            continue  # the workflow ends after it
        spec: dict[str, Any] = next((t for t in tasks if t["key"] == key), {})
        # ... and, after a task, what its output schema requires it to record.
        present = submitted | set((spec.get("output_schema") or {}).get("required") or [])
        for described, data in _variants(workflow, present):
            try:
                if key is None:
                    step = engine.Step("task", task=engine.first_task(bundle, data, holds=holds))
                else:
                    step = engine.next_step(bundle, engine.task_spec(bundle, key), data, holds=holds)
            except engine.EngineError as exc:
                stuck.setdefault(key, f"{exc} ({described})")
                continue
            if step.task is not None:
                taken.add((key, step.task["key"]))
            elif step.outcome == "error":
                stuck.setdefault(key, f"{step.reason} ({described})")
    for key, reason in stuck.items():
        index = next((i for i, t in enumerate(tasks) if t["key"] == key), None)
        path = "workflow.transitions" if index is None else f"workflow.tasks[{index}]"
        problems.append(Problem(path, f"The run would stop in ERROR: {reason}"))
    for index, transition in enumerate(transitions):
        if (transition.get("from"), transition["to"]) not in taken:
            condition = (transition.get("condition") or "").strip()
            why = f" when {condition}" if condition else ""
            problems.append(
                Problem(
                    f"workflow.transitions[{index}]",
                    f"No sample data takes this transition (to {transition['to']!r}{why}): its condition "
                    "never holds, or one tried before it always does.",
                )
            )
    reached = _reached(taken)
    ending = _ending(taken, {t["key"] for t in tasks} - {t["from"] for t in transitions})
    for index, task in enumerate(tasks):
        if task["key"] not in reached:
            problems.append(Problem(f"workflow.tasks[{index}]", "No sample run reaches this task."))
        elif task["key"] not in ending and task["key"] not in stuck:
            problems.append(
                Problem(
                    f"workflow.tasks[{index}]",
                    "No sample run gets from this task to the end: it loops forever.",
                )
            )
    return problems


def _ending(taken: set[tuple[str | None, str]], last: set[str]) -> set[str]:
    """The tasks from which some taken way leads to a task without transitions (the end)."""
    ending = set(last)
    grew = True
    while grew:
        grew = False
        for source, target in taken:
            if source is not None and source not in ending and target in ending:
                ending.add(source)
                grew = True
    return ending


def _reached(taken: set[tuple[str | None, str]]) -> set[str]:
    reached: set[str] = set()
    frontier: list[str | None] = [None]
    while frontier:
        here = frontier.pop()
        for source, target in taken:
            if source == here and target not in reached:
                reached.add(target)
                frontier.append(target)
    return reached


def _variants(workflow: dict[str, Any], present: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The sample data, then one field changed at a time to every value the conditions name, or
    left empty (unless it is `present` for sure)."""
    fields = {f["name"]: f for f in workflow.get("fields") or []}
    base = {name: sample_value(spec) for name, spec in fields.items()}
    yield "with sample values", base
    candidates: dict[str, list[Any]] = {name: [] for name in fields}
    conditions = " ".join(t.get("condition") or "" for t in workflow.get("transitions") or [])
    for match in _LITERAL.finditer(conditions):
        name = match.group("name")
        if name not in fields:
            continue
        value = _literal(match.group("value"))
        if value is None:
            continue
        if isinstance(value, (int, float)):
            step = 1 if fields[name]["type"] == "integer" else 0.5
            candidates[name] += [value - step, value, value + step]
        elif fields[name]["type"] in ("choice", "multi_choice"):
            candidates[name].append(value)  # every option is tried below
        else:
            candidates[name] += [value, f"{value} (another)"]
    for match in _IN_LIST.finditer(conditions):
        if match.group("name") in fields:
            value = _literal(match.group("value"))
            if value is not None:
                candidates[match.group("name")].append([value])
    for name, spec in fields.items():
        if spec["type"] == "boolean":
            candidates[name] += [True, False]
        elif spec["type"] == "choice":
            candidates[name] += list(spec.get("options") or [])
        elif spec["type"] == "multi_choice":
            candidates[name] += [[option] for option in spec.get("options") or []] + [[]]
    count = 1
    for name, values in candidates.items():
        if f"data.{name}" not in conditions:
            continue  # no condition reads it: changing it changes nothing
        for value in _unique(values):
            if count >= MAX_VARIANTS:
                return
            count += 1
            yield f"when {name} is {json.dumps(value)}", {**base, name: value}
        if count < MAX_VARIANTS and name not in present:
            count += 1
            yield f"when {name} has no value", {k: v for k, v in base.items() if k != name}


def _literal(text: str) -> Any:
    """A CEL number or string literal's value; None for one JSON cannot read (CEL escapes such as
    \\x41 or \\'), which then only goes untried."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
