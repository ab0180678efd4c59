"""The detectors: does a response show anything of B's, did anything of B's change.

The marker is B's fingerprint: every text of B's carries it (marked_data.py) and nothing of
A's does, so finding it in what A gets back is a leak — except where the page merely repeats
what A itself sent (a form echoing a typed value), which the caller names as `echoes`.
"""

import html
import io
import zipfile
from collections.abc import Iterable
from typing import Any

from .marked_data import MARKER, snapshot_difference


def response_text(response: Any) -> str:
    """The body as text, lower-cased; a zip (XLSX, ODS) as the text of its members."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return readable_text(content).lower()


def readable_text(content: bytes) -> str:
    if content.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return content.decode("utf-8", "replace")


def headers_text(response: Any) -> str:
    return " ".join(str(response.get(name, "")) for name in ("Location", "Content-Disposition")).lower()


def without_echoes(text: str, echoes: Iterable[str]) -> str:
    for echo in echoes:
        for form in {echo.lower(), html.escape(echo).lower()}:
            text = text.replace(form, "")
    return text


def leak_excerpt(text: str) -> str:
    at = text.find(MARKER)
    return text[max(0, at - 120) : at + 80].replace("\n", " ")


def assert_nothing_of_b(response: Any, where: str, echoes: Iterable[str] = ()) -> None:
    """No 5xx, and the marker neither in the body (or the files' text) nor in the redirect."""
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    echoes = list(echoes)
    body = without_echoes(response_text(response), echoes)
    assert MARKER not in body, f"{where} shows company B's data: …{leak_excerpt(body)}…"
    headers = without_echoes(headers_text(response), echoes)
    assert MARKER not in headers, f"{where} redirects to or names company B's data: {headers}"


def send(client: Any, method: str, url: str, data: Any, where: str) -> Any:
    """A request whose server error fails the probe with where it happened, not a bare traceback."""
    try:
        return getattr(client, method)(url, data)
    except Exception as exc:  # the test client re-raises what the view raised
        raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}") from exc


def assert_unchanged(before: dict[str, Any], after: dict[str, Any], where: str) -> None:
    assert after == before, f"{where} changed company B's data: {snapshot_difference(before, after)}"
