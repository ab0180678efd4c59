"""Reading uploaded documents: each accepted type, the refusals and the hard limits.

The sample files are built here: python-docx writes the docx, openpyxl the xlsx, and a few lines
of raw PDF syntax the PDF. No database.
"""

import io
import time
import zipfile
from pathlib import Path

import docx
import pytest
from openpyxl import Workbook
from pypdf import PdfReader, PdfWriter

from ticketflower.assistant import documents, documents_child
from ticketflower.assistant.documents import DocumentReaderUnavailable, DocumentRefused, extract_text

# --- sample files ------------------------------------------------------------------------------


def make_pdf(*pages: str) -> bytes:
    """A valid PDF with one page per argument, each line of it drawn in Helvetica."""

    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{4 + 2 * index} 0 R" for index in range(len(pages))).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, text in enumerate(pages):
        shown = " ".join(f"({escape(line)}) Tj T*" for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Leave requests", level=1)
    document.add_paragraph("An employee asks for leave; the manager decides.")
    document.add_heading("Steps", level=2)
    document.add_paragraph("Employee fills in the form", style="List Bullet")
    document.add_paragraph("Manager approves or rejects", style="List Number")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(table.rows, [("Step", "Who", "Days"), ("Approve", "Manager", "2")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("HR is told afterwards.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    workbook = Workbook()
    roles = workbook.active
    assert roles is not None
    roles.title = "Roles"
    roles.append(["Role", "Members"])
    roles.append(["Manager", 3])
    roles.append(["Clerk", 12.5])
    steps = workbook.create_sheet("Steps")
    steps.append(["Step", "Total"])
    steps.append(["Review", "=SUM(1,2)"])  # no cached value: the formula must not show up
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(name: str, data: bytes) -> str:
    with pytest.raises(DocumentRefused) as caught:
        extract_text(name, data)
    return str(caught.value)


# --- each accepted type ------------------------------------------------------------------------


def test_accepted_lists_every_type_with_its_extension() -> None:
    assert list(documents.ACCEPTED) == ["txt", "md", "docx", "pdf", "csv", "xlsx"]


def test_text_file_is_read_as_utf8_without_its_bom() -> None:
    assert extract_text("notes.txt", "\ufeffCafé opens at 8\r\nthen: tickets".encode()) == (
        "Café opens at 8\nthen: tickets"
    )


def test_markdown_is_read_as_is() -> None:
    assert extract_text("process.md", b"# Leave\n\n- ask\n- approve\n") == "# Leave\n\n- ask\n- approve"


def test_text_in_windows_1252_is_read() -> None:
    assert extract_text("old.txt", "Caf\xe9 \u2013 menu".encode("cp1252")) == "Caf\xe9 \u2013 menu"


def test_text_in_utf16_with_bom_is_read() -> None:
    assert extract_text("export.txt", "Name\tRole".encode("utf-16")) == "Name\tRole"


def test_csv_rows_become_lines() -> None:
    data = b'Step,Who,Days\nApprove,"Manager, or deputy",2\n,,\nClose,HR,\n'
    assert (
        extract_text("steps.csv", data) == "Step | Who | Days\nApprove | Manager, or deputy | 2\n\nClose | HR"
    )


def test_csv_with_semicolons_is_read() -> None:
    assert extract_text("steps.CSV", b"Step;Cost\nOrder;1,50\n") == "Step | Cost\nOrder | 1,50"


def test_docx_keeps_headings_list_items_and_tables_in_order() -> None:
    assert extract_text("process.docx", make_docx()) == (
        "# Leave requests\n"
        "An employee asks for leave; the manager decides.\n\n"
        "## Steps\n"
        "- Employee fills in the form\n"
        "- Manager approves or rejects\n\n"
        "Step | Who | Days\n"
        "Approve | Manager | 2\n\n"
        "HR is told afterwards."
    )


def test_docx_merged_cell_is_given_once() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Both"
    table.cell(0, 2).text = "Last"
    buffer = io.BytesIO()
    document.save(buffer)
    assert extract_text("merged.docx", buffer.getvalue()) == "Both | Last"


def test_xlsx_gives_each_sheet_with_its_stored_values() -> None:
    assert extract_text("roles.xlsx", make_xlsx()) == (
        "## Roles\nRole | Members\nManager | 3\nClerk | 12.5\n\n## Steps\nStep | Total\nReview"
    )


def test_pdf_gives_the_text_of_each_page() -> None:
    text = extract_text("process.PDF", make_pdf("Leave requests\nThe manager decides.", "Page two (last)"))
    assert text == "Leave requests\nThe manager decides.\n\nPage two (last)"


# --- refused: type and content -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["setup.exe", "notes", "slides.pptx", "old.doc"])
def test_other_extensions_are_refused(name: str) -> None:
    assert refusal(name, b"hello") == "Only txt, md, docx, pdf, csv and xlsx files can be read."


def test_docx_that_is_not_a_zip_is_refused() -> None:
    message = refusal("process.docx", b"Just some text pretending")
    assert message == "“process.docx” could not be read: it is not a valid Word document (docx)."


def test_xlsx_inside_a_docx_name_is_refused() -> None:
    message = refusal("process.docx", make_xlsx())
    assert message == "“process.docx” could not be read: it is not a valid Word document (docx)."


def test_plain_zip_named_xlsx_is_refused() -> None:
    message = refusal("data.xlsx", make_zip({"a.txt": b"hello"}))
    assert message == "“data.xlsx” could not be read: it is not a valid Excel workbook (xlsx)."


def test_pdf_not_starting_with_its_header_is_refused() -> None:
    assert refusal("scan.pdf", make_docx()) == "“scan.pdf” could not be read: it is not a valid PDF."


def test_binary_content_in_a_text_file_is_refused() -> None:
    assert refusal("notes.txt", make_docx()) == "“notes.txt” could not be read: it is not a text file."


def test_corrupt_pdf_gives_a_clear_message() -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    assert refusal("broken.pdf", data) == "“broken.pdf” could not be read: it is not a valid PDF."


def test_truncated_pdf_gives_a_clear_message() -> None:
    data = make_pdf("Some text")[:60]
    assert refusal("cut.pdf", data) == "“cut.pdf” could not be read: it is not a valid PDF."


def test_password_protected_pdf_is_refused() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Secret plan"))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert refusal("plan.pdf", buffer.getvalue()) == "“plan.pdf” is password-protected."


def test_password_protected_office_file_is_refused() -> None:
    # Office stores an encrypted docx as an OLE compound file with an EncryptionInfo stream.
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + "EncryptionInfo".encode("utf-16-le")
    assert refusal("budget.xlsx", data) == "“budget.xlsx” is password-protected."


def test_empty_file_is_refused() -> None:
    assert refusal("empty.md", b"  \n") == "“empty.md” is empty."


def test_pdf_without_text_is_refused() -> None:
    assert refusal("scan.pdf", make_pdf("")) == "“scan.pdf” has no text that can be read."


def test_folders_and_control_characters_leave_the_name_in_messages() -> None:
    assert (
        refusal("C:\\Users\\me\\bad\x07.pdf", b"nope")
        == "“bad.pdf” could not be read: it is not a valid PDF."
    )


# --- refused: size -----------------------------------------------------------------------------


def test_file_over_5_mb_is_refused() -> None:
    data = b"a" * (5 * 1024 * 1024 + 1)
    assert refusal("big.txt", data) == "“big.txt” is larger than 5 MB."


def test_file_of_5_mb_is_read() -> None:
    data = (b"a" * 99 + b"\n") * (5 * 1024 * 1024 // 100)
    assert extract_text("big.txt", data).startswith("a" * 99 + "\n")


def test_zip_bomb_is_refused_without_being_unpacked() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("word/document.xml", "w") as entry:
            chunk = bytes(1024 * 1024)
            for _ in range(200):  # 200 MB of zeros, about 200 KB packed
                entry.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024
    started = time.monotonic()
    message = refusal("bomb.docx", data)
    assert message == "“bomb.docx” could not be read: it unpacks to more than 50 MB."
    assert time.monotonic() - started < 3  # unpacking 200 MB and parsing it would take far longer


def test_zip_with_too_many_entries_is_refused() -> None:
    data = make_zip(
        {"[Content_Types].xml": b"<Types/>"} | {f"xl/part{number}.xml": b"" for number in range(2_000)}
    )
    message = refusal("many.xlsx", data)
    assert message == "“many.xlsx” could not be read: it has more than 2,000 parts."


# --- the text cap ------------------------------------------------------------------------------


def test_long_text_is_cut_with_a_note() -> None:
    line = "x" * 99 + "\n"
    text = extract_text("long.txt", (line * 3_000).encode())
    body, note = text.rsplit("\n\n", 1)
    assert len(body) <= documents.MAX_CHARS
    assert body.endswith("x" * 99)  # at a line's end
    assert note == "[The rest of “long.txt” was cut: only its first 200,000 characters are read.]"


def test_text_under_the_cap_is_not_cut() -> None:
    text = extract_text("short.txt", b"y" * 1000)
    assert text == "y" * 1000


def test_child_text_is_cut_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_CHARS", 20)
    text = extract_text("process.docx", make_docx())
    assert (
        text
        == "# Leave requests\n\n[The rest of “process.docx” was cut: only its first 20 characters are read.]"
    )


def test_csv_rows_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_ROWS", 2)
    assert extract_text("rows.csv", b"a\nb\nc\nd\n") == "a\nb\n[Only the first 2 rows were read.]"


def test_cells_and_columns_are_capped() -> None:
    line = documents_child.row_line(["x" * 5_000, *[str(number) for number in range(99)]])
    cells = line.split(" | ")
    assert len(cells) == documents_child.MAX_COLUMNS
    assert cells[0] == "x" * (documents_child.MAX_CELL_CHARS - 1) + "…"


def test_xlsx_rows_and_sheets_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # The readers run here, in this process, so that their caps can be made small.
    monkeypatch.setattr(documents_child, "MAX_ROWS", 2)
    monkeypatch.setattr(documents_child, "MAX_SHEETS", 1)
    text, cut = documents_child.read_xlsx(make_xlsx(), 1_000)
    assert text.strip() == (
        "## Roles\nRole | Members\nManager | 3\n[Only the first 2 rows of this sheet were read.]\n\n"
        "[Only the first 1 of 2 sheets were read.]"
    )
    assert not cut


def test_pdf_pages_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents_child, "MAX_PAGES", 2)
    text, _cut = documents_child.read_pdf(make_pdf("one", "two", "three"), 1_000)
    assert text.split() == ["one", "two", "[Only", "the", "first", "2", "of", "3", "pages", "were", "read.]"]


# --- the child process's limits ----------------------------------------------------------------


def use_child_reader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reader: str) -> None:
    """Read PDFs with `reader` (the source of `def reader(data, max_chars)`) in the real child."""
    script = tmp_path / "child.py"
    script.write_text(
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('documents_child', {str(documents.CHILD)!r})\n"
        "child = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(child)\n"
        f"{reader}\n"
        "child.READERS['pdf'] = reader\n"
        "child.main(sys.argv)\n"
    )
    monkeypatch.setattr(documents, "CHILD", script)


def test_parser_that_hangs_is_stopped_by_the_wall_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_child_reader(
        monkeypatch, tmp_path, "def reader(data, max_chars):\n    import time\n    time.sleep(60)"
    )
    monkeypatch.setattr(documents, "TIME_LIMIT", 2.0)
    started = time.monotonic()
    assert refusal("slow.pdf", make_pdf("x")) == "“slow.pdf” took too long to read."
    assert time.monotonic() - started < 10


def test_parser_that_spins_is_stopped_by_the_cpu_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_child_reader(monkeypatch, tmp_path, "def reader(data, max_chars):\n    while True:\n        pass")
    monkeypatch.setattr(documents, "CPU_SECONDS", 1.0)
    monkeypatch.setattr(documents, "TIME_LIMIT", 60.0)  # so that the CPU limit is what stops it
    started = time.monotonic()
    assert refusal("loop.pdf", make_pdf("x")) == "“loop.pdf” took too long to read."
    assert time.monotonic() - started < 20


def test_parser_that_fills_the_memory_is_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_child_reader(
        monkeypatch,
        tmp_path,
        "def reader(data, max_chars):\n    return [bytearray(2**26) for _ in range(100)]",
    )
    assert refusal("huge.pdf", make_pdf("x")) == "“huge.pdf” could not be read: it needs too much memory."


def test_child_that_crashes_gives_the_not_valid_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_child_reader(monkeypatch, tmp_path, "def reader(data, max_chars):\n    import os\n    os._exit(3)")
    assert refusal("odd.pdf", make_pdf("x")) == "“odd.pdf” could not be read: it is not a valid PDF."


def test_child_gets_no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_API_KEY", "sk-not-for-children")
    use_child_reader(
        monkeypatch,
        tmp_path,
        "def reader(data, max_chars):\n    import os\n    return repr(dict(os.environ)), False",
    )
    assert "sk-not-for-children" not in extract_text("env.pdf", make_pdf("x"))


def test_missing_library_is_an_installation_fault(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_child_reader(monkeypatch, tmp_path, "child.LIBRARIES['pdf'] = 'no_such_pdf_library'\nreader = None")
    with pytest.raises(DocumentReaderUnavailable):
        extract_text("any.pdf", make_pdf("x"))


# --- the rest of the project -------------------------------------------------------------------


def test_openpyxl_stays_on_defusedxml_although_lxml_is_installed() -> None:
    # python-docx brings lxml, which openpyxl would otherwise use instead (config/settings.py).
    import openpyxl

    assert openpyxl.LXML is False
    assert openpyxl.DEFUSEDXML is True
