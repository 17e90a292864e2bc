"""Reads of master data, always through the caller's scope.

Staff see their org unit's subtree; a portal customer sees the accounts they hold plus those they
are authorised on. Other apps scope their own records through `account_scope_q` /
`org_unit_scope_q` so the rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, Q, QuerySet

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role, may_unmask
from gridcare.access.services import audit_record
from gridcare.core.masking import MASKERS
from gridcare.customers.models import (
    Account,
    Authorization,
    Contact,
    Customer,
    Meter,
    MeterRegister,
    OrgUnit,
    ServicePoint,
)


def org_unit_subtree(*, org_unit: OrgUnit) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(path__startswith=org_unit.path)


def _staff_path(user: User) -> str | None:
    if user.role == Role.CUSTOMER or not user.is_active:
        return None
    if user.org_unit_id is None:
        # A staff user without an org unit sees nothing, except an administrator who sees all.
        return "/" if user.role == Role.ADMINISTRATOR else None
    return user.org_unit.path


def account_scope_q(*, user: User, prefix: str = "", as_of: date | None = None) -> Q:
    """Q object limiting `Account` rows (or rows reached via `prefix`, e.g. 'account__') to the user."""
    if user.role == Role.CUSTOMER:
        if user.customer_id is None:
            return Q(pk__in=[])
        auth = Q(**{f"{prefix}authorizations__person_id": user.customer_id})
        if as_of is not None:
            auth &= Q(**{f"{prefix}authorizations__valid_from__lte": as_of}) & (
                Q(**{f"{prefix}authorizations__valid_to__isnull": True})
                | Q(**{f"{prefix}authorizations__valid_to__gte": as_of})
            )
        return Q(**{f"{prefix}customer_id": user.customer_id}) | auth
    path = _staff_path(user)
    if path is None:
        return Q(pk__in=[])
    if path == "/":
        return Q()
    return Q(**{f"{prefix}org_unit__path__startswith": path})


def org_unit_visible(*, user: User, org_unit: OrgUnit) -> bool:
    """Whether a staff user's scope includes the unit (used to refuse writes outside it)."""
    path = _staff_path(user)
    return path is not None and org_unit.path.startswith(path)


def org_unit_choices(*, user: User) -> QuerySet[OrgUnit]:
    """Units a staff user may file records under, for filter and form drop-downs."""
    path = _staff_path(user)
    if path is None:
        return OrgUnit.objects.none()
    return OrgUnit.objects.filter(path__startswith=path).order_by("path")


def org_unit_scope_q(*, user: User, prefix: str = "") -> Q:
    """Q object limiting rows with an org unit (via `prefix`) to a staff user's subtree."""
    path = _staff_path(user)
    if path is None:
        return Q(pk__in=[])
    if path == "/":
        return Q()
    return Q(**{f"{prefix}org_unit__path__startswith": path})


def customer_list(
    *, user: User, q: str = "", category: str = "", org_unit_code: str = "", kind: str = "",
    as_of: date | None = None,
) -> QuerySet[Customer]:
    """Customers the user may see, filtered by free text (name, phone, account, meter) and facets."""
    if user.role == Role.CUSTOMER:
        visible_accounts = Account.objects.filter(account_scope_q(user=user, as_of=as_of))
        qs = Customer.objects.filter(Q(pk=user.customer_id) | Q(accounts__in=visible_accounts))
    else:
        qs = Customer.objects.filter(org_unit_scope_q(user=user))
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(phone=q)
            | Q(external_id=q)
            | Q(accounts__number=q)
            | Q(accounts__service_points__meters__asset_number=q)
        )
    if category:
        qs = qs.filter(accounts__category=category)
    if org_unit_code:
        unit = OrgUnit.objects.filter(code=org_unit_code).first()
        qs = qs.filter(org_unit__path__startswith=unit.path) if unit else qs.none()
    if kind:
        qs = qs.filter(kind=kind)
    return qs.select_related("org_unit").distinct().order_by("id")


def account_list(*, user: User, q: str = "", category: str = "", status: str = "",
                 customer_id: int | None = None, org_unit_code: str = "", tariff_code: str = "",
                 as_of: date | None = None) -> QuerySet[Account]:
    qs = Account.objects.filter(account_scope_q(user=user, as_of=as_of))
    if q:
        q = q.strip()
        qs = qs.filter(Q(number=q) | Q(customer__name__icontains=q))
    if category:
        qs = qs.filter(category=category)
    if status:
        qs = qs.filter(status=status)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if tariff_code:
        qs = qs.filter(tariff_code=tariff_code)
    if org_unit_code:
        unit = OrgUnit.objects.filter(code=org_unit_code).first()
        qs = qs.filter(org_unit__path__startswith=unit.path) if unit else qs.none()
    return qs.select_related("customer", "org_unit").distinct().order_by("number")


def meter_list(*, user: User, q: str = "", account_id: int | None = None, status: str = "",
               as_of: date | None = None) -> QuerySet[Meter]:
    qs = Meter.objects.filter(account_scope_q(user=user, prefix="service_point__account__", as_of=as_of))
    if q:
        qs = qs.filter(asset_number=q.strip())
    if account_id is not None:
        qs = qs.filter(service_point__account_id=account_id)
    if status:
        qs = qs.filter(status=status)
    registers = Prefetch("registers", queryset=MeterRegister.objects.order_by("id"))
    return (qs.select_related("service_point", "service_point__account").prefetch_related(registers)
            .distinct().order_by("asset_number"))


def meter_get(*, user: User, meter_id: int, as_of: date | None = None) -> Meter | None:
    return meter_list(user=user, as_of=as_of).filter(pk=meter_id).first()


def customer_get(*, user: User, customer_id: int, as_of: date | None = None) -> Customer | None:
    return customer_list(user=user, as_of=as_of).filter(pk=customer_id).first()


def account_get(*, user: User, account_id: int | None = None, number: str | None = None,
                as_of: date | None = None) -> Account | None:
    qs = account_list(user=user, as_of=as_of)
    if account_id is not None:
        return qs.filter(pk=account_id).first()
    return qs.filter(number=number).first()


def authorizations_of(*, user: User, as_of: date | None = None) -> QuerySet[Authorization]:
    """A portal customer's authorisations on other people's accounts (valid on `as_of` when given)."""
    if user.role != Role.CUSTOMER or user.customer_id is None:
        return Authorization.objects.none()
    qs = Authorization.objects.filter(person_id=user.customer_id)
    if as_of is not None:
        qs = qs.filter(Q(valid_from__lte=as_of), Q(valid_to__isnull=True) | Q(valid_to__gte=as_of))
    return qs


def customer_accounts(*, user: User, customer: Customer, as_of: date | None = None) -> QuerySet[Account]:
    return account_list(user=user, as_of=as_of).filter(customer=customer)


def service_points_for_account(*, account: Account) -> QuerySet[ServicePoint]:
    return account.service_points.prefetch_related("meters__registers").order_by("code")


def is_personal(*, record: Customer | Contact | ServicePoint, field: str) -> bool:
    """Organisation names and addresses are public business data, not personal data."""
    if isinstance(record, Customer):
        return not (record.kind == Customer.Kind.ORGANISATION and field in {"name", "address"})
    if isinstance(record, ServicePoint):
        return record.account.customer.kind == Customer.Kind.PERSON
    return True


def owns_record(*, user: User, record: Customer | Contact | ServicePoint) -> bool:
    """A portal customer sees their own personal data in clear."""
    if user.role != Role.CUSTOMER or user.customer_id is None:
        return False
    if isinstance(record, Customer):
        return record.pk == user.customer_id
    if isinstance(record, Contact):
        return record.customer_id == user.customer_id
    return record.account.customer_id == user.customer_id


def personal_record_get(*, user: User, object_type: str, object_id: int) -> Customer | Contact | ServicePoint | None:
    """The record behind a reveal request, if it is inside the user's scope."""
    if object_type == "customer":
        return customer_get(user=user, customer_id=object_id)
    if object_type == "contact":
        visible = customer_list(user=user).values("pk")
        if user.role == Role.CUSTOMER:
            visible = Customer.objects.filter(pk=user.customer_id).values("pk")
        return Contact.objects.filter(pk=object_id, customer_id__in=visible).first()
    if object_type == "service_point":
        return (ServicePoint.objects.select_related("account__customer")
                .filter(account_scope_q(user=user, prefix="account__"), pk=object_id).first())
    return None


@dataclass(frozen=True)
class Shown:
    """A personal-data value as the user may see it now: masked unless they own it.

    `revealable` says whether the role may ask for the clear value (an audited act)."""

    text: str
    masked: bool
    revealable: bool
    object_type: str
    object_id: int
    field: str

    def __str__(self) -> str:
        return self.text


_TYPE_OF = {Customer: "customer", Contact: "contact", ServicePoint: "service_point"}


def shown(*, user: User, record: Customer | Contact | ServicePoint, field: str) -> Shown:
    value = getattr(record, field) or ""
    object_type = _TYPE_OF[type(record)]
    if not value or not is_personal(record=record, field=field) or owns_record(user=user, record=record):
        return Shown(value, False, False, object_type, record.pk, field)
    masked = MASKERS[field](value)
    return Shown(masked, True, may_unmask(user.role, field) and masked != value, object_type, record.pk, field)


def personal_field(*, user: User, customer: Customer, field: str, reveal: bool = False) -> str:
    """The value to display for a personal-data field: masked unless the role may and asks to see it.

    Unmasking is an explicit act (`reveal=True`) and is written to the audit log, so browsing a
    list never leaks personal data and every clear-text view can be traced.
    """
    display = shown(user=user, record=customer, field=field)
    if not (reveal and display.revealable):
        return display.text
    audit_record(
        actor=user, action=AuditEvent.Action.UNMASK, object_type="customer", object_id=customer.pk,
        summary=f"viewed {field}",
    )
    return getattr(customer, field)


def masked_customer(*, user: User, customer: Customer) -> dict[str, str]:
    """Display dict of the personal fields, masked per role (no audit: nothing is revealed)."""
    return {f: personal_field(user=user, customer=customer, field=f) for f in MASKERS}


# --- the customer 360 view ------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterView:
    meter: Meter
    registers: list[str]


@dataclass(frozen=True)
class ServicePointView:
    point: ServicePoint
    address: Shown
    meters: list[MeterView]


@dataclass(frozen=True)
class AuthorisedPerson:
    authorization: Authorization
    name: Shown
    phone: Shown


@dataclass(frozen=True)
class AccountView:
    account: Account
    service_points: list[ServicePointView]
    authorised_people: list[AuthorisedPerson]


@dataclass(frozen=True)
class ContactView:
    contact: Contact
    name: Shown
    phone: Shown
    email: Shown


@dataclass(frozen=True)
class Customer360:
    customer: Customer
    fields: dict[str, Shown]
    accounts: list[AccountView]
    contacts: list[ContactView]
    authorised_on: list[Authorization] = field(default_factory=list)

    @property
    def authorised_people(self) -> list[tuple[Account, AuthorisedPerson]]:
        return [(a.account, p) for a in self.accounts for p in a.authorised_people]


def account_views(*, user: User, accounts: QuerySet[Account]) -> list[AccountView]:
    """Accounts with their service points, meters, registers and authorised people, masked for the user."""
    meters = Prefetch("meters", queryset=Meter.objects.order_by("asset_number").prefetch_related(
        Prefetch("registers", queryset=MeterRegister.objects.order_by("id"))))
    points = Prefetch("service_points", queryset=ServicePoint.objects.order_by("code").prefetch_related(meters))
    auths = Prefetch("authorizations", queryset=Authorization.objects.select_related("person").order_by("id"))
    out = []
    for account in accounts.select_related("customer", "org_unit").prefetch_related(points, auths):
        point_views = []
        for point in account.service_points.all():
            point.account = account
            point_views.append(ServicePointView(
                point, shown(user=user, record=point, field="address"),
                [MeterView(m, [r.get_code_display() for r in m.registers.all()]) for m in point.meters.all()],
            ))
        people = [AuthorisedPerson(a, shown(user=user, record=a.person, field="name"),
                                   shown(user=user, record=a.person, field="phone"))
                  for a in account.authorizations.all()]
        out.append(AccountView(account, point_views, people))
    return out


def account_view(*, user: User, account: Account) -> AccountView:
    return account_views(user=user, accounts=Account.objects.filter(pk=account.pk))[0]


def customer_360(*, user: User, customer_id: int, as_of: date | None = None) -> Customer360 | None:
    """Everything master data knows about one customer, masked for this user; None if out of scope."""
    customer = customer_get(user=user, customer_id=customer_id, as_of=as_of)
    if customer is None:
        return None
    account_views_ = account_views(user=user, accounts=customer_accounts(user=user, customer=customer, as_of=as_of))
    contacts = [ContactView(c, shown(user=user, record=c, field="name"), shown(user=user, record=c, field="phone"),
                            shown(user=user, record=c, field="email"))
                for c in customer.contacts.order_by("id")]
    authorised_on = list(
        Authorization.objects.filter(person=customer)
        .filter(account_id__in=Account.objects.filter(account_scope_q(user=user, as_of=as_of)).values("pk"))
        .select_related("account").order_by("account__number")
    )
    return Customer360(
        customer=customer,
        fields={f: shown(user=user, record=customer, field=f) for f in MASKERS},
        accounts=account_views_, contacts=contacts, authorised_on=authorised_on,
    )
