"""Statement-line ↔ payment matching (对账), vectorised with Polars. Pure: no Django, no clock.

Rules, in order (docs/reconciliation.md):

1. **Reference.** Each line offers one or more keys (the statement columns named by the source's
   `match_fields`, in priority order); each payment offers its keys (gateway/bank reference,
   debit-item reference, checkout number, receipt number). A line takes the payments found under
   its highest-priority key that finds any; two different payments there make it `ambiguous`.
   The first line (by value date, then line) to reach a payment is its match; any further line
   reaching the same payment — or a payment matched by an earlier statement — is a `duplicate`
   (重复扣费). A reference match is `mismatched` when the amounts differ (`amount`), the dates
   are further apart than the tolerance (`date`) or the payment was reversed (`reversed`).
2. **Account + amount + date**, for lines the reference did not place: within each
   (account number, amount) group the k-th line by date is paired with the k-th still-unmatched
   payment by date; the pair matches when the dates are within the tolerance.
3. Anything else is `unmatched` (money arrived that our books do not show).

`match_naive` implements the same rules row by row in plain Python; it is the baseline the
benchmark measures against and the oracle the property tests compare with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

MATCHED, MISMATCHED, UNMATCHED, DUPLICATE = "matched", "mismatched", "unmatched", "duplicate"
BY_REFERENCE, BY_ACCOUNT_AMOUNT_DATE = "reference", "account_amount_date"

LINES_SCHEMA = {"line_id": pl.Int64, "account_number": pl.Utf8, "amount_fen": pl.Int64, "value_date": pl.Date}
LINE_KEYS_SCHEMA = {"line_id": pl.Int64, "key": pl.Utf8, "priority": pl.Int32}
PAYMENTS_SCHEMA = {"payment_id": pl.Int64, "account_number": pl.Utf8, "amount_fen": pl.Int64,
                   "business_date": pl.Date, "reversed": pl.Boolean, "already_matched": pl.Boolean}
PAYMENT_KEYS_SCHEMA = {"payment_id": pl.Int64, "key": pl.Utf8}
RESULT_SCHEMA = {"line_id": pl.Int64, "payment_id": pl.Int64, "status": pl.Utf8, "method": pl.Utf8,
                 "reason": pl.Utf8}


@dataclass(frozen=True)
class MatchInput:
    lines: pl.DataFrame  # LINES_SCHEMA
    line_keys: pl.DataFrame  # LINE_KEYS_SCHEMA, lower priority number first; empty keys left out
    payments: pl.DataFrame  # PAYMENTS_SCHEMA: candidates of the statement's sources
    payment_keys: pl.DataFrame  # PAYMENT_KEYS_SCHEMA
    tolerance_days: int = 1
    fallback: bool = True


def frame(rows: Iterable[dict] | None, schema: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows or ()), schema=schema, orient="row")


def match(data: MatchInput) -> pl.DataFrame:
    """One result row per statement line (RESULT_SCHEMA), sorted by line_id."""
    tol = data.tolerance_days
    lines = data.lines.select(list(LINES_SCHEMA)).cast(LINES_SCHEMA)
    payments = data.payments.select(list(PAYMENTS_SCHEMA)).cast(PAYMENTS_SCHEMA)
    if lines.height == 0:
        return frame([], RESULT_SCHEMA)

    # 1. reference: highest-priority key level that finds any payment
    hits = (data.line_keys.cast(LINE_KEYS_SCHEMA).filter(pl.col("key") != "")
            .join(data.payment_keys.cast(PAYMENT_KEYS_SCHEMA).unique(), on="key", how="inner"))
    hits = hits.filter(pl.col("priority") == pl.col("priority").min().over("line_id"))
    per_line = hits.group_by("line_id").agg(pl.col("payment_id").unique().alias("ids"))
    ambiguous = per_line.filter(pl.col("ids").list.len() > 1).select("line_id")
    ref_pairs = (per_line.filter(pl.col("ids").list.len() == 1)
                 .select("line_id", pl.col("ids").list.first().alias("payment_id")))
    ref = (ref_pairs.join(lines, on="line_id").join(payments, on="payment_id", suffix="_p")
           .sort(["value_date", "line_id"])
           .with_columns(pl.int_range(pl.len()).over("payment_id").alias("nth"),
                         (pl.col("value_date") - pl.col("business_date")).dt.total_days().abs().alias("gap")))
    ref = ref.with_columns(
        pl.when(pl.col("already_matched")).then(pl.lit(DUPLICATE))
        .when(pl.col("nth") > 0).then(pl.lit(DUPLICATE))
        .when(pl.col("reversed") | (pl.col("amount_fen") != pl.col("amount_fen_p")) | (pl.col("gap") > tol))
        .then(pl.lit(MISMATCHED)).otherwise(pl.lit(MATCHED)).alias("status"),
        pl.when(pl.col("already_matched")).then(pl.lit("already_matched"))
        .when(pl.col("nth") > 0).then(pl.lit("duplicate_in_statement"))
        .when(pl.col("reversed")).then(pl.lit("reversed"))
        .when(pl.col("amount_fen") != pl.col("amount_fen_p")).then(pl.lit("amount"))
        .when(pl.col("gap") > tol).then(pl.lit("date")).otherwise(pl.lit("")).alias("reason"),
        pl.lit(BY_REFERENCE).alias("method"),
    ).select(list(RESULT_SCHEMA))

    # 2. account + amount + date, rank-paired inside each (account, amount) group
    placed = pl.concat([ref.select("line_id"), ambiguous], how="vertical")
    used = ref.select("payment_id").unique()
    if data.fallback:
        rest = (lines.join(placed, on="line_id", how="anti").filter(pl.col("account_number") != "")
                .sort(["value_date", "line_id"])
                .with_columns(pl.int_range(pl.len()).over(["account_number", "amount_fen"]).alias("rank")))
        free = (payments.join(used, on="payment_id", how="anti")
                .filter(~pl.col("reversed") & ~pl.col("already_matched") & (pl.col("account_number") != ""))
                .sort(["business_date", "payment_id"])
                .with_columns(pl.int_range(pl.len()).over(["account_number", "amount_fen"]).alias("rank")))
        fb = (rest.join(free, on=["account_number", "amount_fen", "rank"], how="inner")
              .filter((pl.col("value_date") - pl.col("business_date")).dt.total_days().abs() <= tol)
              .select("line_id", "payment_id", pl.lit(MATCHED).alias("status"),
                      pl.lit(BY_ACCOUNT_AMOUNT_DATE).alias("method"), pl.lit("").alias("reason")))
    else:
        fb = frame([], RESULT_SCHEMA)

    # 3. everything else
    done = pl.concat([ref, fb.cast(RESULT_SCHEMA)], how="vertical")
    rest = lines.join(done.select("line_id"), on="line_id", how="anti").join(
        ambiguous.with_columns(pl.lit("ambiguous").alias("reason")), on="line_id", how="left")
    unmatched = rest.select("line_id", pl.lit(None, dtype=pl.Int64).alias("payment_id"),
                            pl.lit(UNMATCHED).alias("status"), pl.lit("").alias("method"),
                            pl.col("reason").fill_null(""))
    return pl.concat([done, unmatched.cast(RESULT_SCHEMA)], how="vertical").sort("line_id")


# -- the row-by-row baseline ----------------------------------------------------------------------
def match_naive(data: MatchInput) -> list[tuple[int, int | None, str, str, str]]:
    """Same rules, one line at a time with dictionaries: (line_id, payment_id, status, method, reason)."""
    tol = data.tolerance_days
    payments = {row["payment_id"]: row for row in data.payments.iter_rows(named=True)}
    by_key: dict[str, set[int]] = defaultdict(set)
    for row in data.payment_keys.iter_rows(named=True):
        by_key[row["key"]].add(row["payment_id"])
    keys_of: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in data.line_keys.iter_rows(named=True):
        if row["key"]:
            keys_of[row["line_id"]].append((row["priority"], row["key"]))
    lines = sorted(data.lines.iter_rows(named=True), key=lambda r: (r["value_date"], r["line_id"]))
    out: dict[int, tuple[int, int | None, str, str, str]] = {}
    taken: set[int] = set()
    placed: set[int] = set()
    for line in lines:
        found: set[int] = set()
        for priority in sorted({p for p, _ in keys_of.get(line["line_id"], [])}):
            for p, key in keys_of[line["line_id"]]:
                if p == priority:
                    found |= by_key.get(key, set())
            if found:
                break
        if not found:
            continue
        placed.add(line["line_id"])
        if len(found) > 1:
            continue  # ambiguous: reported as unmatched below
        pid = next(iter(found))
        pay = payments[pid]
        gap = abs((line["value_date"] - pay["business_date"]).days)
        if pay["already_matched"]:
            status, reason = DUPLICATE, "already_matched"
        elif pid in taken:
            status, reason = DUPLICATE, "duplicate_in_statement"
        elif pay["reversed"]:
            status, reason = MISMATCHED, "reversed"
        elif line["amount_fen"] != pay["amount_fen"]:
            status, reason = MISMATCHED, "amount"
        elif gap > tol:
            status, reason = MISMATCHED, "date"
        else:
            status, reason = MATCHED, ""
        taken.add(pid)
        out[line["line_id"]] = (line["line_id"], pid, status, BY_REFERENCE, reason)
    ambiguous = placed - set(out)
    if data.fallback:
        free_by_group: dict[tuple[str, int], list[dict]] = defaultdict(list)
        for pay in sorted(payments.values(), key=lambda r: (r["business_date"], r["payment_id"])):
            if pay["payment_id"] in taken or pay["reversed"] or pay["already_matched"] or not pay["account_number"]:
                continue
            free_by_group[(pay["account_number"], pay["amount_fen"])].append(pay)
        rank: dict[tuple[str, int], int] = defaultdict(int)
        for line in lines:
            if line["line_id"] in placed or not line["account_number"]:
                continue
            group = (line["account_number"], line["amount_fen"])
            k = rank[group]
            rank[group] += 1
            candidates = free_by_group.get(group, [])
            if k < len(candidates):
                pay = candidates[k]
                if abs((line["value_date"] - pay["business_date"]).days) <= tol:
                    out[line["line_id"]] = (line["line_id"], pay["payment_id"], MATCHED, BY_ACCOUNT_AMOUNT_DATE, "")
    for line in lines:
        if line["line_id"] not in out:
            reason = "ambiguous" if line["line_id"] in ambiguous else ""
            out[line["line_id"]] = (line["line_id"], None, UNMATCHED, "", reason)
    return [out[k] for k in sorted(out)]


def as_tuples(result: pl.DataFrame) -> list[tuple[int, int | None, str, str, str]]:
    return [tuple(r) for r in result.select(list(RESULT_SCHEMA)).iter_rows()]


def gap_days(a: date, b: date) -> int:
    return abs((a - b).days)
