"""The layout compiler: esbuild's real binary, the rules on top, problems with line and column."""

import re
from pathlib import Path

import pytest
from django.test import override_settings

from ticketflower.layouts.compiler import GLOBAL_NAME, LayoutInvalid, compile_layout
from ticketflower.layouts.slots import Kind, bundle_slots, default_source
from ticketflower.runtime.tests.workflows import review_bundle

GOOD = """import { useState } from "react";
import { Field, Form } from "@ticketflower/kit";

type Props = { mode: "edit" | "display" };

export default function Layout({ mode }: Props) {
  const [open] = useState(true);
  return <Form>{open && <Field name="item" />}{mode}</Form>;
}
"""


def problems_of(source: str) -> list[str]:
    with pytest.raises(LayoutInvalid) as caught:
        compile_layout(source)
    return [str(problem) for problem in caught.value.problems]


def test_a_layout_compiles_to_a_script_that_requires_only_react_and_the_kit() -> None:
    compiled = compile_layout(GOOD)

    assert compiled.code.startswith(f"var {GLOBAL_NAME}=")
    assert 'require("react")' in compiled.code
    assert 'require("@ticketflower/kit")' in compiled.code
    assert "import " not in compiled.code  # a classic script: no module syntax left
    assert compiled.compiler.startswith("esbuild 0.")
    assert len(compiled.sha256) == 64 and compiled.sha256 == compile_layout(GOOD).sha256


def test_a_syntax_error_names_its_line_and_column() -> None:
    source = "export default function Layout() {\n  const x = ;\n  return <div>{x}</div>;\n}\n"

    assert problems_of(source) == ['Line 2, column 13: Unexpected ";"']


@pytest.mark.parametrize(
    "source, refused",
    [
        ('import fs from "fs";\nexport default () => null;', "fs"),
        ('import "react-dom";\nexport default () => null;', "react-dom"),
        # esbuild never reads a file a layout names: it stays an import, and is refused.
        ('import secrets from "/etc/passwd";\nexport default () => secrets;', "/etc/passwd"),
        ('import data from "../../.env";\nexport default () => data;', "../../.env"),
        ('const cp = require("child_process");\nexport default () => null;', "child_process"),
    ],
)
def test_only_react_and_the_kit_may_be_imported(source: str, refused: str) -> None:
    found = problems_of(source)

    assert found == [
        f"Line 1, column {source.index(f'"{refused}"') + 1}: "
        f'Layouts may import only "react" and "@ticketflower/kit", not "{refused}".'
    ]


def test_a_layout_needs_a_default_export() -> None:
    assert problems_of("export const Layout = () => null;") == [
        "The layout must have a default export: export default function Layout(props) { … }"
    ]


def test_empty_and_oversized_layouts_are_refused() -> None:
    assert problems_of("  \n") == ["The layout is empty."]
    with override_settings(LAYOUT_MAX_SOURCE_BYTES=200):
        found = problems_of(GOOD + "// padding " * 20)
    assert found[0].startswith("The layout is ") and "at most 200" in found[0]


def test_every_default_layout_compiles() -> None:
    slots = bundle_slots(review_bundle())

    assert {slot.kind for slot in slots} == set(Kind)
    for slot in slots:
        assert slot.source == ""
        compile_layout(slot.effective_source())


def test_defaults_name_the_fields_they_cover_and_quote_titles_safely() -> None:
    bundle = review_bundle(ticket_type='Say "hi" </script> {x}')
    by_path = {slot.path: slot for slot in bundle_slots(bundle)}

    ticket_edit = by_path["ticket_types[0].edit_layout"]
    # The preset "urgent" is filled in, never asked.
    assert [f["name"] for f in ticket_edit.fields] == ["item", "count"]
    assert '<Field name={"item"} />' in default_source(ticket_edit)
    task_edit = by_path["workflow.tasks[0].edit_layout"]
    assert [f["name"] for f in task_edit.fields] == ["approved"]
    task_display = by_path["workflow.tasks[0].display_layout"]
    assert [f["name"] for f in task_display.fields] == ["item"]
    source = default_source(ticket_edit)
    assert r'<Section title={"Say \"hi\" <\/script> {x}"}>' in source
    compile_layout(source)
    assert "<AutoDisplay filled />" in default_source(by_path["workflow.display_layout"])


def documented_layouts() -> list[str]:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "layouts.md").read_text()
    return re.findall(r"```tsx\n(.*?)```", doc, flags=re.DOTALL)


def test_the_docs_show_layouts() -> None:
    assert len(documented_layouts()) >= 3


@pytest.mark.parametrize("source", documented_layouts())
def test_each_documented_layout_compiles(source: str) -> None:
    compile_layout(source)
