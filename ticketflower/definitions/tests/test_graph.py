"""The workflow graph picture: what it draws, what it survives, and that its texts stay text."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.factories import load_bundle
from ticketflower.definitions.graph import MAX_TASKS, MAX_TRANSITIONS, workflow_graph_svg

SVG = "{http://www.w3.org/2000/svg}"
SAMPLES = ["it-equipment-request.yaml", "customer-complaint.yaml", "purchase-order.yaml"]
ROOT = Path(__file__).resolve().parents[3]


def draw(bundle: Any) -> ET.Element:
    return ET.fromstring(workflow_graph_svg(bundle))  # noqa: S314 -- our own output


def groups(svg: ET.Element, css_class: str) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if css_class in (g.get("class") or "").split()]


def texts(element: ET.Element) -> list[str]:
    return ["".join(text.itertext()) for text in element.iter(f"{SVG}text")]


def task(key: str, title: str = "", task_type: str = "FORM") -> dict[str, Any]:
    return {"key": key, "title": title or key.title(), "type": task_type}


def step(source: str | None, target: str, condition: str = "", priority: int = 0) -> dict[str, Any]:
    return {"from": source, "to": target, "condition": condition, "priority": priority}


def workflow(tasks: list[Any], transitions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"workflow": {"title": "Test", "tasks": tasks, "transitions": transitions}}


def box(svg: ET.Element, key: str) -> tuple[float, float, float, float]:
    """x, y, width, height of the task's box."""
    (group,) = [g for g in groups(svg, "tf-task") if g.get("data-key") == key]
    rect = group.find(f"{SVG}rect")
    assert rect is not None
    return tuple(float(rect.get(name) or 0) for name in ("x", "y", "width", "height"))  # type: ignore[return-value]


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_sample_draws_a_box_per_task_an_arrow_per_transition_a_start_and_its_ends(sample: str) -> None:
    bundle = load_bundle(sample)
    flow = bundle["workflow"]
    svg = draw(bundle)
    assert sorted(g.get("data-key") or "" for g in groups(svg, "tf-task")) == sorted(
        t["key"] for t in flow["tasks"]
    )
    assert len(groups(svg, "tf-transition")) == len(flow["transitions"])
    assert len(groups(svg, "tf-start")) == 1
    sources = {t["from"] for t in flow["transitions"]}
    assert len(groups(svg, "tf-end")) == len([t for t in flow["tasks"] if t["key"] not in sources])


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_sample_shows_titles_keys_type_badges_and_conditions(sample: str) -> None:
    bundle = load_bundle(sample)
    svg = draw(bundle)
    for spec in bundle["workflow"]["tasks"]:
        (group,) = [g for g in groups(svg, "tf-task") if g.get("data-key") == spec["key"]]
        shown = texts(group)
        assert " ".join(shown[:-2]).startswith(spec["title"][:20])
        assert shown[-2:] == [
            spec["key"],
            {"FORM": "form", "SYNC_ACTION": "sync action", "CODE": "code"}[spec["type"]],
        ]
    labels = " ".join(" ".join(texts(g)) for g in groups(svg, "tf-transition"))
    for transition in bundle["workflow"]["transitions"]:
        if transition.get("condition"):
            assert transition["condition"][:20] in labels


def test_the_it_sample_is_layered_left_to_right_with_the_branches_in_one_column() -> None:
    svg = draw(load_bundle("it-equipment-request.yaml"))
    approve, order, decline = box(svg, "approve"), box(svg, "order"), box(svg, "decline")
    assert approve[0] + approve[2] < order[0]
    assert order[0] == decline[0]
    assert order[1] + order[3] <= decline[1] or decline[1] + decline[3] <= order[1]


def test_a_long_condition_is_shortened_and_whole_in_the_tooltip() -> None:
    condition = "data.amount > 1000 && data.department == 'finance' && has(data.invoice)"
    svg = draw(workflow([task("a"), task("b")], [step(None, "a"), step("a", "b", condition)]))
    (edge,) = [g for g in groups(svg, "tf-transition") if g.find(f"{SVG}title") is not None]
    assert texts(edge) == ["data.amount > 1000 && data.de…"]
    assert edge.findtext(f"{SVG}title") == f"Condition: {condition}"


def test_priorities_are_shown_only_where_a_task_has_several_transitions() -> None:
    svg = draw(
        workflow(
            [task("a"), task("b"), task("c"), task("d")],
            [step(None, "a"), step("a", "b", "x", 5), step("a", "c", "", 7), step("b", "d", "y", 3)],
        )
    )
    labels = sorted(texts(g) for g in groups(svg, "tf-transition") if texts(g))
    assert labels == [["5", "x"], ["7", "always"], ["y"]]


def test_a_loop_back_is_drawn_round_the_outside_and_a_self_loop_on_its_box() -> None:
    svg = draw(
        workflow(
            [task("write"), task("review"), task("publish")],
            [
                step(None, "write"),
                step("write", "review"),
                step("review", "write", "!data.ok", 0),
                step("review", "publish", "data.ok", 1),
                step("publish", "publish", "data.again"),
            ],
        )
    )
    (back,) = groups(svg, "tf-edge-back")
    (loop,) = groups(svg, "tf-edge-loop")
    assert texts(back) == ["0", "!data.ok"]
    assert texts(loop) == ["data.again"]
    boxes = [box(svg, key) for key in ("write", "review", "publish")]
    top = min(y for _x, y, _w, _h in boxes)
    bottom = max(y + h for _x, y, _w, h in boxes)
    path = back.find(f"{SVG}path")
    assert path is not None
    ys = [float(p.split(",")[1]) for p in (path.get("d") or "").replace("M", " ").split() if "," in p]
    assert min(ys) < top or max(ys) > bottom
    assert box(svg, "write")[0] < box(svg, "review")[0] < box(svg, "publish")[0]


def test_boxes_never_overlap_and_every_forward_arrow_points_right() -> None:
    keys = [f"t{i}" for i in range(12)]
    transitions = [step(None, "t0")] + [step(keys[i], keys[(i * 5 + 3) % 12], f"c{i}") for i in range(12)]
    transitions += [step(keys[i], keys[i + 1]) for i in range(11)]
    svg = draw(workflow([task(k) for k in keys], transitions))
    boxes = [box(svg, key) for key in keys]
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
    forward = [g for g in groups(svg, "tf-transition") if "tf-edge-back" not in (g.get("class") or "")]
    back = groups(svg, "tf-edge-back")
    assert back  # the steps of 5 make loops
    for edge in [g for g in forward if g.get("data-from")]:  # not the start's
        assert box(svg, edge.get("data-from") or "")[0] < box(svg, edge.get("data-to") or "")[0]
    for edge in back:
        assert box(svg, edge.get("data-from") or "")[0] >= box(svg, edge.get("data-to") or "")[0]


def test_a_bundle_with_problems_draws_what_it_can_and_says_what_it_left_out() -> None:
    svg = draw(
        workflow(
            [task("a"), task("b"), {"title": "no key"}, "junk", task("a", "A again")],
            [step("a", "b"), step("a", "nowhere"), step("ghost", "b"), {"from": 3, "to": ["x"]}],
        )
    )
    assert [g.get("data-key") for g in groups(svg, "tf-task")] == ["a", "b"]
    assert len(groups(svg, "tf-transition")) == 1
    assert groups(svg, "tf-start") == []
    notes = [t for g in [svg] for t in texts(g) if t.startswith(("Not drawn", "There is"))]
    assert notes == [
        "Not drawn: 2 task(s) without a key of their own.",
        "Not drawn: 3 transition(s) from or to an unknown task.",
        "There is no start transition.",
    ]


@pytest.mark.parametrize(
    "bundle",
    [
        None,
        [],
        {},
        {"workflow": []},
        {"workflow": {"tasks": "x", "transitions": {"a": 1}}},
        {"workflow": {"tasks": [{"key": 1, "title": None, "type": ["FORM"]}], "transitions": [None]}},
        workflow([task("a")], [step(None, "a", priority=True), step("a", "a", "\x00\x1f bad chars")]),
        workflow([task("a", "", "")], [step(None, "a"), step(None, "a")]),
    ],
)
def test_odd_bundles_never_raise(bundle: Any) -> None:
    assert draw(bundle).tag == f"{SVG}svg"


def test_script_and_quotes_in_titles_keys_and_conditions_stay_text() -> None:
    evil = '"><script>alert(1)</script>'
    markup = workflow_graph_svg(
        {
            "workflow": {
                "title": evil,
                "tasks": [task("a", evil), task(evil, "B")],
                "transitions": [step(None, "a"), step("a", evil, evil), step("a", "a", evil)],
            }
        }
    )
    assert "<script" not in markup
    svg = ET.fromstring(markup)  # noqa: S314 -- our own output
    assert [element.tag for element in svg.iter() if "script" in element.tag] == []
    assert svg.get("aria-label") == f"Workflow: {evil}"
    assert [g.get("data-key") for g in groups(svg, "tf-task")] == ["a", evil]
    assert any(evil in (title.text or "") for title in svg.iter(f"{SVG}title"))


def test_the_drawing_uses_no_style_script_or_event_attribute() -> None:
    svg = draw(load_bundle("customer-complaint.yaml"))
    tags = {element.tag.removeprefix(SVG) for element in svg.iter()}
    attributes = {name for element in svg.iter() for name in element.attrib}
    assert tags <= {"svg", "g", "rect", "text", "path", "title"}
    assert [name for name in attributes if name == "style" or name.startswith("on")] == []


def test_a_huge_workflow_is_cut_to_the_caps_with_a_note() -> None:
    keys = [f"t{i}" for i in range(MAX_TASKS + 50)]
    transitions = [step(None, "t0")] + [step(keys[i], keys[i + 1]) for i in range(len(keys) - 1)]
    transitions += [step(keys[i], "t0", "x" * 500) for i in range(1, len(keys))]
    markup = workflow_graph_svg(workflow([task(k, "A title " * 40) for k in keys], transitions))
    svg = ET.fromstring(markup)  # noqa: S314 -- our own output
    assert len(groups(svg, "tf-task")) == MAX_TASKS
    assert len(groups(svg, "tf-transition")) <= MAX_TRANSITIONS
    assert f"Showing the first {MAX_TASKS} of {MAX_TASKS + 50} tasks." in texts(svg)
    assert f"Showing the first {MAX_TRANSITIONS} of {len(transitions)} transitions." in texts(svg)
    assert len(markup) < 1_000_000


def test_the_same_bundle_draws_the_same_bytes_whatever_the_hash_seed() -> None:
    script = (
        "import sys, yaml; from ticketflower.definitions.graph import workflow_graph_svg; "
        "sys.stdout.write(workflow_graph_svg(yaml.safe_load(open(sys.argv[1]))))"
    )
    bundle = str(ROOT / "fixtures" / "bundles" / "customer-complaint.yaml")
    outputs = {
        subprocess.run(  # noqa: S603 -- our own interpreter and script
            [sys.executable, "-c", script, bundle],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert outputs == {workflow_graph_svg(load_bundle("customer-complaint.yaml"))}
