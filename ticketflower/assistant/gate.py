"""The gate every proposal passes before a person may save it.

1. bundle validation (the same rules as an upload; written layouts must compile);
2. a render of every layout, generated defaults included, with sample values, in a sandboxed
   renderer (`layouts.render`);
3. a dry run of the transitions over sample data (`assistant.dryrun`).

Company roles the bundle names that the company lacks are not problems here: saving creates
them. The gate is also what the LLM generator is handed to repair its own answers.
"""

from dataclasses import dataclass, field
from typing import Any

from ticketflower.assistant.dryrun import dry_run_problems
from ticketflower.definitions.services import bundle_role_names
from ticketflower.definitions.validation import Problem, shape_problems, validate_bundle
from ticketflower.layouts.render import RendererMissing, slot_render_problems


@dataclass
class GateReport:
    problems: list[Problem] = field(default_factory=list)
    new_roles: list[str] = field(default_factory=list)  # named by the bundle, created on save

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [str(problem) for problem in self.problems]


def gate(bundle: Any, *, roles: list[str]) -> GateReport:
    """All of a proposal's problems, and the company roles saving it would create."""
    problems = validate_bundle(bundle)
    if shape_problems(bundle):
        return GateReport(problems)
    report = GateReport(problems, new_roles=bundle_new_roles(bundle, roles))
    try:
        report.problems += [Problem(path, message) for path, message in slot_render_problems(bundle)]
    except RendererMissing as exc:
        report.problems.append(Problem("workflow", str(exc)))
    if not problems:  # the dry run reads conditions and keys as valid
        report.problems += dry_run_problems(bundle)
    report.problems = sorted(set(report.problems))
    return report


def bundle_new_roles(bundle: dict[str, Any], roles: list[str]) -> list[str]:
    """Role names the bundle uses that are not among `roles` (whatever the case), as first spelled."""
    known = {name.lower() for name in roles}
    new: dict[str, str] = {}
    for _, name in bundle_role_names(bundle):
        if isinstance(name, str) and name.strip() and name.strip().lower() not in known:
            new.setdefault(name.strip().lower(), name.strip())
    return list(new.values())
