"""Audit-log filters, as used by the administrators' audit page."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from gridcare.access.selectors import audit_event_list, audit_object_types
from gridcare.access.services import audit_record

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")


def test_filters_by_action_type_object_actor_text_and_business_day(world):
    base = audit_event_list().count()
    a = audit_record(actor=world.clerk, action="update", object_type="customer", object_id=999, summary="phone changed",
                     at=datetime(2026, 10, 14, 23, 30, tzinfo=TZ))
    b = audit_record(actor=world.manager, action="unmask", object_type="customer", object_id=999, summary="viewed phone",
                     at=datetime(2026, 10, 15, 0, 30, tzinfo=TZ))
    assert audit_event_list().count() == base + 2
    assert list(audit_event_list(action="unmask")) == [b]
    assert list(audit_event_list(object_type="customer", object_id="999")) == [b, a]
    assert list(audit_event_list(actor="clerk")) == [a]
    assert list(audit_event_list(q="PHONE CHANGED")) == [a]
    # 23:30 and 00:30 Beijing time fall on different business days
    assert list(audit_event_list(date_from=date(2026, 10, 15), date_to=date(2026, 10, 15))) == [b]
    assert list(audit_event_list(date_from=date(2026, 10, 14), date_to=date(2026, 10, 14))) == [a]
    assert "customer" in audit_object_types()
