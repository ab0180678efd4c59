"""The render check: real Node and esbuild; layouts that work, break, loop, hog memory or reach out.

Some layouts below are written as compiled code by hand: the compiler would refuse them (no
default export, `require("fs")`), and the check must hold without relying on it.
"""

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ticketflower.layouts.compiler import compile_layout
from ticketflower.layouts.embed import sample_props
from ticketflower.layouts.render import (
    TOO_MUCH_MEMORY,
    RendererMissing,
    RenderOutcome,
    node_command,
    node_path,
    render_check,
    slot_render_problems,
)
from ticketflower.layouts.slots import Kind, bundle_slots
from ticketflower.runtime.tests.workflows import review_bundle

TOO_SLOW = "The layout took longer than 2 s to render."


def compiled(source: str) -> str:
    return compile_layout(source).code


def by_hand(default: str) -> str:
    """A module as the compiler's second pass writes one, with `default` as its default export."""
    return f"var TicketFlowerLayout={{default:{default}}};"


def test_a_generated_default_layout_renders_in_edit_and_display_mode() -> None:
    slot = next(s for s in bundle_slots(review_bundle()) if s.kind is Kind.TICKET_EDIT)
    code = compiled(slot.effective_source())

    outcomes = render_check([(code, sample_props(slot, "edit")), (code, sample_props(slot, "display"))])

    assert outcomes == [RenderOutcome(True), RenderOutcome(True)]


def test_every_generated_layout_of_a_bundle_renders() -> None:
    assert slot_render_problems(review_bundle()) == []


def test_a_layout_that_throws_while_rendering_fails_with_its_message() -> None:
    source = 'export default function Layout() {\n  throw new Error("The sky fell.");\n}\n'

    assert render_check([(compiled(source), {})]) == [RenderOutcome(False, "The sky fell.")]


def test_a_layout_without_a_default_export_fails() -> None:
    assert render_check([("var TicketFlowerLayout={named(){return null}};", {})]) == [
        RenderOutcome(False, "The layout has no default export.")
    ]


def test_a_layout_that_returns_something_react_cannot_render_fails() -> None:
    [outcome] = render_check([(compiled("export default () => ({ answer: 42 });"), {})])

    assert not outcome.ok
    assert outcome.error.startswith(
        "Objects are not valid as a React child (found: object with keys {answer})"
    )


def test_endless_loops_at_load_and_in_render_time_out_and_the_check_returns() -> None:
    loading = compiled("while (true) {}\nexport default () => null;\n")
    rendering = compiled("export default function Layout() {\n  for (;;) {}\n}\n")
    started = time.monotonic()

    outcomes = render_check([(loading, {}), (rendering, {}), (compiled("export default () => null;"), {})])

    assert outcomes == [RenderOutcome(False, TOO_SLOW), RenderOutcome(False, TOO_SLOW), RenderOutcome(True)]
    assert time.monotonic() - started < 6


@pytest.mark.parametrize(
    "code, errors",
    [
        (by_hand("function(){ process.exit(3) }"), {"process is not defined"}),
        (
            'require("fs"); ' + by_hand("()=>null"),
            {'Layouts may import only react and @ticketflower/kit: "fs"'},
        ),
        (
            by_hand('function(){ return globalThis.fetch("http://127.0.0.1:1/") }'),
            {"globalThis.fetch is not a function"},
        ),
        # The classic way out of node:vm: no Function of the host's realm is within reach, and
        # code from strings is off in the layout's (either answer is a failure to get out).
        (
            'this.constructor.constructor("return process")().exit(3); ' + by_hand("()=>null"),
            {"process is not defined", "Code generation from strings disallowed for this context"},
        ),
    ],
    ids=["process.exit", "require-fs", "fetch", "constructor-escape"],
)
def test_a_layout_reaching_for_the_host_fails_cleanly(code: str, errors: set[str]) -> None:
    [outcome] = render_check([(code, {})])

    assert not outcome.ok
    assert outcome.error in errors


def test_no_route_from_a_layout_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    attempts = [
        'require("fs").writeFileSync(T, "require")',
        'process.mainModule.require("fs").writeFileSync(T, "mainModule")',
        'this.constructor.constructor("return process")().mainModule.require("fs").writeFileSync(T, "ctor")',
        '[].constructor.constructor("return process")().binding("fs")',
        # Node's own error for import() would be of the host's realm: a way out if it arrived.
        'import("node:fs").then(fs => fs.writeFileSync(T, "import"), e => e.constructor.constructor('
        '"return process")().mainModule.require("fs").writeFileSync(T, "import-error"))',
        "Error.prepareStackTrace = (e, frames) => frames.map(f => f.getFunction()).filter(Boolean)"
        '.map(f => f.constructor("return process")().mainModule.require("fs").writeFileSync(T, "frames"));'
        " new Error().stack",
    ]
    body = "".join(f"try {{ {attempt} }} catch (e) {{ tried.push(String(e)) }}\n" for attempt in attempts)
    code = f"var T={json.dumps(str(target))}, tried=[];\n{body}" + by_hand(
        "function(){ throw new Error(tried.length + ' attempts failed') }"
    )

    [outcome] = render_check([(code, {})])

    # The first four throw; import() rejects (later, with a string), and the stack frames hold
    # no function of the host's realm (Node's are strict mode code: getFunction() is undefined).
    assert outcome == RenderOutcome(False, "4 attempts failed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def test_a_layout_cannot_connect_anywhere(listener: socket.socket) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    code = (
        f"var U={json.dumps(url)};\n"
        "try { fetch(U) } catch (e) {}\n"
        "try { new XMLHttpRequest() } catch (e) {}\n"
        'try { this.constructor.constructor("return fetch")()(U) } catch (e) {}\n' + by_hand("()=>null")
    )

    assert render_check([(code, {})]) == [RenderOutcome(True)]
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody came


def test_a_layout_using_too_much_memory_fails_and_the_next_one_is_still_checked() -> None:
    hog = compiled(
        "export default function Layout() {\n"
        "  const all = [];\n"
        "  for (;;) all.push({ n: all.length, s: `item ${all.length}` });\n"
        "}\n"
    )
    buffer = compiled("export default () => <p>{new Uint8Array(2 ** 31).fill(1).length}</p>;")
    fine = compiled("export default () => <p>fine</p>;")

    heap, outside, after = render_check([(hog, {}), (buffer, {}), (fine, {})])

    assert not heap.ok and heap.error in {TOO_MUCH_MEMORY, TOO_SLOW}
    assert not outside.ok and outside.error in {"Array buffer allocation failed", TOO_SLOW}
    assert after == RenderOutcome(True)


def test_node_itself_may_not_write_read_elsewhere_or_start_anything(tmp_path: Path) -> None:
    """The second wall: what a layout that got out of its context would meet."""
    target = tmp_path / "written.txt"
    script = f"""
    const out = {{}};
    const attempt = (name, fn) => {{ try {{ fn(); out[name] = "done" }} catch (e) {{ out[name] = e.code }} }};
    attempt("write", () => require("fs").writeFileSync({json.dumps(str(target))}, "x"));
    attempt("read", () => require("fs").readFileSync("/etc/hostname"));
    attempt("spawn", () => require("child_process").execFileSync("true"));
    attempt("worker", () => new (require("worker_threads").Worker)("0", {{ eval: true }}));
    console.log(JSON.stringify({{ out }}));
    """

    done = subprocess.run(  # noqa: S603
        [*node_command(node_path()), "-e", script],
        capture_output=True,
        text=True,
        timeout=10,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
        check=True,
    )

    result = json.loads(done.stdout)
    assert result["out"] == dict.fromkeys(("write", "read", "spawn", "worker"), "ERR_ACCESS_DENIED")
    assert not target.exists()


def test_the_problems_of_a_bundle_name_the_slot_that_fails() -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][1]["display_layout"] = (
        'export default function Layout() {\n  throw new Error("No order yet.");\n}\n'
    )

    assert slot_render_problems(bundle) == [
        (
            "workflow.tasks[1].display_layout",
            "It fails to render in display mode with sample values: No order yet.",
        )
    ]


def test_an_edit_layout_is_checked_read_only_too_and_compile_problems_are_reported() -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["edit_layout"] = "export default function Layout() {\n  const x = ;\n}\n"
    bundle["ticket_types"][0]["edit_layout"] = (
        "export default function Layout({ mode }) {\n"
        '  if (mode === "display") throw new Error("Nothing to show.");\n'
        "  return null;\n"
        "}\n"
    )

    assert slot_render_problems(bundle) == [
        ("workflow.tasks[0].edit_layout", 'Line 2, column 13: Unexpected ";"'),
        (
            "ticket_types[0].edit_layout",
            "It fails to render in display mode with sample values: Nothing to show.",
        ),
    ]


def test_without_node_the_check_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(RendererMissing, match=r"Node\.js is not on PATH"):
        render_check([(compiled("export default () => null;"), {})])
