"""Keys checked once per statement (decision 0503): on PostgreSQL the statement triggers refuse a
child row whose parent is missing and a parent delete that would orphan a child, through the ORM,
raw SQL and the COPY path alike. SQLite keeps no constraint on these columns."""

from __future__ import annotations

import polars as pl
import pytest
from django.db import IntegrityError, connection, transaction

from gridcare.billing.models import Bill, BillException, BillLine, BillRead
from gridcare.billing.services import billing_run_execute, billing_run_start
from gridcare.customers.models import Meter
from gridcare.metering.bulk import bulk_insert, bulk_insert_frame
from gridcare.metering.models import MeterRead
from tests.billing.conftest import AS_OF, residential

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="statement-checked keys exist on PostgreSQL only"),
]

MISSING = 987_654_321


@pytest.fixture
def bill(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    run = billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    billing_run_execute(run_id=run.pk, as_of=AS_OF)
    return Bill.objects.get()


def _refused(fn) -> str:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        fn()
    return str(caught.value)


def test_a_run_writes_rows_that_pass_the_checks(bill):
    assert (BillLine.objects.filter(bill=bill).count(), BillRead.objects.filter(bill=bill).count()) == (2, 1)
    assert BillException.objects.filter(bill=bill).count() == 1


def test_a_line_of_a_missing_bill_is_refused_through_the_orm_and_copy(bill):
    line = BillLine.objects.filter(bill=bill).values().first()
    line.pop("id")
    line["line_no"] = 9
    line["bill_id"] = MISSING
    assert "billing_billline" in _refused(lambda: BillLine.objects.create(**line))
    frame = pl.DataFrame({"bill": [bill.pk, MISSING], "line_no": [10, 11]}).with_columns(
        *[pl.lit(line[f]).alias(f) for f in ("component", "line_code", "tariff", "tariff_version")],
        pl.lit(line["start_date"]).alias("start_date"), pl.lit(line["end_date"]).alias("end_date"),
        pl.lit(str(line["quantity"])).alias("quantity"), pl.lit("kWh").alias("unit"),
        pl.lit(str(line["unit_price"])).alias("unit_price"), pl.lit(1).alias("amount_fen"),
        *[pl.lit("").alias(f) for f in ("rule", "explanation_zh", "explanation_en")])
    fields = ["bill", "line_no", "component", "line_code", "tariff", "tariff_version", "start_date", "end_date",
              "quantity", "unit", "unit_price", "amount_fen", "rule", "explanation_zh", "explanation_en"]
    message = _refused(lambda: bulk_insert_frame(BillLine, fields, frame.select(fields)))
    assert f"(bill_id)=({MISSING})" in message
    assert BillLine.objects.filter(bill=bill).count() == 2


def test_a_bill_of_a_missing_account_or_an_exception_of_a_missing_user_is_refused(bill):
    assert "account_id" in _refused(lambda: Bill.objects.filter(pk=bill.pk).update(account_id=MISSING))
    assert "resolved_by_id" in _refused(
        lambda: BillException.objects.filter(bill=bill).update(resolved_by_id=MISSING))
    assert "bill_id" in _refused(lambda: bulk_insert(
        BillException, ["bill", "rule", "message", "data", "status", "created_at", "note"],
        [(MISSING, "zero_usage", "x", {}, "open", AS_OF, "")]))
    assert Bill.objects.get().account_id == bill.account_id


def test_deleting_a_parent_that_is_still_referenced_is_refused(bill):
    read = BillRead.objects.get(bill=bill)

    def raw(sql, params):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    assert f"Key (id)=({bill.pk}) is still referenced" in _refused(lambda: raw(
        "DELETE FROM billing_bill WHERE id = %s", [bill.pk]))
    assert 'still referenced from table "billing_billread"' in _refused(lambda: raw(
        "DELETE FROM metering_meterread WHERE id = %s", [read.end_read_id]))
    assert f"Key (id)=({read.meter_id}) is still referenced" in _refused(lambda: raw(
        "DELETE FROM customers_meter WHERE id = %s", [read.meter_id]))
    assert 'still referenced from table "billing_billread"' in _refused(lambda: raw(
        "UPDATE metering_meterread SET id = %s WHERE id = %s", [MISSING, read.start_read_id]))
    assert (Bill.objects.count(), Meter.objects.filter(pk=read.meter_id).count(),
            MeterRead.objects.filter(pk=read.end_read_id).count()) == (1, 1, 1)


def test_deleting_a_draft_with_its_children_through_the_orm_passes(bill):
    bill.exceptions.all().delete()
    bill.lines.all().delete()
    bill.reads.all().delete()
    bill.delete()
    assert Bill.objects.count() == 0
