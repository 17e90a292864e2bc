"""The catalogue loader refuses inconsistent thresholds; levels follow the KPI's direction; the
dashboard sparkline leaves gaps for months without a value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gridcare.core.errors import ValidationFailed
from gridcare.kpi.catalogue import kpi_catalogue, parse_catalogue
from gridcare.web.views.kpi import sparkline

ROW = {"code": "x", "unit": "percent", "direction": "higher", "target": "99", "warn": "95", "alert": "90"}


def test_shipped_catalogue_covers_table_1_and_levels_follow_direction():
    cat = kpi_catalogue()
    assert {"collection_rate", "debit_ratio", "auto_reconciliation_rate", "bill_issue_rate", "bill_error_rate",
            "review_rate", "first_contact_resolution", "avg_handling_hours", "satisfaction_rate"} <= set(cat)
    rate = cat["collection_rate"]
    assert [rate.level(Decimal(v)) for v in ("99.60", "98.00", "97.99", "95.00", "94.99")] == [
        "", "", "warning", "warning", "critical"]
    hours = cat["avg_handling_hours"]
    assert [hours.level(Decimal(v)) for v in ("24", "48.01", "72.01")] == ["", "warning", "critical"]
    assert rate.level(None) == ""


def test_bad_catalogues_name_the_kpi_and_field():
    with pytest.raises(ValidationFailed) as order:
        parse_catalogue({"kpis": [{**ROW, "warn": "80"}]})
    assert "x" in order.value.message and order.value.field == "warn"
    with pytest.raises(ValidationFailed) as number:
        parse_catalogue({"kpis": [{**ROW, "target": "lots"}]})
    assert "target" in number.value.field
    with pytest.raises(ValidationFailed):
        parse_catalogue({"kpis": [ROW, ROW]})
    with pytest.raises(ValidationFailed):
        parse_catalogue({"kpis": [{**ROW, "direction": "sideways"}]})


def test_sparkline_has_gaps_and_scales_to_the_box():
    line = sparkline([Decimal(1), Decimal(3), None, Decimal(2)], width=100, height=30)
    assert line["segments"] == ["2.0,27.0 34.0,3.0", "98.0,15.0"]
    assert (line["last_x"], line["last_y"]) == ("98.0", "15.0")
    assert sparkline([None, None])["segments"] == []
