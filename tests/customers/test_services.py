"""Master-data writes: validation names the field, every write is audited, rejected writes change nothing."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from gridcare.access.models import AuditEvent
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.customers import services
from gridcare.customers.models import Customer
from gridcare.customers.services import CustomerData, CustomerInvalid
from tests.customers.fixtures import ZHANG_ID

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_resident_id_and_credit_code_check_digits():
    assert services.resident_id_is_valid(ZHANG_ID)
    assert not services.resident_id_is_valid(ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1"))
    assert services.uscc_is_valid("91350100M000100Y43")  # a published sample code
    assert not services.uscc_is_valid("91350100M000100Y44")


def test_invalid_input_reports_every_bad_field_and_writes_nothing(world):
    before = (Customer.objects.count(), AuditEvent.objects.count())
    data = CustomerData(name="", org_unit_code="NOPE", phone="12345", email="x@", id_number="123456789012345678")
    with pytest.raises(CustomerInvalid) as exc:
        services.customer_create(data=data, actor=world.clerk, as_of=NOW)
    assert [f for f, _m in exc.value.errors] == ["name", "id_number", "phone", "email", "org_unit_code"]
    assert exc.value.field == "name"
    assert (Customer.objects.count(), AuditEvent.objects.count()) == before


def test_create_is_audited_with_the_values(world):
    c = services.customer_create(
        data=CustomerData(name=" 赵六 ", org_unit_code="PY1", phone="13811112222", external_id="E-9"),
        actor=world.clerk, as_of=NOW)
    event = AuditEvent.objects.get(object_type="customer", object_id=str(c.pk), action="create")
    assert (c.name, event.actor, event.at) == ("赵六", world.clerk, NOW)
    assert event.after["phone"] == "13811112222" and event.after["org_unit"] == "PY1"


def test_role_without_edit_capability_cannot_create(world):
    with pytest.raises(PermissionDenied):
        services.customer_create(data=CustomerData(name="赵六", org_unit_code="GZ"), actor=world.agent_sz, as_of=NOW)
    assert not Customer.objects.filter(name="赵六").exists()


def test_staff_cannot_file_a_customer_outside_their_subtree(world):
    with pytest.raises(ValidationFailed) as exc:
        services.customer_create(data=CustomerData(name="赵六", org_unit_code="SZ"), actor=world.clerk, as_of=NOW)
    assert exc.value.field == "org_unit_code"


def test_update_audits_only_changed_fields_and_a_no_op_writes_nothing(world):
    n_events = AuditEvent.objects.count()
    same = services.customer_data_of(world.zhang)
    services.customer_update(customer_id=world.zhang.pk, data=same, actor=world.clerk, as_of=NOW)
    assert AuditEvent.objects.count() == n_events
    world.zhang.refresh_from_db()
    assert world.zhang.updated_at != NOW

    services.customer_patch(customer_id=world.zhang.pk, changes={"phone": "13999998888"}, actor=world.clerk,
                            as_of=NOW)
    event = AuditEvent.objects.get(object_type="customer", object_id=str(world.zhang.pk), action="update")
    assert (event.before, event.after) == ({"phone": "13812345678"}, {"phone": "13999998888"})
    world.zhang.refresh_from_db()
    assert (world.zhang.phone, world.zhang.name, world.zhang.updated_at) == ("13999998888", "张小三", NOW)


def test_patch_rejects_unknown_field_and_out_of_scope_customer(world):
    with pytest.raises(ValidationFailed) as exc:
        services.customer_patch(customer_id=world.zhang.pk, changes={"colour": "red"}, actor=world.clerk, as_of=NOW)
    assert exc.value.field == "colour"
    with pytest.raises(NotFound):
        services.customer_patch(customer_id=world.wang.pk, changes={"phone": "13999998888"}, actor=world.clerk,
                                as_of=NOW)
    world.wang.refresh_from_db()
    assert world.wang.phone == "13900001111"


def test_account_update_is_audited_and_validated(world):
    services.account_update(account_id=world.a1.pk, changes={"tariff_code": "gz-residential-tou"}, actor=world.clerk,
                            as_of=NOW)
    event = AuditEvent.objects.get(object_type="account", action="update")
    assert (event.before, event.after) == ({"tariff_code": "gz-residential"}, {"tariff_code": "gz-residential-tou"})
    with pytest.raises(ValidationFailed) as exc:
        services.account_update(account_id=world.a1.pk, changes={"category": "bogus"}, actor=world.clerk, as_of=NOW)
    assert exc.value.field == "category"


def test_meter_multiplier_is_ct_times_pt_and_ratios_are_validated(world):
    point = world.a3.service_points.get()
    m = services.meter_install(service_point=point, asset_number="M-NEW", installed_on=date(2026, 1, 1),
                               ct_ratio="30", pt_ratio="100", digits=8)
    assert (m.multiplier, sorted(m.registers.values_list("code", flat=True))) == (
        3000, sorted(services.DEFAULT_REGISTERS))
    with pytest.raises(ValidationFailed) as exc:
        services.meter_install(service_point=point, asset_number="M-BAD", installed_on=date(2026, 1, 1),
                               ct_ratio="0.5")
    assert exc.value.field == "ct_ratio"


def test_two_part_service_point_needs_its_basis_quantity(world):
    with pytest.raises(ValidationFailed) as exc:
        services.service_point_create(account=world.a3, code="SP-X", address="x", voltage_level="10kV",
                                      category="large_industry", basic_charge_basis="demand",
                                      contracted_capacity_kva="1000")
    assert exc.value.field == "contract_demand_kw"


def test_authorisation_rules(world):
    with pytest.raises(ValidationFailed) as exc:
        services.authorization_grant(person=world.org, account=world.a1, scope="view", valid_from=date(2026, 1, 1))
    assert exc.value.field == "person"
    with pytest.raises(ValidationFailed):
        services.authorization_grant(person=world.zhang, account=world.a1, scope="view", valid_from=date(2026, 1, 1))
    auth = services.authorization_grant(person=world.li, account=world.a1, scope="manage", valid_from=date(2026, 1, 1))
    event = AuditEvent.objects.filter(object_type="authorization", object_id=str(auth.pk)).first()
    assert (event.action, event.before["scope"], event.after["scope"]) == ("update", "pay", "manage")


def test_reveal_is_audited_and_refused_to_roles_without_the_right(world):
    value = services.personal_data_reveal(user=world.manager, object_type="customer", object_id=world.zhang.pk,
                                          field="phone", as_of=NOW)
    assert value == "13812345678"
    event = AuditEvent.objects.get(action="unmask")
    assert (event.actor, event.object_type, event.object_id, event.summary) == (
        world.manager, "customer", str(world.zhang.pk), "viewed phone")

    with pytest.raises(PermissionDenied):  # a clerk may see names and addresses, not phones
        services.personal_data_reveal(user=world.clerk, object_type="customer", object_id=world.zhang.pk,
                                      field="phone", as_of=NOW)
    with pytest.raises(NotFound):  # out of scope: Shenzhen customer for a Guangzhou manager
        services.personal_data_reveal(user=world.manager, object_type="customer", object_id=world.wang.pk,
                                      field="name", as_of=NOW)
    with pytest.raises(ValidationFailed):
        services.personal_data_reveal(user=world.manager, object_type="customer", object_id=world.zhang.pk,
                                      field="industry", as_of=NOW)
    assert AuditEvent.objects.filter(action="unmask").count() == 1


def test_reveal_of_public_or_own_data_is_not_an_unmask(world):
    assert services.personal_data_reveal(user=world.agent_sz, object_type="customer", object_id=world.wang.pk,
                                         field="name", as_of=NOW) == "王五"  # agent may see names
    n = AuditEvent.objects.filter(action="unmask").count()
    org_name = services.personal_data_reveal(user=world.clerk, object_type="customer", object_id=world.org.pk,
                                             field="name", as_of=NOW)
    own = services.personal_data_reveal(user=world.portal_zhang, object_type="customer", object_id=world.zhang.pk,
                                        field="id_number", as_of=NOW)
    assert (org_name, own) == ("广州市恒达五金制品有限公司", ZHANG_ID)
    assert AuditEvent.objects.filter(action="unmask").count() == n


def test_contact_and_service_point_reveal(world):
    contact = world.org.contacts.get()
    assert services.personal_data_reveal(user=world.manager, object_type="contact", object_id=contact.pk,
                                         field="phone", as_of=NOW) == "13611112222"
    point = world.a1.service_points.get()
    assert services.personal_data_reveal(user=world.clerk, object_type="service_point", object_id=point.pk,
                                         field="address", as_of=NOW) == point.address
    assert list(AuditEvent.objects.filter(action="unmask").order_by("id").values_list("object_type", flat=True)) == [
        "contact", "service_point"]


def test_edit_values_reveal_what_the_role_may_see_in_one_event(world):
    values = services.customer_edit_values(user=world.clerk, customer=world.zhang, as_of=NOW)
    assert (values["name"], values["phone"], values["id_number"]) == ("张小三", "", "")
    assert values["address"] == world.zhang.address
    event = AuditEvent.objects.get(action="unmask")
    assert event.summary == "viewed for editing: name, address"
