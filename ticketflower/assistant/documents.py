"""The text of documents a designer uploads to the assistant (txt, md, csv, docx, pdf, xlsx).

Security: nothing a user uploads may stall or exhaust the process that reads it.
- A file is refused before any parsing when it is over MAX_BYTES, when its extension is not in
  ACCEPTED, or when its first bytes do not fit the extension (a .pdf must start with %PDF-, a
  .docx or .xlsx must be a zip, a .txt must not be binary).
- txt, md and csv are read here: decoding and the csv module are linear in the file's size.
- docx, xlsx and pdf are read by a child process (documents_child.py) whose environment holds no
  secrets, with at most MEMORY_MB of address space and CPU_SECONDS of CPU, killed after TIME_LIMIT
  seconds of wall-clock time; at most CHILDREN per process run at once. The child checks a zip's
  directory (entries, unpacked size) before a library opens it, and caps rows, cells, sheets and
  pages.
- The text is at most MAX_CHARS characters; a longer one is cut, with a line that says so.
Every refusal is a DocumentRefused whose message can be shown to the person as is.
"""

import codecs
import csv
import io
import json
import logging
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ticketflower.assistant.documents_child import MAX_ROWS, MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, row_line

logger = logging.getLogger(__name__)

# Extension (without its dot) -> what people call such a file.
ACCEPTED: dict[str, str] = {
    "txt": "Text",
    "md": "Markdown",
    "docx": "Word document",
    "pdf": "PDF",
    "csv": "CSV",
    "xlsx": "Excel workbook",
}
MAX_BYTES = 5 * 1024 * 1024
MAX_CHARS = 200_000
# The child's limits. Reading a 5 MB document takes well under a second: these only stop a
# file made to loop a parser or to fill the memory.
TIME_LIMIT = 15.0  # seconds of wall-clock time, start-up included
CPU_SECONDS = 10.0
MEMORY_MB = 512
CHILDREN = 2  # per process: a burst of uploads must not start a child per thread
CHILD = Path(__file__).with_name("documents_child.py")

_NOT_VALID = {
    "txt": "it is not a text file",
    "md": "it is not a text file",
    "csv": "it is not a valid CSV file",
    "docx": "it is not a valid Word document (docx)",
    "pdf": "it is not a valid PDF",
    "xlsx": "it is not a valid Excel workbook (xlsx)",
}
_ZIP = b"PK\x03\x04"
# Password-protected docx and xlsx files are not zips but OLE compound files (as are the older
# .doc and .xls) holding an "EncryptionInfo" stream; its name is stored in UTF-16.
_COMPOUND = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
# Control characters other than tab, line feed, form feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SLOTS = threading.BoundedSemaphore(CHILDREN)


class DocumentRefused(ValueError):
    """A document that cannot be read; the message is shown to the person as is."""


class DocumentReaderUnavailable(RuntimeError):
    """The reader child could not run (a library is missing): the installation's fault."""


def extract_text(name: str, data: bytes) -> str:
    """The text of the uploaded file `name` with content `data`, at most MAX_CHARS characters
    (plus the line that says it was cut). Raises DocumentRefused."""
    label = _label(name)
    extension = _extension(name)
    if extension not in ACCEPTED:
        kinds = list(ACCEPTED)
        raise DocumentRefused(f"Only {', '.join(kinds[:-1])} and {kinds[-1]} files can be read.")
    if len(data) > MAX_BYTES:
        raise DocumentRefused(f"{label} is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if not data.strip():
        raise DocumentRefused(f"{label} is empty.")
    not_valid = DocumentRefused(f"{label} could not be read: {_NOT_VALID[extension]}.")
    cut = False
    if extension in ("txt", "md"):
        text = _decode(data)
        if text is None:
            raise not_valid
    elif extension == "csv":
        text = _read_csv(data, not_valid=not_valid)
    elif extension == "pdf":
        # Readers accept a little junk before the header; pypdf does too.
        if b"%PDF-" not in data[:1024]:
            raise not_valid
        text, cut = _read_in_child("pdf", data, label=label, not_valid=not_valid)
    else:
        if data.startswith(_COMPOUND) and _ENCRYPTION_INFO in data:
            raise DocumentRefused(f"{label} is password-protected.")
        if not data.startswith(_ZIP):
            raise not_valid
        text, cut = _read_in_child(extension, data, label=label, not_valid=not_valid)
    text = _tidy(text)
    if not text:
        raise DocumentRefused(f"{label} has no text that can be read.")
    return _cap(text, label=label, cut=cut)


def _label(name: str) -> str:
    """The file's name for messages: without folders or control characters, not too long."""
    base = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return f"“{base if len(base) <= 80 else base[:79] + '…'}”" if base else "The file"


def _extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    _stem, dot, suffix = base.rpartition(".")
    return suffix.strip().lower() if dot else ""


def _decode(data: bytes) -> str | None:
    """The text of a plain-text file, or None when it is not one.

    UTF-8 (with or without a BOM) or UTF-16 with a BOM; else Windows-1252, in which older Windows
    programs (Notepad, Excel's "CSV" export) still save.
    """
    encodings = ["utf-16"] if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else []
    for encoding in [*encodings, "utf-8-sig", "cp1252"]:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Text has few control characters; binary data (random bytes) about one in eight.
        controls = len(_CONTROL.findall(text))
        return None if "\x00" in text or controls > len(text) // 100 else text
    return None


def _read_csv(data: bytes, *, not_valid: DocumentRefused) -> str:
    text = _decode(data)
    if text is None:
        raise not_valid
    first = text.lstrip().split("\n", 1)[0]
    # Excel writes ";" where the decimal separator is a comma; the sniffer's regexes are slow.
    delimiter = max(",;\t|", key=first.count)
    lines = []
    try:
        for count, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)):
            if count >= MAX_ROWS:
                lines.append(f"[Only the first {MAX_ROWS:,} rows were read.]")
                break
            lines.append(row_line(row))
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
        raise not_valid from exc
    return "\n".join(lines)


def _read_in_child(kind: str, data: bytes, *, label: str, not_valid: DocumentRefused) -> tuple[str, bool]:
    """The text from documents_child.py, and whether it was cut there; see the module docstring."""
    if not _SLOTS.acquire(timeout=TIME_LIMIT):
        raise DocumentRefused(f"{label} could not be read now: too many documents are being read.")
    try:
        completed = subprocess.run(  # noqa: S603 - our interpreter, our module, no shell
            [sys.executable, "-I", str(CHILD), kind, str(CPU_SECONDS), str(MEMORY_MB), str(MAX_CHARS)],
            input=data,
            capture_output=True,
            timeout=TIME_LIMIT,
            env={"OPENPYXL_LXML": "False"},  # no secrets; openpyxl on defusedxml, as in config/settings.py
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise DocumentRefused(f"{label} took too long to read.") from None
    finally:
        _SLOTS.release()
    try:
        reply = json.loads(completed.stdout) if completed.returncode == 0 else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        if completed.returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # the CPU limit
            raise DocumentRefused(f"{label} took too long to read.")
        # A parser crashed (in C code, say): the file's doing, but worth a look.
        logger.warning(
            "The document reader stopped (exit %s) on a %s: %s",
            completed.returncode,
            kind,
            completed.stderr[-2000:].decode(errors="replace"),
        )
        raise not_valid
    if "fault" in reply:
        raise DocumentReaderUnavailable(f"The document reader cannot read {kind} files: {reply['fault']}")
    reason = reply.get("refused")
    if reason is None:
        return str(reply["text"]), bool(reply["cut"])
    if reason == "password":
        raise DocumentRefused(f"{label} is password-protected.")
    if reason == "encrypted":
        raise DocumentRefused(f"{label} is encrypted: save a copy without protection and upload that.")
    if reason == "memory":
        raise DocumentRefused(f"{label} could not be read: it needs too much memory.")
    if reason == "zip-size":
        unpacked = MAX_ZIP_BYTES // (1024 * 1024)
        raise DocumentRefused(f"{label} could not be read: it unpacks to more than {unpacked} MB.")
    if reason == "zip-entries":
        raise DocumentRefused(f"{label} could not be read: it has more than {MAX_ZIP_ENTRIES:,} parts.")
    if detail := reply.get("detail"):
        logger.info("A %s could not be read: %s", kind, detail)
    raise not_valid


def _tidy(text: str) -> str:
    """One kind of line break, no control characters or trailing spaces, at most one blank line
    in a row."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n"))
    # Line by line: a regex for trailing spaces backtracks quadratically on a long run of them.
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cap(text: str, *, label: str, cut: bool) -> str:
    if len(text) <= MAX_CHARS and not cut:
        return text
    text = text[:MAX_CHARS]
    # End at a line's end when one is near, not in the middle of a word.
    end = text.rfind("\n", MAX_CHARS - 2_000)
    text = text[:end] if end > 0 else text
    note = f"[The rest of {label} was cut: only its first {MAX_CHARS:,} characters are read.]"
    return f"{text.rstrip()}\n\n{note}"
