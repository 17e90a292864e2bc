"""Reading a bank or agency statement file into validated lines. Pure: no database.

The layout comes from the source's policy entry and is read by payments' file-format engine;
this module turns each row into typed values and reports every bad field with its line number.
A statement is all-or-nothing (docs/reconciliation.md): one bad row and nothing is imported,
because matching half a statement would report the missing half as money not received.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gridcare.core.errors import ValidationFailed
from gridcare.payments.fileformats import (
    FileInvalid,
    RowError,
    amount_fen_of,
    date_of,
    datetime_of,
    parse_file,
)
from gridcare.reconciliation.policy import StatementSource

MAX_LENGTHS = {"txn_ref": 64, "reference": 64, "account_number": 32, "payer_name": 64}


@dataclass(frozen=True)
class ParsedLine:
    line_no: int
    txn_ref: str
    amount_fen: int
    value_date: date
    paid_at: datetime | None = None
    reference: str = ""
    account_number: str = ""
    payer_name: str = ""


@dataclass
class ParsedStatement:
    sha256: str
    lines: list[ParsedLine] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _line(line_no: int, row: dict[str, str], source: StatementSource, tz: ZoneInfo) -> tuple[ParsedLine | None,
                                                                                               list[RowError]]:
    errors: list[RowError] = []
    for name, limit in MAX_LENGTHS.items():
        if len(row.get(name, "")) > limit:
            errors.append(RowError(line_no, name, f"longer than {limit} characters"))
    if not row.get("txn_ref"):
        errors.append(RowError(line_no, "txn_ref", "the transaction reference is empty"))
    amount = 0
    try:
        amount = amount_fen_of(row)
    except ValidationFailed as exc:
        errors.append(RowError(line_no, exc.field, exc.message))
    paid_at = None
    value_date = None
    try:
        if "paid_at" in row:
            paid_at = datetime_of(row["paid_at"], source.layout.datetime_format, field="paid_at", tz=tz)
            value_date = paid_at.date()
        if "value_date" in row:
            value_date = date_of(row["value_date"], field="value_date")
    except ValidationFailed as exc:
        errors.append(RowError(line_no, exc.field, exc.message))
    if errors or value_date is None:
        return None, errors
    return ParsedLine(line_no=line_no, txn_ref=row["txn_ref"], amount_fen=amount, value_date=value_date,
                      paid_at=paid_at, reference=row.get("reference", ""),
                      account_number=row.get("account_number", ""), payer_name=row.get("payer_name", "")), []


def parse_statement(source: StatementSource, content: bytes, *, tz: ZoneInfo) -> ParsedStatement:
    """Every line typed, or the errors. Raises FileInvalid when the file as a whole is unreadable."""
    parsed = parse_file(source.layout, content)
    out = ParsedStatement(sha256=hashlib.sha256(content).hexdigest(), errors=list(parsed.errors))
    first_line: dict[str, int] = {}
    for line_no, row in parsed.rows:
        line, errors = _line(line_no, row, source, tz)
        out.errors.extend(errors)
        if line is None:
            continue
        seen = first_line.get(line.txn_ref)
        if seen is not None:
            out.errors.append(RowError(line_no, "txn_ref", f"transaction {line.txn_ref!r} already on line {seen}"))
            continue
        first_line[line.txn_ref] = line_no
        out.lines.append(line)
    if not out.lines and not out.errors:
        raise FileInvalid("the statement has no transactions", field="file")
    out.errors.sort(key=lambda e: e.line)
    return out
