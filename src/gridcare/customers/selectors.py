"""Reads of master data, always through the caller's scope.

Staff see their org unit's subtree; a portal customer sees the accounts they hold plus those they
are authorised on. Other apps scope their own records through `account_scope_q` /
`org_unit_scope_q` so the rule is written once.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role, may_unmask
from gridcare.access.services import audit_record
from gridcare.core.masking import MASKERS
from gridcare.customers.models import Account, Customer, Meter, OrgUnit, ServicePoint


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
                 as_of: date | None = None) -> QuerySet[Account]:
    qs = Account.objects.filter(account_scope_q(user=user, as_of=as_of))
    if q:
        qs = qs.filter(Q(number=q) | Q(customer__name__icontains=q))
    if category:
        qs = qs.filter(category=category)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("customer", "org_unit").distinct().order_by("number")


def meter_list(*, user: User, q: str = "", as_of: date | None = None) -> QuerySet[Meter]:
    qs = Meter.objects.filter(account_scope_q(user=user, prefix="service_point__account__", as_of=as_of))
    if q:
        qs = qs.filter(asset_number=q)
    return qs.select_related("service_point", "service_point__account").distinct().order_by("asset_number")


def customer_get(*, user: User, customer_id: int, as_of: date | None = None) -> Customer | None:
    return customer_list(user=user, as_of=as_of).filter(pk=customer_id).first()


def account_get(*, user: User, account_id: int | None = None, number: str | None = None,
                as_of: date | None = None) -> Account | None:
    qs = account_list(user=user, as_of=as_of)
    if account_id is not None:
        return qs.filter(pk=account_id).first()
    return qs.filter(number=number).first()


def customer_accounts(*, user: User, customer: Customer, as_of: date | None = None) -> QuerySet[Account]:
    return account_list(user=user, as_of=as_of).filter(customer=customer)


def service_points_for_account(*, account: Account) -> QuerySet[ServicePoint]:
    return account.service_points.prefetch_related("meters__registers").order_by("code")


def personal_field(*, user: User, customer: Customer, field: str, reveal: bool = False) -> str:
    """The value to display for a personal-data field: masked unless the role may and asks to see it.

    Unmasking is an explicit act (`reveal=True`) and is written to the audit log, so browsing a
    list never leaks personal data and every clear-text view can be traced.
    """
    value = getattr(customer, field) or ""
    if customer.kind == Customer.Kind.ORGANISATION and field in {"name", "address"}:
        return value
    if user.role == Role.CUSTOMER:
        return value if user.customer_id == customer.pk else MASKERS[field](value)
    if reveal and may_unmask(user.role, field):
        audit_record(
            actor=user, action=AuditEvent.Action.UNMASK, object_type="customer", object_id=customer.pk,
            summary=f"viewed {field}",
        )
        return value
    return MASKERS[field](value)


def masked_customer(*, user: User, customer: Customer) -> dict[str, str]:
    """Display dict of the personal fields, masked per role (no audit: nothing is revealed)."""
    return {f: personal_field(user=user, customer=customer, field=f) for f in MASKERS}
