"""Configurable text file layouts for banks and agencies (debit files, result files, statements).

Why one engine: every bank and agency has its own layout (delimited or fixed width, GBK or UTF-8,
header and trailer lines), and they change. The layout is data in policy YAML; this module only
reads and writes what the layout says, reporting every bad row with its line number and field.
Pure Python: no Django, no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gridcare.core.errors import ValidationFailed
from gridcare.core.money import fen_to_yuan

_AMOUNT_YUAN_RE = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_AMOUNT_FEN_RE = re.compile(r"^\d{1,14}$")


class FileInvalid(ValidationFailed):
    """The file as a whole cannot be read (encoding, layout, empty): nothing in it is used."""

    code = "file_invalid"


class LayoutInvalid(ValueError):
    """A layout in policy YAML that cannot be used; raised at load time naming the key."""


@dataclass(frozen=True)
class Column:
    field: str
    width: int = 0
    align: str = "left"
    fill: str = " "


@dataclass(frozen=True)
class FileLayout:
    format: str  # delimited | fixed
    columns: tuple[Column, ...]
    encoding: str = "utf-8"
    delimiter: str = ","
    header_row: bool = False
    skip_prefixes: tuple[str, ...] = ()
    header: str = ""
    trailer: str = ""
    file_name: str = "{batch_number}.txt"
    success_codes: tuple[str, ...] = ()
    datetime_format: str = "%Y-%m-%d %H:%M:%S"

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.columns)

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, where: str) -> FileLayout:
        if not isinstance(data, Mapping):
            raise LayoutInvalid(f"{where}: expected a mapping")
        fmt = str(data.get("format", "delimited"))
        if fmt not in ("delimited", "fixed"):
            raise LayoutInvalid(f"{where}.format: expected delimited or fixed, got {fmt!r}")
        raw_columns = data.get("columns") or []
        if not raw_columns:
            raise LayoutInvalid(f"{where}.columns: at least one column is needed")
        columns = []
        for i, col in enumerate(raw_columns):
            if isinstance(col, str):
                col = {"field": col}
            if not isinstance(col, Mapping) or "field" not in col:
                raise LayoutInvalid(f"{where}.columns[{i}]: expected a name or {{field, width}}")
            width = int(col.get("width", 0))
            if fmt == "fixed" and width <= 0:
                raise LayoutInvalid(f"{where}.columns[{i}]: fixed-width columns need a width > 0")
            align = str(col.get("align", "left"))
            if align not in ("left", "right"):
                raise LayoutInvalid(f"{where}.columns[{i}].align: left or right")
            fill = str(col.get("fill", " "))
            if len(fill) != 1:
                raise LayoutInvalid(f"{where}.columns[{i}].fill: one character")
            columns.append(Column(field=str(col["field"]), width=width, align=align, fill=fill))
        encoding = str(data.get("encoding", "utf-8"))
        try:
            "".encode(encoding)
        except LookupError:
            raise LayoutInvalid(f"{where}.encoding: unknown encoding {encoding!r}") from None
        return cls(
            format=fmt, columns=tuple(columns), encoding=encoding, delimiter=str(data.get("delimiter", ",")),
            header_row=bool(data.get("header_row", False)),
            skip_prefixes=tuple(str(p) for p in data.get("skip_prefixes") or ()),
            header=str(data.get("header", "")), trailer=str(data.get("trailer", "")),
            file_name=str(data.get("file_name", "{batch_number}.txt")),
            success_codes=tuple(str(c) for c in data.get("success_codes") or ()),
            datetime_format=str(data.get("datetime_format", "%Y-%m-%d %H:%M:%S")),
        )


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class ParsedFile:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# -- writing ---------------------------------------------------------------------------------------
def _cell(col: Column, value: Any, *, layout: FileLayout, line: int) -> str:
    text = "" if value is None else str(value)
    if layout.format == "delimited":
        if layout.delimiter in text or "\n" in text:
            raise ValidationFailed(f"line {line}: {col.field} contains the delimiter", field=col.field)
        return text
    if len(text.encode(layout.encoding, errors="replace")) > col.width:
        raise ValidationFailed(f"line {line}: {col.field} {text!r} is wider than {col.width}", field=col.field)
    pad = col.width - len(text.encode(layout.encoding, errors="replace")) + len(text)
    return text.rjust(pad, col.fill) if col.align == "right" else text.ljust(pad, col.fill)


def render_file(layout: FileLayout, rows: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> bytes:
    """The file's bytes: header line, one line per row, trailer line, CRLF-free, in the layout's encoding."""
    lines = []
    if layout.header:
        lines.append(layout.header.format(**context))
    if layout.header_row:
        lines.append(layout.delimiter.join(layout.fields))
    for i, row in enumerate(rows, start=len(lines) + 1):
        cells = [_cell(c, row.get(c.field), layout=layout, line=i) for c in layout.columns]
        lines.append((layout.delimiter if layout.format == "delimited" else "").join(cells))
    if layout.trailer:
        lines.append(layout.trailer.format(**context))
    text = "\n".join(lines) + "\n"
    try:
        return text.encode(layout.encoding)
    except UnicodeEncodeError as exc:
        raise ValidationFailed(f"a value cannot be written in {layout.encoding}: {exc.reason}", field="file") from None


# -- reading ---------------------------------------------------------------------------------------
def decode(content: bytes, encoding: str) -> str:
    if not content or not content.strip():
        raise FileInvalid("the file is empty", field="file")
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
        encoding = "utf-8-sig"
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise FileInvalid(f"line {line}: not valid {encoding} text", field="file") from None


def parse_file(layout: FileLayout, content: bytes) -> ParsedFile:
    """Split a file into `(line number, {field: text})` rows; malformed lines become `RowError`s."""
    text = decode(content, layout.encoding)
    out = ParsedFile()
    seen_header = not layout.header_row
    expected = len(layout.columns)
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if any(line.startswith(p) for p in layout.skip_prefixes):
            continue
        if not seen_header:
            seen_header = True
            names = [c.strip().lower() for c in line.split(layout.delimiter)]
            missing = [f for f in layout.fields if f not in names]
            if missing:
                raise FileInvalid(f"line {line_no}: header lacks column(s) {', '.join(missing)}", field="file")
            continue
        if layout.format == "delimited":
            cells = [c.strip() for c in line.split(layout.delimiter)]
            if len(cells) != expected:
                out.errors.append(RowError(line_no, None, f"expected {expected} fields, found {len(cells)}"))
                continue
        else:
            encoded = line.encode(layout.encoding, errors="replace")
            width = sum(c.width for c in layout.columns)
            if len(encoded) < width:
                out.errors.append(RowError(line_no, None, f"line is {len(encoded)} bytes wide; expected {width}"))
                continue
            cells, pos = [], 0
            for c in layout.columns:
                cells.append(encoded[pos: pos + c.width].decode(layout.encoding, errors="replace").strip())
                pos += c.width
        out.rows.append((line_no, dict(zip(layout.fields, cells, strict=True))))
    return out


def amount_fen_of(row: Mapping[str, str]) -> int:
    """A positive amount from `amount_fen` (digits) or `amount_yuan` (up to 2 decimals); never float."""
    if "amount_fen" in row:
        text = row["amount_fen"].lstrip("0") or "0"
        if not _AMOUNT_FEN_RE.match(text):
            raise ValidationFailed(f"{row['amount_fen']!r} is not an amount in fen", field="amount_fen")
        fen = int(text)
        name = "amount_fen"
    else:
        text = row.get("amount_yuan", "")
        if not _AMOUNT_YUAN_RE.match(text):
            raise ValidationFailed(f"{text!r} is not an amount in yuan (up to 2 decimals)", field="amount_yuan")
        try:
            fen = int(Decimal(text) * 100)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes it
            raise ValidationFailed(f"{text!r} is not a number", field="amount_yuan") from None
        name = "amount_yuan"
    if fen <= 0:
        raise ValidationFailed("the amount must be greater than zero", field=name)
    return fen


def datetime_of(text: str, fmt: str, *, field: str, tz) -> datetime:
    try:
        value = datetime.strptime(text, fmt)
    except ValueError:
        raise ValidationFailed(f"{text!r} does not match {fmt}", field=field) from None
    return value.replace(tzinfo=tz)


def date_of(text: str, *, field: str) -> date:
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationFailed(f"{text!r} is not a date (YYYY-MM-DD or YYYYMMDD)", field=field)


def yuan_text(fen: int) -> str:
    return str(fen_to_yuan(fen))
