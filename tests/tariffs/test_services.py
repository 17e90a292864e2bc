"""Tariff files as versioned records, library sync, and tariff assignment history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gridcare.rating import TariffFileInvalid
from gridcare.tariffs import selectors, services
from gridcare.tariffs.models import TariffAssignment, TariffSchedule
from tests.metering.helpers import at, metered_account

pytestmark = pytest.mark.django_db
AS_OF = at(2026, 11, 2)

FLAT = """
code: test-flat
version: "{version}"
name_zh: 测试单一电价
name_en: Test flat price
effective_from: {start}
sources: ["test"]
components:
  - id: energy
    kind: energy
    label_zh: 电度电费
    label_en: Energy charge
    price: {price}
"""


def test_library_sync_is_idempotent_and_parses_back():
    added = services.tariff_library_sync(as_of=AS_OF)
    assert "gz-residential@2021-10" in added
    assert services.tariff_library_sync(as_of=AS_OF) == []
    schedules = selectors.schedule_set(codes={"gz-residential", "gd-ci-tou-lt1kv"})
    assert sorted(s.key for s in schedules) == ["gd-ci-tou-lt1kv@2021-10", "gz-residential@2021-10"]
    assert TariffSchedule.objects.get(code="gd-ci-tou-lt1kv").time_of_use is True
    assert TariffSchedule.objects.get(code="gz-residential").time_of_use is False


def test_invalid_file_names_the_path_and_stores_nothing():
    bad = FLAT.format(version="1", start="2026-01-01", price="-0.5")
    with pytest.raises(TariffFileInvalid) as err:
        services.tariff_file_load(text=bad, name="bad.yaml", actor=None, as_of=AS_OF)
    assert err.value.field.startswith("components[0]")
    assert TariffSchedule.objects.count() == 0


def test_a_loaded_version_never_changes():
    services.tariff_file_load(text=FLAT.format(version="1", start="2026-01-01", price="0.5"), name="a.yaml",
                              actor=None, as_of=AS_OF)
    again = services.tariff_file_load(text=FLAT.format(version="1", start="2026-01-01", price="0.5"), name="a.yaml",
                                      actor=None, as_of=AS_OF)
    assert again.added == [] and again.unchanged == ["test-flat@1"]
    with pytest.raises(services.UnableToLoadTariff):
        services.tariff_file_load(text=FLAT.format(version="1", start="2026-01-01", price="0.6"), name="b.yaml",
                                  actor=None, as_of=AS_OF)
    assert [s.components[0].price for s in selectors.schedule_set(codes={"test-flat"})] == [Decimal("0.5")]


def test_assignment_keeps_history_and_reports_changes(org):
    services.tariff_library_sync(as_of=AS_OF)
    acct, _ = metered_account(org["PY1"], tariff_code="gz-residential")
    with pytest.raises(services.UnableToAssignTariff):
        services.tariff_assign(account_id=acct.pk, tariff_code="nope", effective_from=date(2026, 10, 16), actor=None,
                               as_of=AS_OF)
    services.tariff_assign(account_id=acct.pk, tariff_code="gz-residential-tou", effective_from=date(2026, 10, 16),
                           actor=None, as_of=AS_OF)
    acct.refresh_from_db()
    assert acct.tariff_code == "gz-residential-tou"
    assert TariffAssignment.objects.filter(account=acct).count() == 2
    changes = selectors.tariff_changes(account_ids=[acct.pk], start=date(2026, 10, 1), end=date(2026, 11, 1))
    assert changes.rows() == [(acct.pk, "gz-residential", date(2026, 10, 1)),
                              (acct.pk, "gz-residential-tou", date(2026, 10, 16))]
