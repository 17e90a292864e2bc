"""Set-based database access for the read and billing pipelines.

A billing month moves hundreds of thousands of rows; building one Django model instance per row
costs more than the database work itself. These helpers insert tuples (COPY on PostgreSQL,
`executemany` on SQLite) and read query results straight into Polars frames. They run inside the
caller's transaction and take plain Python values (int, str, date, datetime, Decimal, None).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
from django.db import connection, models


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[models.Field]:
    return [model._meta.get_field(f) for f in fields]


def bulk_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (tuples in `fields` order) into `model`'s table; returns the number inserted.

    Fields are model field names; a ForeignKey is given by its name with the id as value.
    JSON fields take Python objects (dumped here).
    """
    cols = _columns(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c.column) for c in cols)
    json_idx = [i for i, c in enumerate(cols) if isinstance(c, models.JSONField)]
    count = 0
    if is_postgresql():
        # wrap_database_errors: a COPY refused by a constraint raises Django's IntegrityError, as an
        # INSERT through the ORM would (the raw psycopg cursor does not translate it).
        with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                if json_idx:
                    row = list(row)
                    for i in json_idx:
                        row[i] = None if row[i] is None else json.dumps(row[i], ensure_ascii=False)
                copy.write_row(row)
                count += 1
        return count
    ops = connection.ops
    converters: list[Any] = []
    for c in cols:
        if isinstance(c, models.JSONField):
            converters.append(lambda v: None if v is None else json.dumps(v, ensure_ascii=False))
        elif isinstance(c, models.DateTimeField):
            converters.append(_memoised(ops.adapt_datetimefield_value))
        elif isinstance(c, models.DateField):
            converters.append(lambda v: None if v is None else v.isoformat())
        elif isinstance(c, models.DecimalField):
            converters.append(lambda v: None if v is None else str(v))
        else:
            converters.append(None)
    active = [(i, f) for i, f in enumerate(converters) if f is not None]
    placeholders = ", ".join(["%s"] * len(cols))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
    batch: list[Sequence[Any]] = []
    with connection.cursor() as cursor:
        for row in rows:
            if active:
                row = list(row)
                for i, f in active:
                    row[i] = f(row[i])
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def reserve_ids(model: type[models.Model], n: int) -> list[int] | None:
    """`n` primary keys drawn from the table's sequence (PostgreSQL), so rows can be COPYed with
    their ids and their children written without reading the ids back; None on SQLite."""
    if not is_postgresql() or n <= 0:
        return None
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, column, n])
        return [r[0] for r in cursor.fetchall()]


def analyze(*tables: str) -> None:
    """Refresh the planner's statistics after a bulk load. Without them SQLite picks the status
    index for a read query and scans every read instead of the day's few thousand."""
    with connection.cursor() as cursor:
        if is_postgresql():
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        else:
            cursor.execute("ANALYZE")


def bulk_insert_frame(model: type[models.Model], fields: Sequence[str], frame: pl.DataFrame) -> int:
    """`bulk_insert` of a Polars frame whose columns are in `fields` order. On SQLite the dates and
    decimals are turned into text column-wise first, so the rows go to `executemany` as they are."""
    if frame.height == 0:
        return 0
    cols = _columns(model, fields)
    if is_postgresql():
        # CSV carries a time-zone-aware datetime column exactly (ISO 8601 with its offset); JSON and
        # naive datetimes go row by row.
        if any(isinstance(c, models.JSONField) or (isinstance(c, models.DateTimeField) and not _aware(frame.schema[n]))
               for n, c in zip(frame.columns, cols, strict=True)):
            return bulk_insert(model, fields, frame.iter_rows())
        return _copy_csv(model, cols, frame)
    exprs = []
    for name, col in zip(frame.columns, cols, strict=True):
        dtype = frame.schema[name]
        if isinstance(col, models.JSONField):
            return bulk_insert(model, fields, frame.iter_rows())  # rare: the row-wise path handles them
        if isinstance(col, models.DateTimeField):
            # Few distinct timestamps in a bulk load: adapt each once.
            mapping = {v: connection.ops.adapt_datetimefield_value(v) for v in frame[name].unique().to_list()
                       if v is not None}
            exprs.append(pl.col(name).replace_strict(mapping, default=None, return_dtype=pl.Utf8))
        elif dtype == pl.Date:
            exprs.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Decimal):
            exprs.append(pl.col(name).cast(pl.Utf8))
        else:
            exprs.append(pl.col(name))
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c.column) for c in cols)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(cols))})"
    rows = frame.select(exprs).rows()
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)


def _aware(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is not None


def _copy_csv(model: type[models.Model], cols: list[models.Field], frame: pl.DataFrame) -> int:
    """PostgreSQL COPY from CSV written by Polars: no Python object per value. Text is quoted, so an
    empty string stays an empty string and only a missing value (unquoted empty field) is NULL."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c.column) for c in cols)
    data = frame.rename(dict(zip(frame.columns, [c.column for c in cols], strict=True))).write_csv(
        include_header=False, quote_style="non_numeric", null_value="", date_format="%Y-%m-%d",
        datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(data.encode("utf-8"))
    return frame.height


def _memoised(convert):
    """A converter that remembers its last input: a chunk of rows usually shares one timestamp, and
    Django's datetime adaptation costs microseconds per call."""
    last: list[Any] = [object(), None]

    def conv(value: Any) -> Any:
        if value is None:
            return None
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return conv


def _column(values: Sequence[Any], dtype: pl.DataType) -> pl.Series:
    """One result column as a typed series, converted column-wise (not row by row)."""
    if dtype == pl.Date:
        try:
            return pl.Series(values, dtype=pl.Date)
        except (TypeError, pl.exceptions.PolarsError):
            return pl.Series(values, dtype=pl.Utf8).str.slice(0, 10).str.to_date("%Y-%m-%d")
    if dtype == pl.Utf8:
        try:
            return pl.Series(values, dtype=pl.Utf8, strict=True)
        except (TypeError, pl.exceptions.PolarsError):
            return pl.Series([None if v is None else format(v, "f") if isinstance(v, Decimal) else str(v)
                              for v in values], dtype=pl.Utf8)
    if dtype == pl.Datetime:
        return pl.Series([_to_python(v, dtype) for v in values], dtype=pl.Datetime)
    return pl.Series(values, dtype=dtype)


def _to_python(value: Any, dtype: pl.DataType) -> Any:
    if value is None:
        return None
    if dtype == pl.Date and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if dtype == pl.Datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def fetch_frame(sql: str, params: Sequence[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run a query and return its rows as a frame with the given column names and types.

    SQLite hands dates back as text and decimals as numbers; both are normalised here so callers
    see the same frame on either database. Decimal columns come back as text and are cast
    exactly by the caller (never through float). Conversion is column-wise: a billing month reads
    hundreds of thousands of rows.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    if not rows:
        return pl.DataFrame(schema=schema)
    columns = list(zip(*rows, strict=True))
    return pl.DataFrame([_column(values, dtype).alias(name)
                         for (name, dtype), values in zip(schema.items(), columns, strict=True)])


def in_chunks(values: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    """Slices small enough for an `IN (...)` list on either database."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def fetch_frame_in(sql_template: str, ids: Sequence[Any], extra: Sequence[Any],
                   schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """`fetch_frame` over an id list of any length: `sql_template` has one `{ids}` placeholder list,
    filled chunk by chunk, followed by `extra` parameters. On PostgreSQL `IN ({ids})` becomes
    `= ANY(%s)` with the whole list as one array parameter: one statement instead of one per 5,000
    ids, and binding one array is 2–4× cheaper than 5,000 parameters."""
    if is_postgresql() and sql_template.count("IN ({ids})") == 1:
        if not ids:
            return pl.DataFrame(schema=schema)
        return fetch_frame(sql_template.replace("IN ({ids})", "= ANY(%s)"), [list(ids), *extra], schema)
    frames = [
        fetch_frame(sql_template.format(ids=placeholders(len(chunk))), [*chunk, *extra], schema)
        for chunk in in_chunks(list(ids))
    ]
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)
