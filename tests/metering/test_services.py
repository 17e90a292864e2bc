"""Read import, validation with reasons, quarantine release/discard, manual entry, estimation."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pytest

from gridcare.access.models import AuditEvent
from gridcare.metering import services
from gridcare.metering.errors import ReadFileInvalid, UnableToReleaseRead
from gridcare.metering.models import BillingPeriod, MeterRead, ReadImport
from tests.factories import user
from tests.metering.helpers import at, csv_bytes, metered_account, seed_read

pytestmark = pytest.mark.django_db

AS_OF = at(2026, 11, 2)
OCT1, NOV1 = date(2026, 10, 1), date(2026, 11, 1)


def _history(m, register="total", *, jul="1000", aug="1100", sep="1200", oct_="1300"):
    """Three months of ~100 kWh/month, the last on 1 Oct."""
    for d, v in ((date(2026, 7, 1), jul), (date(2026, 8, 1), aug), (date(2026, 9, 1), sep), (OCT1, oct_)):
        seed_read(m, register, d, v)


def _import(rows, **kw):
    return services.reads_import(content=csv_bytes(rows), filename="reads.csv", actor=None, as_of=AS_OF, **kw)


def test_plain_import_accepts_reads_and_reports(org):
    _, m1 = metered_account(org["PY1"])
    _, m2 = metered_account(org["PY1"])
    _history(m1)
    _history(m2)
    report = _import([(m1.asset_number, "total", "2026-11-01", "1398.5"), (m2.asset_number, "total", "2026-11-01", 1420)])
    assert (report.rows_total, report.accepted, report.quarantined, report.unchanged) == (2, 2, 0, 0)
    assert report.by_reason == {}
    read = MeterRead.objects.get(meter=m1, read_date=NOV1)
    assert (read.value_milli, read.status, read.source, read.line_no) == (1398500, "valid", "import", 2)
    assert AuditEvent.objects.filter(object_type="read_import", object_id=str(report.import_id)).count() == 1


def test_every_reason_is_detected_and_nothing_dropped(org):
    _, ok = metered_account(org["PY1"])
    _, roll = metered_account(org["PY1"], digits=4)
    _, dec = metered_account(org["PY1"])
    _, zero = metered_account(org["PY1"])
    _, spike = metered_account(org["PY1"])
    _, dup = metered_account(org["PY1"])
    _, dup_db = metered_account(org["PY1"])
    for m in (ok, dec, zero, spike, dup, dup_db):
        _history(m)
    for d, v in ((date(2026, 8, 1), "9700"), (date(2026, 9, 1), "9800"), (OCT1, "9900")):
        seed_read(roll, "total", d, v)
    seed_read(dup_db, "total", NOV1, "1400")
    rows = [
        (ok.asset_number, "total", "2026-11-01", "1400"),
        (roll.asset_number, "total", "2026-11-01", "0050"),  # 9900 → 10000 wrap → 50: 150 kWh
        (dec.asset_number, "total", "2026-11-01", "1250"),
        (zero.asset_number, "total", "2026-11-01", "1300"),
        (spike.asset_number, "total", "2026-11-01", "2300"),  # 1000 kWh vs ~100/month
        (dup.asset_number, "total", "2026-11-01", "1390"),
        (dup.asset_number, "total", "2026-11-01", "1391"),
        (dup_db.asset_number, "total", "2026-11-01", "1401"),
        ("NO-SUCH-METER", "total", "2026-11-01", "5"),
        (ok.asset_number, "reactive", "2026-11-01", "5"),  # meter has only a total register
        (ok.asset_number, "total", "2026-11-09", "1500"),  # after as_of
    ]
    report = _import(rows)
    assert report.rows_total == 11
    assert report.accepted == 1
    assert report.quarantined == 10
    assert report.by_reason == {
        "decrease": 1, "duplicate": 3, "out_of_period": 1, "rollover": 1, "spike": 1, "unknown_meter": 1,
        "unknown_register": 1, "zero_usage": 1,
    }
    stored = MeterRead.objects.filter(read_import_id=report.import_id)
    assert stored.count() == 11  # every row is kept: used or quarantined
    by_line = {r.line_no: r for r in stored}
    assert by_line[3].reason == "rollover" and "10000.000" not in by_line[3].detail
    assert "rollover at 4 digits would be 150.000 units" in by_line[3].detail
    assert by_line[4].detail.startswith("reading 1250.000 below previous 1300.000 on 2026-10-01")
    assert by_line[10].meter_id is None and by_line[10].asset_number == "NO-SUCH-METER"
    assert by_line[9].detail.startswith("differs from existing read")
    assert [r["line"] for r in report.quarantined_rows] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


def test_closed_period_reads_are_out_of_period(org):
    acct, m = metered_account(org["PY1"])
    _history(m)
    period = services.billing_period_open(org_unit=org["PY1"], code="2026-10", as_of=AS_OF)
    services.billing_period_close(period_id=period.pk, actor=None, as_of=AS_OF)
    report = _import([(m.asset_number, "total", "2026-10-15", "1350"), (m.asset_number, "total", "2026-11-01", "1400")])
    assert report.by_reason == {"out_of_period": 1}
    assert report.accepted == 1
    assert BillingPeriod.objects.get(pk=period.pk).status == "closed"


def test_reimport_same_file_writes_nothing_and_same_rows_are_unchanged(org):
    _, m = metered_account(org["PY1"])
    _history(m)
    rows = [(m.asset_number, "total", "2026-11-01", "1400"), ("GHOST", "total", "2026-11-01", "1")]
    first = _import(rows)
    again = _import(rows)
    assert again.already_imported and again.import_id == first.import_id
    assert (again.accepted, again.quarantined) == (1, 1)
    other_file = services.reads_import(content=csv_bytes(rows, header="meter,register,date,reading"),
                                       filename="b.csv", actor=None, as_of=AS_OF)
    assert (other_file.accepted, other_file.quarantined, other_file.unchanged) == (0, 0, 2)
    assert MeterRead.objects.count() == 4 + 2
    assert ReadImport.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "message", "lines"),
    [
        (b"meter_id,reading\nM1,5\n", "missing columns: asset_number, register, read_date", []),
        (b"asset_number,register,read_date,value\nM1,total,2026-11-01,abc\nM1,total,2026-13-01,5\n"
         b"M1,bogus,2026-11-01,5\nM1,total,2026-11-01,-4\nM1,total,2026-11-01,1.23456\n",
         "line 2: value 'abc' is not a non-negative number", [2, 3, 4, 5, 6]),
        (b"", "the file is empty", []),
        (b"asset_number,register,read_date,value\n", "header but no rows", []),
    ],
)
def test_bad_files_are_refused_whole_with_line_numbers(org, content, message, lines):
    _, m = metered_account(org["PY1"])
    before = MeterRead.objects.count()
    with pytest.raises(ReadFileInvalid) as err:
        services.reads_import(content=content, filename="bad.csv", actor=None, as_of=AS_OF)
    assert message in err.value.message
    assert sorted({ln for ln, _ in err.value.problems}) == lines
    assert MeterRead.objects.count() == before
    assert ReadImport.objects.count() == 0


def test_bad_row_among_good_rows_writes_nothing(org):
    _, m = metered_account(org["PY1"])
    _history(m)
    content = csv_bytes([(m.asset_number, "total", "2026-11-01", "1400"), (m.asset_number, "peak", "2026-11-01", "x")])
    with pytest.raises(ReadFileInvalid) as err:
        services.reads_import(content=content, filename="bad.csv", actor=None, as_of=AS_OF)
    assert err.value.problems == [(3, "value 'x' is not a non-negative number with at most 3 decimals")]
    assert not MeterRead.objects.filter(read_date=NOV1).exists()


def test_parquet_import_with_estimated_flag(org):
    _, m = metered_account(org["PY1"], registers=("total", "peak", "valley"))
    _history(m)
    frame = pl.DataFrame({
        "asset_number": [m.asset_number, m.asset_number, m.asset_number],
        "register": ["total", "peak", "valley"],
        "read_date": [NOV1, NOV1, NOV1],
        "value": ["1400.25", "60", "40"],
        "estimated": [True, False, False],
    })
    buf = io.BytesIO()
    frame.write_parquet(buf)
    report = services.reads_import(content=buf.getvalue(), filename="reads.parquet", actor=None, as_of=AS_OF)
    assert (report.accepted, report.estimated, report.quarantined) == (3, 1, 0)
    total = MeterRead.objects.get(meter=m, register="total", read_date=NOV1)
    assert (total.status, total.value_milli, total.line_no) == ("estimated", 1400250, 1)


def test_actual_read_supersedes_system_estimate(org):
    _, m = metered_account(org["PY1"])
    _history(m)
    estimate = seed_read(m, "total", NOV1, "1395", status="estimated")
    report = _import([(m.asset_number, "total", "2026-11-01", "1402")])
    assert (report.accepted, report.superseded_estimates) == (1, 1)
    estimate.refresh_from_db()
    assert estimate.status == "void"
    assert MeterRead.objects.get(meter=m, read_date=NOV1, status="valid").value_milli == 1402000


def test_release_rollover_and_fix_unknown_meter_and_discard(org):
    clerk = user("billing_clerk", org_unit=org["GZ"])
    _, roll = metered_account(org["PY1"], digits=4)
    seed_read(roll, "total", OCT1, "9990")
    _, target = metered_account(org["PY1"])
    _history(target)
    report = _import([(roll.asset_number, "total", "2026-11-01", "20"), ("TYPO123", "total", "2026-11-01", "1400"),
                      (target.asset_number, "total", "2026-11-01", "1250")])
    assert report.by_reason == {"decrease": 1, "rollover": 1, "unknown_meter": 1}
    reads = {r.line_no: r for r in MeterRead.objects.filter(read_import_id=report.import_id)}
    released = services.meter_read_release(read_id=reads[2].pk, actor=clerk, as_of=AS_OF, note="confirmed wrap")
    assert (released.status, released.resolved_by) == ("valid", clerk)
    with pytest.raises(UnableToReleaseRead):
        services.meter_read_release(read_id=reads[3].pk, actor=clerk, as_of=AS_OF, note="?")
    fixed = services.meter_read_release(read_id=reads[3].pk, actor=clerk, as_of=AS_OF, note="typo in meter number",
                                        asset_number=target.asset_number, value="1400")
    assert (fixed.meter_id, fixed.status, fixed.value_milli) == (target.pk, "valid", 1400000)
    with pytest.raises(UnableToReleaseRead):  # a valid read for that day exists now
        services.meter_read_release(read_id=reads[4].pk, actor=clerk, as_of=AS_OF, note="x")
    discarded = services.meter_read_discard(read_id=reads[4].pk, actor=clerk, as_of=AS_OF, note="misread")
    assert discarded.status == "void"
    assert MeterRead.objects.filter(status="quarantined").count() == 0
    assert AuditEvent.objects.filter(object_type="meter_read").count() == 3


def test_manual_entry_goes_through_validation(org):
    _, m = metered_account(org["PY1"])
    _history(m)
    good = services.meter_read_record(asset_number=m.asset_number, register="total", read_date=NOV1, value="1410.5",
                                      actor=None, as_of=AS_OF, source="api")
    assert (good.status, good.source, good.value_milli) == ("valid", "api", 1410500)
    same = services.meter_read_record(asset_number=m.asset_number, register="total", read_date=NOV1, value="1410.5",
                                      actor=None, as_of=AS_OF)
    assert same.pk == good.pk
    bad = services.meter_read_record(asset_number=m.asset_number, register="total", read_date=date(2026, 11, 2),
                                     value="1000", actor=None, as_of=AS_OF)
    assert (bad.status, bad.reason) == ("quarantined", "decrease")


def test_estimation_uses_average_daily_usage(org):
    _, m = metered_account(org["PY1"], registers=("total", "reactive"))
    _history(m)
    seed_read(m, "reactive", OCT1, "10")
    targets = pl.DataFrame(
        {"meter_id": [m.pk, m.pk], "asset_number": [m.asset_number] * 2, "register": ["total", "reactive"],
         "read_date": [NOV1, NOV1], "window_days": [0, 0]},
    )
    report = services.reads_estimate(targets=targets, as_of=AS_OF)
    assert (report.estimated, report.without_history, report.unreadable) == (2, 1, 0)
    est = MeterRead.objects.get(meter=m, register="total", read_date=NOV1)
    # history window 90 days before 1 Oct starts 3 Jul: first read in it is 1 Aug (1100).
    # 200 kWh in 61 days; × 31 days = 101.6393 → 101.639 kWh (half up to the Wh)
    assert (est.status, est.value_milli) == ("estimated", 1300000 + 101639)
    assert est.detail == "估抄: 31 days × average of 61 days since 2026-08-01"
    assert MeterRead.objects.get(meter=m, register="reactive", read_date=NOV1).value_milli == 10000
    again = services.reads_estimate(targets=targets, as_of=AS_OF)
    assert again.estimated == 0
