"""Assistant benchmarks: from a pasted outline to a rendered proposal, and the documented examples.

    .venv/bin/python bench/assistant.py [--runs 10]

1. In headless Chromium against gunicorn and a job worker: a designer pastes the laundry
   outline on the Assistant page and presses "Propose a workflow"; timed until the proposal's
   diagram shows and until its submit form's frame is ready (p50 and p95 of --runs).
2. The five examples of docs/assistant.md: the outline generator's time, the gate's time, and
   whether each proposal passed the gate, was saved and published, and ran a ticket to the end
   (the same walk as ticketflower/assistant/tests/test_examples.py, with a real worker and a
   loopback endpoint for the actions).

It uses its own database (`tf_bench`) in the project's embedded server and prints tables.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ["EMBEDDED_DB_NAME"] = "tf_bench"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from bench.common import free_port, gunicorn  # noqa: E402
from bench.layouts import percentile  # noqa: E402
from conftest import make_tenant  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.e2e.test_assistant import OUTLINE  # noqa: E402
from tests.factories import PASSWORD  # noqa: E402
from tests.live_parts import Endpoint, Reply, job_worker  # noqa: E402
from ticketflower.assistant import services  # noqa: E402
from ticketflower.assistant.gate import gate  # noqa: E402
from ticketflower.assistant.generators.base import ChatMessage, ProposalRequest  # noqa: E402
from ticketflower.assistant.generators.outline import OutlineGenerator  # noqa: E402
from ticketflower.assistant.tests import test_examples as examples  # noqa: E402
from ticketflower.runtime import services as runtime  # noqa: E402
from ticketflower.tenancy.context import company_context  # noqa: E402


def bench_proposals(port: int, email: str, runs: int) -> tuple[list[float], list[float]]:
    base = f"http://127.0.0.1:{port}"
    to_diagram, to_form = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        for n in range(runs + 1):
            page.goto(f"{base}/design/assistant/")
            page.get_by_label("Message").fill(OUTLINE.replace("Laundry pickup", f"Laundry pickup {n}"))
            started = time.perf_counter()
            page.get_by_role("button", name="Propose a workflow").click()
            expect(page.get_by_test_id("workflow-graph")).to_be_visible(timeout=60_000)
            diagram = time.perf_counter()
            form = page.get_by_test_id("proposal-layout").first.locator("[data-tf-layout]")
            expect(form).to_have_attribute("data-state", "ready", timeout=60_000)
            ready = time.perf_counter()
            if n == 0:
                continue  # the first fills the caches
            to_diagram.append((diagram - started) * 1000)
            to_form.append((ready - started) * 1000)
        browser.close()
    return to_diagram, to_form


def bench_examples() -> list[tuple[str, float, float, bool, bool, str]]:
    rows = []
    for title, outline in examples.examples().items():
        tenant = make_tenant(f"Example {int(time.time() * 1000)}")
        answers, expected = examples.RUNS[title]
        started = time.perf_counter()
        proposal = OutlineGenerator().propose(ProposalRequest(messages=[ChatMessage("user", outline)]))
        proposed = time.perf_counter()
        report = gate(proposal.bundle, roles=[])
        gated = time.perf_counter()
        published = ran = False
        walked: list[str] = []
        with Endpoint(Reply(200, answers)) as endpoint, job_worker():
            bundle = examples.point_actions_at(proposal.bundle, endpoint.url)
            conversation = services.conversation_start(actor=tenant.admin, title=title)
            saved = services.proposal_save(
                actor=tenant.admin, conversation=conversation, bundle=bundle, publish=True
            )
            published = saved.ok and saved.release is not None
            if published and saved.release is not None:
                examples.everyone_holds_every_role(tenant)
                with company_context(tenant.company):
                    ticket_type = saved.release.ticket_types.get()
                ticket = runtime.ticket_submit(
                    ticket_type=ticket_type,
                    submitted_by=tenant.member,
                    data=examples.submission(bundle, answers),
                )
                walked = examples.run_to_the_end(tenant, ticket, bundle, answers, endpoint)
                ran = walked == expected
        rows.append(
            (
                title,
                (proposed - started) * 1000,
                (gated - proposed) * 1000,
                report.ok and published,
                ran,
                " → ".join(walked),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    tenant = make_tenant(f"Assistant bench {int(time.time())}")
    port = free_port()
    app = f"http://127.0.0.1:{port}"
    web = gunicorn(
        port, LAYOUT_SANDBOX_ORIGIN=f"http://localhost:{port}", LAYOUT_APP_ORIGINS=app, PUBLIC_BASE_URL=app
    )
    try:
        with job_worker():
            print(f"Outline to proposal, {args.runs} runs ...", flush=True)
            to_diagram, to_form = bench_proposals(port, tenant.admin.email, args.runs)
    finally:
        web.terminate()
        web.wait(timeout=10)
    print("The documented examples ...", flush=True)
    rows = bench_examples()

    print()
    print("| measure | p50 | p95 |")
    print("| --- | --- | --- |")
    for label, values in (
        ("paste to the proposal's diagram", to_diagram),
        ("paste to its submit form ready in the sandbox", to_form),
    ):
        print(f"| {label} | {statistics.median(values):.0f} ms | {percentile(values, 0.95):.0f} ms |")
    print()
    print("| example | propose | gate | passed, saved, published | ran to the end |")
    print("| --- | --- | --- | --- | --- |")
    for title, propose_ms, gate_ms, published, ran, walked in rows:
        print(
            f"| {title} | {propose_ms:.0f} ms | {gate_ms:.0f} ms | {'yes' if published else 'NO'} | "
            f"{'yes' if ran else 'NO'} ({walked}) |"
        )


if __name__ == "__main__":
    main()
