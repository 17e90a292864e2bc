"""Reads: filters, scoping of every list, and the masked customer 360 view."""

from datetime import date

import pytest

from gridcare.access.models import AuditEvent
from gridcare.customers import selectors

pytestmark = pytest.mark.django_db


def test_free_text_search_finds_by_name_phone_account_and_meter(world):
    find = lambda q: list(selectors.customer_list(user=world.admin, q=q))  # noqa: E731
    assert find("小三") == [world.zhang]
    assert find("13812345678") == [world.zhang]
    assert find("0500000030") == [world.org]
    assert find("M-A1") == [world.zhang]
    assert find("C-WANG") == [world.wang]
    assert find("nobody") == []


def test_facet_filters(world):
    assert list(selectors.customer_list(user=world.admin, category="general_ci")) == [world.org]
    assert list(selectors.customer_list(user=world.admin, kind="organisation")) == [world.org]
    assert set(selectors.customer_list(user=world.admin, org_unit_code="GZ")) == {world.zhang, world.org, world.li}
    assert list(selectors.customer_list(user=world.admin, org_unit_code="PY")) == [world.zhang]
    assert list(selectors.customer_list(user=world.admin, org_unit_code="NOPE")) == []


def test_accounts_and_meters_follow_the_same_scope(world):
    assert set(selectors.account_list(user=world.clerk)) == {world.a1, world.a3}
    assert list(selectors.account_list(user=world.agent_sz)) == [world.a2]
    assert [m.asset_number for m in selectors.meter_list(user=world.clerk)] == ["M-A1", "M-A3"]
    assert list(selectors.meter_list(user=world.agent_sz)) == []
    assert [m.asset_number for m in selectors.meter_list(user=world.portal_li)] == ["M-A1"]
    assert selectors.meter_get(user=world.agent_sz, meter_id=world.m1.pk) is None
    assert list(selectors.account_list(user=world.admin, org_unit_code="SZ")) == [world.a2]


def test_org_unit_choices_are_the_subtree(world):
    assert [u.code for u in selectors.org_unit_choices(user=world.clerk)] == ["GZ", "PY", "PY1"]
    assert selectors.org_unit_visible(user=world.clerk, org_unit=world.units["PY1"])
    assert not selectors.org_unit_visible(user=world.clerk, org_unit=world.units["SZ"])
    assert not selectors.org_unit_visible(user=world.portal_li, org_unit=world.units["GZ"])


def test_customer_360_is_masked_and_reading_it_is_not_audited(world):
    view = selectors.customer_360(user=world.clerk, customer_id=world.zhang.pk)
    assert {f: s.text for f, s in view.fields.items()} == {
        "name": "张*三", "phone": "138****5678", "id_number": "110***********" + world.zhang.id_number[-4:],
        "address": "广州市番禺区****", "email": "",
    }
    assert (view.fields["name"].revealable, view.fields["phone"].revealable) == (True, False)
    [acct] = view.accounts
    [point] = acct.service_points
    assert (acct.account, point.address.text, [m.meter.asset_number for m in point.meters]) == (
        world.a1, "广州市番禺区****", ["M-A1"])
    assert point.meters[0].registers == ["总", "峰", "平", "谷"]  # zh-Hans is the default language
    assert [(p.name.text, p.authorization.scope) for p in acct.authorised_people] == [("李*", "pay")]
    assert not AuditEvent.objects.filter(action="unmask").exists()


def test_customer_360_out_of_scope_is_none(world):
    assert selectors.customer_360(user=world.agent_sz, customer_id=world.zhang.pk) is None
    assert selectors.customer_360(user=world.portal_zhang, customer_id=world.wang.pk) is None


def test_organisation_name_and_address_are_not_masked_but_its_contacts_are(world):
    view = selectors.customer_360(user=world.clerk, customer_id=world.org.pk)
    assert (view.fields["name"].text, view.fields["name"].masked) == ("广州市恒达五金制品有限公司", False)
    assert view.fields["address"].text == "广州市天河区中山大道西100号"
    assert view.fields["phone"].text == "********1234"
    [contact] = view.contacts
    assert (contact.name.text, contact.phone.text) == ("陈*文", "136****2222")
    assert view.accounts[0].service_points[0].address.masked is False


def test_portal_customer_sees_own_data_in_clear_and_the_holder_of_an_authorised_account_masked(world):
    own = selectors.customer_360(user=world.portal_zhang, customer_id=world.zhang.pk)
    assert (own.fields["phone"].text, own.fields["phone"].masked) == ("13812345678", False)
    holder = selectors.customer_360(user=world.portal_li, customer_id=world.zhang.pk)
    assert holder.fields["name"].text == "张*三"
    assert [a.account for a in selectors.authorizations_of(user=world.portal_li, as_of=date(2026, 6, 1))] == [
        world.a1]
    assert list(selectors.authorizations_of(user=world.portal_li, as_of=date(2025, 6, 1))) == []
