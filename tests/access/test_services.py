"""Users, API tokens and the audit record."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gridcare.access.models import ApiToken, AuditEvent, User
from gridcare.access.services import (
    api_token_create,
    api_token_revoke,
    api_token_user,
    audit_record,
    user_create,
)
from gridcare.core.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_token_is_shown_once_and_stored_as_a_digest(world):
    raw = api_token_create(user=world.clerk, name="script", as_of=NOW)
    token = ApiToken.objects.get()
    assert raw.startswith("gc_") and raw not in token.digest and token.prefix == raw[:8]
    assert api_token_user(raw=raw, as_of=NOW) == world.clerk
    assert ApiToken.objects.get().last_used_at == NOW
    assert api_token_user(raw=raw + "x", as_of=NOW) is None
    assert AuditEvent.objects.filter(object_type="api_token", action="create").count() == 1


def test_revoked_token_and_inactive_user_authenticate_nobody(world):
    raw = api_token_create(user=world.clerk, name="script", as_of=NOW)
    assert api_token_revoke(prefix=raw[:8], actor=world.admin, as_of=NOW) == 1
    assert api_token_user(raw=raw, as_of=NOW) is None
    with pytest.raises(NotFound):
        api_token_revoke(prefix=raw[:8], actor=world.admin, as_of=NOW)

    raw2 = api_token_create(user=world.manager, name="x", as_of=NOW)
    User.objects.filter(pk=world.manager.pk).update(is_active=False)
    assert api_token_user(raw=raw2, as_of=NOW) is None


def test_user_create_validates_role_links_and_is_audited(world):
    with pytest.raises(ValidationFailed) as exc:
        user_create(username="p1", password="x" * 12, role="customer", actor=world.admin, as_of=NOW)
    assert exc.value.field == "customer"
    with pytest.raises(ValidationFailed) as exc:
        user_create(username="c1", password="x" * 12, role="cashier", actor=world.admin, as_of=NOW)
    assert exc.value.field == "org_unit"
    with pytest.raises(ValidationFailed) as exc:
        user_create(username="clerk", password="x" * 12, role="cashier", org_unit_id=world.units["GZ"].pk,
                    actor=world.admin, as_of=NOW)
    assert exc.value.field == "username"
    u = user_create(username="cashier1", password="s3cret-pass", role="cashier", org_unit_id=world.units["GZ"].pk,
                    actor=world.admin, as_of=NOW)
    assert u.check_password("s3cret-pass")
    event = AuditEvent.objects.get(object_type="user", object_id=str(u.pk))
    assert (event.actor, event.after["role"]) == (world.admin, "cashier")


def test_audit_record_keeps_json_safe_before_and_after(world):
    from decimal import Decimal

    e = audit_record(actor=None, action="update", object_type="meter", object_id=7, before={"ct": Decimal("10")},
                     after={"ct": Decimal("20"), "when": NOW}, at=NOW)
    e.refresh_from_db()
    assert (e.actor_label, e.object_id, e.before, e.after["ct"]) == ("system", "7", {"ct": "10"}, "20")
