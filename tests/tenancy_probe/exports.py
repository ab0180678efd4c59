"""Every export in every format, and every dashboard's numbers, as company A sees them.

Exports are found from the URL names (`<model>_export`), so a new one is covered. Each is
sent the way its form sends it, once per offered format; the file's text (an XLSX's XML
inside its zip) must hold nothing of B's.

Dashboards count and list the company's own things. Their stats block and tables are read
as text (dates dropped) before B exists and after B has all its data: any number or row
that moves was counting B.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from conftest import Tenant

from .detect import send
from .forms import post_forms
from .routes import all_routes


@dataclass
class ExportFile:
    url: str
    filename: str
    response: Any


def export_files(client: Client, actor: Any) -> list[ExportFile]:
    """Every export URL's file in every format its form offers, as `actor` downloads them."""
    files = []
    for route in all_routes():
        if not (route.name or "").endswith("_export") or route.params:
            continue
        url = route.fill({})
        client.force_login(actor)
        page = send(client, "get", url, {}, f"GET {url}")
        assert page.status_code == 200, f"GET {url} answered {page.status_code}"
        form = next(f for f in post_forms(page.content.decode()) if f.control("format") is not None)
        format_control = form.control("format")
        assert format_control is not None
        for choice in [c for c in format_control.choices if c]:
            response = send(
                client, "post", url, {**form.data(), "format": [choice]}, f"export {url} {choice}"
            )
            disposition = response.get("Content-Disposition", "")
            assert "attachment" in disposition, (
                f"POST {url} format {choice} sent no file: {response.status_code}"
            )
            filename = re.search(r'filename="?([^";]+)', disposition)
            files.append(ExportFile(url, filename.group(1) if filename else choice, response))
    return files


# --- dashboards ------------------------------------------------------------------------------

DASHBOARDS = ["/design/", "/tickets/", "/worker/", "/company/"]
_DATE = re.compile(
    r"\b(?:jan|feb|march|april|may|june|july|aug|sept|oct|nov|dec)[a-z]*\.? \d{1,2}, \d{4}"
    r"(?:, (?:\d{1,2}(?::\d{2})? ?[ap]\.m\.|noon|midnight))?"
    r"|\d{4}-\d{2}-\d{2}(?:[ t][\d:.+]+)?",
    re.IGNORECASE,
)


def without_dates(text: str) -> str:
    return _DATE.sub("<date>", text)


class _DashboardParser(HTMLParser):
    """The text of the stats block (data-testid="dashboard-stats") and the rows of every table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stats: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._stats_depth = 0  # open <div>s inside the stats block
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and (self._stats_depth or ("data-testid", "dashboard-stats") in attrs):
            self._stats_depth += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in {"td", "th"} and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._stats_depth:
            self._stats_depth -= 1
        elif tag in {"td", "th"} and self._row is not None and self._cell is not None:
            self._row.append(without_dates(" ".join("".join(self._cell).split())))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._stats_depth and data.strip():
            self.stats.append(without_dates(data.strip()))


@dataclass(frozen=True)
class Dashboard:
    stats: tuple[str, ...]
    tables: tuple[tuple[tuple[str, ...], ...], ...]


def dashboard_difference(before: Dashboard, after: Dashboard) -> str:
    """The stats and table rows that differ, e.g. "stats ('Workflows', '1') → ('Workflows', '2')"."""
    lines = []
    if before.stats != after.stats:
        pairs = zip(before.stats[::2], before.stats[1::2], strict=False)
        later = dict(zip(after.stats[::2], after.stats[1::2], strict=False))
        changed = [
            f"{label}: {value} → {later.get(label)}" for label, value in pairs if later.get(label) != value
        ]
        lines.append(f"stats {'; '.join(changed) or f'{before.stats} → {after.stats}'}")
    for n, (old, new) in enumerate(zip(before.tables, after.tables, strict=False)):
        gone, came = [r for r in old if r not in new], [r for r in new if r not in old]
        if gone or came:
            lines.append(f"table {n + 1}: rows gone {gone}, rows added {came}")
    if len(before.tables) != len(after.tables):
        lines.append(f"{len(before.tables)} tables → {len(after.tables)}")
    return "; ".join(lines)


def read_dashboard(page: str) -> Dashboard:
    parser = _DashboardParser()
    parser.feed(page)
    parser.close()
    return Dashboard(tuple(parser.stats), tuple(tuple(tuple(row) for row in t) for t in parser.tables))


def dashboards(client: Client, tenant: Tenant) -> dict[str, Dashboard]:
    """Each site's dashboard as each of the company's people who may open it."""
    seen = {}
    for user in tenant.users:
        client.force_login(user)
        for url in DASHBOARDS:
            response = send(client, "get", url, {}, f"GET {url} as {user.email}")
            if response.status_code == 200:
                seen[f"{url} as {user.email}"] = read_dashboard(response.content.decode())
    return seen
