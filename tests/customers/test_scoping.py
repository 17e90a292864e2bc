"""Object-level scoping: staff see their org unit's subtree, customers only their own and authorised accounts."""

from datetime import date

import pytest

from gridcare.access.models import AuditEvent
from gridcare.customers import selectors
from gridcare.customers.services import authorization_grant
from tests.factories import account, customer, user

pytestmark = pytest.mark.django_db


def test_staff_see_only_their_subtree(org):
    in_station = customer(org["PY1"], name="李四")
    in_shenzhen = customer(org["SZ"], name="王五")
    gz_clerk = user("billing_clerk", org_unit=org["GZ"])
    sz_agent = user("agent", org_unit=org["SZ"])
    province_admin = user("administrator", org_unit=org["GD"])

    assert list(selectors.customer_list(user=gz_clerk)) == [in_station]
    assert list(selectors.customer_list(user=sz_agent)) == [in_shenzhen]
    assert set(selectors.customer_list(user=province_admin)) == {in_station, in_shenzhen}
    assert selectors.customer_get(user=gz_clerk, customer_id=in_shenzhen.pk) is None


def test_staff_without_org_unit_sees_nothing(org):
    customer(org["GZ"])
    assert list(selectors.customer_list(user=user("agent"))) == []


def test_customer_sees_own_and_authorised_accounts_only(org):
    holder = customer(org["GZ"], name="张小三")
    other = customer(org["GZ"], name="赵六")
    own = account(holder)
    parents = account(other)
    stranger = account(customer(org["GZ"], name="钱七"))
    authorization_grant(person=holder, account=parents, scope="pay", valid_from=date(2026, 1, 1))
    portal = user("customer", customer=holder)

    visible = set(selectors.account_list(user=portal))
    assert visible == {own, parents}
    assert stranger not in visible
    assert selectors.account_get(user=portal, account_id=stranger.pk) is None


def test_expired_authorisation_is_not_visible_as_of_a_later_date(org):
    holder = customer(org["GZ"])
    other = account(customer(org["GZ"]))
    authorization_grant(person=holder, account=other, scope="view", valid_from=date(2026, 1, 1),
                        valid_to=date(2026, 6, 30))
    portal = user("customer", customer=holder)
    assert list(selectors.account_list(user=portal, as_of=date(2026, 6, 30))) == [other]
    assert list(selectors.account_list(user=portal, as_of=date(2026, 7, 1))) == []


def test_phone_is_masked_and_reveal_is_audited(org):
    c = customer(org["GZ"], phone="13812345678", name="张小三")
    agent = user("agent", org_unit=org["GZ"])
    manager = user("account_manager", org_unit=org["GZ"])

    assert selectors.personal_field(user=agent, customer=c, field="phone") == "138****5678"
    # an agent may not unmask a phone even when asking; nothing is logged
    assert selectors.personal_field(user=agent, customer=c, field="phone", reveal=True) == "138****5678"
    assert not AuditEvent.objects.filter(action="unmask").exists()

    assert selectors.personal_field(user=manager, customer=c, field="phone", reveal=True) == "13812345678"
    event = AuditEvent.objects.get(action="unmask")
    assert (event.actor, event.object_id, event.summary) == (manager, str(c.pk), "viewed phone")
