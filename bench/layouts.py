"""Layout benchmarks: compile time, runtime size, and first paint of a stored layout in Chromium.

    .venv/bin/python bench/layouts.py [--pages 20]

1. Compile time of a layout (esbuild's binary, both passes), p50 and p95 of 40 distinct sources.
2. The runtime's size: frame.js (React 19, the bridge, the kit), frame.css and host.js, raw and gzip.
3. First paint of a stored layout on the portal's submit page under gunicorn, in headless
   Chromium: from navigation start, and from the page's load event, to the moment the frame's
   React root first holds the layout (p50 and p95 of --pages page loads).

It uses its own database (`tf_bench`) in the project's embedded server and prints a table.
"""

import argparse
import gzip
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
from playwright.sync_api import sync_playwright  # noqa: E402

from bench.common import free_port, gunicorn  # noqa: E402
from bench.engine import publish  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.e2e.test_layouts import TICKET_EDIT, layout_bundle  # noqa: E402
from tests.factories import PASSWORD, make_company, make_user  # noqa: E402
from ticketflower.layouts.compiler import compile_layout  # noqa: E402
from ticketflower.tenancy.models import SystemRole  # noqa: E402

STATIC = BASE_DIR / "ticketflower" / "layouts" / "static" / "layouts"

# In every frame (Playwright's init scripts run in the sandboxed one too): the moment the
# React root first holds something, on the shared wall clock.
PAINT_PROBE = """
(() => {
  const mark = () => {
    const root = document.getElementById("root");
    if (root && root.firstChild && !window.__tfPainted) {
      window.__tfPainted = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(mark).observe(document, { childList: true, subtree: true });
})();
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench_compile(count: int = 40) -> list[float]:
    times = []
    for n in range(count):
        source = f"{TICKET_EDIT}\n// variant {n} {time.time_ns()}\n"  # never a cached result
        started = time.perf_counter()
        compile_layout(source)
        times.append((time.perf_counter() - started) * 1000)
    return times


def runtime_sizes() -> dict[str, tuple[int, int]]:
    return {
        path.name: (path.stat().st_size, len(gzip.compress(path.read_bytes(), compresslevel=9)))
        for path in sorted(STATIC.glob("*.*"))
    }


def bench_first_paint(
    port: int, email: str, ticket_type_id: int, pages: int
) -> tuple[list[float], list[float]]:
    base = f"http://127.0.0.1:{port}"
    from_start, from_load = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(PAINT_PROBE)
        page = context.new_page()
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        for n in range(pages + 1):
            page.goto(f"{base}/submit/{ticket_type_id}/")
            host = page.locator("[data-tf-layout]")
            host.locator("iframe").wait_for(state="visible")
            frame = next(f for f in page.frames if f.url.startswith(f"http://localhost:{port}/frame/"))
            frame.wait_for_function("() => window.__tfPainted")
            painted = frame.evaluate("() => window.__tfPainted")
            start, loaded = page.evaluate(
                "() => [performance.timeOrigin, performance.timeOrigin + "
                "performance.getEntriesByType('navigation')[0].loadEventEnd]"
            )
            if n == 0:
                continue  # the first load fills the caches
            from_start.append(painted - start)
            from_load.append(painted - loaded)
        browser.close()
    return from_start, from_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    company = make_company(f"Layout bench {int(time.time())}")
    designer = make_user(company, roles=[SystemRole.WORKFLOW_CREATOR])
    member = make_user(company, roles=[SystemRole.USER])
    ticket_type = publish(designer, layout_bundle())

    print("Compiling layouts ...", flush=True)
    compile_ms = bench_compile()
    port = free_port()
    app = f"http://127.0.0.1:{port}"
    web = gunicorn(
        port, LAYOUT_SANDBOX_ORIGIN=f"http://localhost:{port}", LAYOUT_APP_ORIGINS=app, PUBLIC_BASE_URL=app
    )
    try:
        print(f"First paint, {args.pages} page loads ...", flush=True)
        from_start, from_load = bench_first_paint(port, member.email, ticket_type.pk, args.pages)
    finally:
        web.terminate()
        web.wait(timeout=10)

    print()
    print("| measure | value |")
    print("| --- | --- |")
    p50, p95 = percentile(compile_ms, 0.5), percentile(compile_ms, 0.95)
    print(f"| compile a layout, p50 / p95 | {p50:.1f} / {p95:.1f} ms |")
    for name, (raw, packed) in runtime_sizes().items():
        print(f"| {name} | {raw / 1024:.1f} kB, {packed / 1024:.1f} kB gzip |")
    print(
        f"| first paint from navigation start, p50 / p95 | "
        f"{statistics.median(from_start):.0f} / {percentile(from_start, 0.95):.0f} ms |"
    )
    print(
        f"| first paint after the page's load event, p50 / p95 | "
        f"{statistics.median(from_load):.0f} / {percentile(from_load, 0.95):.0f} ms |"
    )


if __name__ == "__main__":
    main()
