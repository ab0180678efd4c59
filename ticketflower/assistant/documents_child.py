"""The document reader child: the text of one uploaded docx, xlsx or pdf, for documents.py.

Started as `python -I documents_child.py KIND SECONDS MEGABYTES MAX_CHARS` (KIND is "docx",
"xlsx" or "pdf"); the file's bytes arrive on stdin. It imports nothing of TicketFlower or Django,
and its environment holds no secrets (only OPENPYXL_LXML). Before reading the file it limits
itself: address space (MEGABYTES), CPU time (SECONDS; the parent's wall-clock deadline is the other
limit) and no core files. So a file made to loop a parser or fill the memory costs one short-lived process.

It writes one JSON object to stdout and exits:
    {"text": str, "cut": bool}     at most MAX_CHARS characters; "cut" when there was more
    {"refused": reason}            reason is one of REASONS; "detail" may say more, for the log
    {"fault": message}             a library is missing: the installation's fault, not the file's

documents.py also imports this module for `row_line` and the caps (csv is read in the web process:
it needs no third-party parser and its cost is linear in the file's size).
"""

import importlib
import io
import json
import logging
import math
import resource
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from typing import Any, Literal

# Tables (xlsx sheets, csv files): a person's process fits well within these; past them the rest
# is left out with a note, so a sheet of a million rows costs no more than one of 5,000.
MAX_ROWS = 5_000  # per sheet or csv file
MAX_COLUMNS = 50  # per row
MAX_CELL_CHARS = 1_000
MAX_SHEETS = 50
MAX_PAGES = 200  # per PDF
# A docx or xlsx is a zip; these are checked on its directory before any part is unpacked. The
# zipfile module never inflates an entry past the size its directory declares (a lie ends in a
# CRC error), so the declared sizes bound the real ones.
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_ZIP_ENTRIES = 2_000

Reason = Literal["invalid", "password", "encrypted", "memory", "zip-size", "zip-entries"]
REASONS: tuple[Reason, ...] = ("invalid", "password", "encrypted", "memory", "zip-size", "zip-entries")
LIBRARIES = {"docx": "docx", "xlsx": "openpyxl", "pdf": "pypdf"}  # kind -> module to import


class Refused(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


def main(argv: list[str]) -> None:
    kind, seconds, megabytes, max_chars = argv[1], float(argv[2]), int(argv[3]), int(argv[4])
    _limit_self(seconds=seconds, megabytes=megabytes)
    # Malformed files make pypdf log a warning per broken object; nobody reads them.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    try:
        importlib.import_module(LIBRARIES[kind])
    except ImportError as exc:
        _reply({"fault": f"{type(exc).__name__}: {exc}"})
        return
    _reply(answer(kind, sys.stdin.buffer.read(), max_chars=max_chars))


def answer(kind: str, data: bytes, *, max_chars: int) -> dict[str, Any]:
    try:
        text, cut = READERS[kind](data, max_chars)
    except Refused as refused:
        return {"refused": refused.reason}
    except MemoryError:
        return {"refused": "memory"}
    except Exception as exc:  # any parser failure on a user's file is an answer, not a crash
        return {"refused": "invalid", "detail": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return {"text": text, "cut": cut}


def _reply(reply: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(reply).encode())  # ASCII: the environment sets no locale
    sys.stdout.buffer.flush()


def _limit_self(*, seconds: float, megabytes: int) -> None:
    memory = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # SIGXCPU at the soft limit ends the process; SIGKILL at the hard one if it got handled.
    cpu = max(1, math.ceil(seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


# --- text, with a cap ------------------------------------------------------------------------


class _Text:
    """Lines of text that stop growing past `max_chars`; readers check `full` to stop early."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.lines: list[str] = []
        self.size = 0

    def full(self) -> bool:  # a method: mypy would take a property's value as fixed after a check
        return self.size > self.max_chars

    def add(self, line: str) -> None:
        if not self.full():
            self.lines.append(line)
            self.size += len(line) + 1

    def result(self) -> tuple[str, bool]:
        return "\n".join(self.lines)[: self.max_chars], self.full()


def row_line(cells: Iterable[str]) -> str:
    """A table row as one line, "a | b | c": at most MAX_COLUMNS cells, each on one line and
    clipped; trailing empty cells dropped ("" for an empty row)."""
    values = []
    for count, cell in enumerate(cells):
        if count >= MAX_COLUMNS:
            break
        value = " ".join(cell[: MAX_CELL_CHARS * 2].split())  # newlines and runs of spaces
        values.append(value if len(value) <= MAX_CELL_CHARS else value[: MAX_CELL_CHARS - 1] + "…")
    while values and not values[-1]:
        values.pop()
    return " | ".join(values)


# --- zip packages (docx, xlsx) -------------------------------------------------------------


def _check_package(data: bytes) -> None:
    """Refuse a zip too big or too many-parted to unpack, before any library opens it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise Refused("invalid") from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise Refused("zip-entries")
    if sum(entry.file_size for entry in entries) > MAX_ZIP_BYTES:
        raise Refused("zip-size")
    if not any(entry.filename == "[Content_Types].xml" for entry in entries):
        raise Refused("invalid")  # some other zip: every Office Open XML package has one


def read_docx(data: bytes, max_chars: int) -> tuple[str, bool]:
    """Paragraphs and tables in document order: headings as "# …", list items as "- …", table
    rows as "a | b | c"."""
    _check_package(data)
    import docx
    from docx.table import Table

    out = _Text(max_chars)
    document = docx.Document(io.BytesIO(data))
    # Looked up once: python-docx searches all the styles for each paragraph's.
    style_names = {style.style_id: style.name or "" for style in document.styles}
    for block in document.iter_inner_content():
        if out.full():
            break
        if isinstance(block, Table):
            out.add("")
            for row in block.rows:
                seen: list[object] = []  # a merged cell comes once per grid column it spans
                cells = []
                for cell in row.cells:
                    if not seen or seen[-1] is not cell._tc:
                        seen.append(cell._tc)
                        cells.append(cell.text)
                out.add(row_line(cells))
            out.add("")
            continue
        text = block.text.strip()
        style = style_names.get(block._p.style or "", "")
        properties = block._p.pPr
        if not text:
            out.add("")
        elif style == "Title":
            out.add(f"\n# {text}")
        elif style.startswith("Heading"):
            level = style.removeprefix("Heading").strip()
            out.add(f"\n{'#' * min(int(level) if level.isdigit() else 1, 6)} {text}")
        elif style.startswith("List") or (properties is not None and properties.numPr is not None):
            out.add(f"- {text}")
        else:
            out.add(text)
    return out.result()


def read_xlsx(data: bytes, max_chars: int) -> tuple[str, bool]:
    """Each sheet as "## Sheet name" and its rows as "a | b | c": stored values, not formulas."""
    _check_package(data)
    from openpyxl import load_workbook

    out = _Text(max_chars)
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        for sheet in sheets[:MAX_SHEETS]:
            if out.full():
                break
            out.add(f"\n## {sheet.title}")
            # One row more than the cap, to know there were more.
            rows = sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLUMNS, values_only=True)
            for count, row in enumerate(rows, start=1):
                if count > MAX_ROWS:
                    out.add(f"[Only the first {MAX_ROWS:,} rows of this sheet were read.]")
                    break
                if line := row_line(_cell_text(value) for value in row):
                    out.add(line)
                if out.full():
                    break
        if len(sheets) > MAX_SHEETS:
            out.add(f"\n[Only the first {MAX_SHEETS} of {len(sheets)} sheets were read.]")
    finally:
        workbook.close()
    return out.result()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # Excel stores every number as a float: 3, not 3.0
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


# --- PDF -------------------------------------------------------------------------------------


def read_pdf(data: bytes, max_chars: int) -> tuple[str, bool]:
    """The text of each page, pages apart by a blank line; at most MAX_PAGES pages."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        # Many PDFs are encrypted with an empty password only to restrict printing or copying.
        try:
            if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                raise Refused("password")
        except DependencyError as exc:  # AES needs a cryptography library we do not install
            raise Refused("encrypted") from exc
    out = _Text(max_chars)
    pages = reader.pages
    total = len(pages)
    for number in range(min(total, MAX_PAGES)):
        if out.full():
            break
        out.add(pages[number].extract_text())
        out.add("")
    if total > MAX_PAGES and not out.full():
        out.add(f"[Only the first {MAX_PAGES} of {total} pages were read.]")
    return out.result()


# Looked up when a file is read, so that a test can put a parser of its own in.
READERS: dict[str, Callable[[bytes, int], tuple[str, bool]]] = {
    "docx": read_docx,
    "xlsx": read_xlsx,
    "pdf": read_pdf,
}

if __name__ == "__main__":
    main(sys.argv)
