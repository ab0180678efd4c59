"""The examples in docs/ are real: every condition parses, every sample bundle validates."""

import re
from pathlib import Path

import pytest
import yaml

from ticketflower.definitions.bundles import bundle_parse
from ticketflower.definitions.expressions import condition_check
from ticketflower.definitions.validation import TASK_SHAPE, validate_bundle

ROOT = Path(__file__).resolve().parents[3]


def documented_conditions() -> list[str]:
    table = (ROOT / "docs" / "expressions.md").read_text().split("## Transforms")[0]
    return [c.replace("\\|", "|") for c in re.findall(r"^\| `(.+?)` \|", table, flags=re.MULTILINE)]


def test_the_docs_show_conditions() -> None:
    assert len(documented_conditions()) >= 6


@pytest.mark.parametrize("condition", documented_conditions())
def test_each_documented_condition_parses(condition: str) -> None:
    condition_check(condition)


@pytest.mark.parametrize("path", sorted((ROOT / "fixtures" / "bundles").glob("*.yaml")), ids=lambda p: p.name)
def test_each_sample_bundle_validates(path: Path) -> None:
    assert validate_bundle(bundle_parse(path.read_text(), filename=path.name)) == []


def test_the_bundle_format_example_is_the_sample_file() -> None:
    doc = (ROOT / "docs" / "bundle-format.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    sample = (ROOT / "fixtures" / "bundles" / "purchase-order.yaml").read_text()
    assert yaml.safe_load(example) == yaml.safe_load(sample)


def bundle_format_section(title: str) -> str:
    doc = (ROOT / "docs" / "bundle-format.md").read_text()
    return doc.split(f"### {title}\n", 1)[1].split("\n#", 1)[0]


def test_the_bundle_format_documents_every_task_key_validation_knows() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", bundle_format_section("Tasks")))
    known = set(TASK_SHAPE) | {"input_transform", "output_transform"}
    assert {"assignment", "worker_role"} <= known
    assert known - documented == set()


def test_the_bundle_format_says_a_run_with_no_matching_transition_stops_in_error() -> None:
    transitions = bundle_format_section("Transitions")
    assert 'stops in ERROR with "no transition\n  matched after <task title>"' in transitions
    assert "no outgoing transitions: the workflow ends (its run is COMPLETED)" in transitions
    assert "None holds: the workflow is complete" not in transitions
