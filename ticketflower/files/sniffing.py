"""What a file is, by its first bytes rather than by what its name or the browser claims.

Only kinds a ticket plausibly carries and a browser shows without running anything: no HTML,
SVG or XML (they can hold scripts), no executables. Plain text must decode as UTF-8.
"""

import zipfile
from typing import IO

# (magic bytes at offset 0, content type)
_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]
# Office documents are zip files; told apart by a member only they have.
_OFFICE = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_TEXT_TYPES = {".csv": "text/csv", ".md": "text/markdown"}
_ACTIVE_TEXT = (b"<!doctype", b"<html", b"<svg", b"<?xml", b"<script")


def sniff(stream: IO[bytes], filename: str) -> str | None:
    """The content type of `stream` (rewound after), or None when it is not a kind we accept."""
    stream.seek(0)
    head = stream.read(4096)
    stream.seek(0)
    if head[8:12] == b"WEBP" and head[:4] == b"RIFF":
        return "image/webp"
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if head.startswith(b"PK\x03\x04"):
        return _office_type(stream)
    return _text_type(stream, head, filename)


def _office_type(stream: IO[bytes]) -> str | None:
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist()[:2000])
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None
    finally:
        stream.seek(0)
    return next((content_type for member, content_type in _OFFICE.items() if member in names), None)


def _text_type(stream: IO[bytes], head: bytes, filename: str) -> str | None:
    if b"\x00" in head or head.lstrip().lower().startswith(_ACTIVE_TEXT):
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB edge
            return None
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _TEXT_TYPES.get(suffix, "text/plain")
