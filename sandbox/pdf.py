"""A tiny PDF writer: real PDF 1.4 files with a title and lines of text, in pure Python.

The Fortnox simulator answers `preview` and `print` with these, so the PDF that hubnox attaches
to a deal note is a file any PDF reader opens. Text is set in the standard Helvetica font with
WinAnsiEncoding, which covers Swedish (å ä ö é); characters outside it print as "?". Streams
are uncompressed and the cross-reference table is exact, so the bytes can also be read back
with `extract_text`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PAGE_WIDTH = 595  # A4 in points
PAGE_HEIGHT = 842
MARGIN = 56
FONT_SIZE = 10
LEADING = 14
TITLE_SIZE = 16


def _escape(text: str) -> bytes:
    encoded = text.encode("cp1252", errors="replace")
    return encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_content(lines: Sequence[str], title: str | None) -> bytes:
    parts = [b"BT"]
    y = PAGE_HEIGHT - MARGIN
    if title:
        parts.append(b"/F2 %d Tf %d %d Td (%s) Tj" % (TITLE_SIZE, MARGIN, y, _escape(title)))
        parts.append(b"/F1 %d Tf %d TL 0 %d Td" % (FONT_SIZE, LEADING, -2 * LEADING))
    else:
        parts.append(b"/F1 %d Tf %d TL %d %d Td" % (FONT_SIZE, LEADING, MARGIN, y))
    for line in lines:
        parts.append(b"(%s) Tj T*" % _escape(line.replace("\t", "    ")))
    parts.append(b"ET")
    return b"\n".join(parts) + b"\n"


def _paginate(lines: Sequence[str]) -> list[list[str]]:
    usable = PAGE_HEIGHT - 2 * MARGIN
    first = max(1, (usable - 2 * LEADING) // LEADING)
    rest = max(1, usable // LEADING)
    pages = [list(lines[:first])]
    remaining = list(lines[first:])
    while remaining:
        pages.append(remaining[:rest])
        remaining = remaining[rest:]
    return pages


def _info_string(text: str) -> bytes:
    # The Info dictionary uses PDFDocEncoding, not WinAnsi: anything beyond ASCII goes as UTF-16.
    if text.isascii():
        return b"(" + _escape(text) + b")"
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def render_pdf(lines: Sequence[str], *, title: str = "", author: str = "hubnox sandbox") -> bytes:
    """A valid PDF 1.4 document (A4 pages) showing `title` in bold, then `lines`, one per row."""
    pages = _paginate(lines)
    # Object numbers: 1 catalog, 2 page tree, 3-4 fonts, 5 info, then a page and its content each.
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        5: b"<< /Title " + _info_string(title) + b" /Producer " + _info_string(author) + b" >>",
    }
    kids = []
    for index, page_lines in enumerate(pages):
        page_id, content_id = 6 + 2 * index, 7 + 2 * index
        kids.append(b"%d 0 R" % page_id)
        stream = _page_content(page_lines, title if index == 0 else None)
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
            % (PAGE_WIDTH, PAGE_HEIGHT, content_id)
        )
        objects[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream"
    objects[2] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(pages)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


_TJ = re.compile(rb"\(((?:\\.|[^\\)])*)\) Tj")


def extract_text(data: bytes) -> list[str]:
    """The text shown by a PDF that `render_pdf` wrote, one string per line, title first."""
    lines = []
    for raw in _TJ.findall(data):
        lines.append(re.sub(rb"\\(.)", rb"\1", raw).decode("cp1252"))
    return lines
