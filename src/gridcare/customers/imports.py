"""Customer master-data import from CSV (`gridcare import customers FILE.csv`).

One row = one customer, optionally with one account, one service point and one meter (repeat the
customer's columns on further rows for more accounts). Rows are keyed by `external_id` (customer),
`account_number`, `service_point_code` and `meter_asset_number`: importing the same file twice
changes nothing, a changed value is an audited update.

Every row is validated in full before anything is written and applied in its own savepoint, so a
bad row leaves no trace; the valid rows commit together at the end. The column reference is in
docs/customers.md.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from gridcare.access.models import AuditEvent, User
from gridcare.access.services import audit_record
from gridcare.core.errors import GridcareError, ValidationFailed
from gridcare.customers import services
from gridcare.customers.models import Account, Customer, CustomerCategory, Meter, ServicePoint, VoltageLevel

# column -> Chinese header aliases accepted as well
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("外部编号", "客户编号"),
    "name": ("客户名称", "户名"),
    "org_unit_code": ("供电单位", "供电单位编码"),
    "kind": ("客户类型",),
    "id_type": ("证件类型",),
    "id_number": ("证件号码",),
    "phone": ("联系电话", "手机"),
    "email": ("电子邮箱",),
    "address": ("地址", "通讯地址"),
    "industry": ("行业",),
    "protected_class": ("重要客户类别",),
    "account_number": ("户号",),
    "category": ("用电类别",),
    "tariff_code": ("电价代码",),
    "household_members": ("家庭人口",),
    "opened_on": ("立户日期",),
    "service_point_code": ("计量点编号",),
    "supply_address": ("用电地址",),
    "voltage_level": ("电压等级",),
    "contracted_capacity_kva": ("合同容量",),
    "basic_charge_basis": ("基本电费计收方式",),
    "contract_demand_kw": ("合同需量",),
    "grid_cell": ("网格",),
    "meter_asset_number": ("电能表资产号", "表号"),
    "ct_ratio": ("CT变比",),
    "pt_ratio": ("PT变比",),
    "digits": ("表位数",),
    "registers": ("示数类型",),
    "installed_on": ("装表日期",),
}
REQUIRED = ("external_id", "name", "org_unit_code")
_ALIASES = {alias: col for col, aliases in COLUMNS.items() for alias in aliases} | {c: c for c in COLUMNS}

_VALUE_ALIASES = {
    "kind": {"个人": "person", "自然人": "person", "单位": "organisation", "企业": "organisation",
             "organization": "organisation"},
    "id_type": {"身份证": "resident_id", "居民身份证": "resident_id", "统一社会信用代码": "uscc",
                "护照": "passport", "其他": "other"},
    "category": {"居民": "residential", "一般工商业": "general_ci", "大工业": "large_industry",
                 "农业": "agriculture"},
    "basic_charge_basis": {"": "none", "单一制": "none", "容量": "capacity", "按容量": "capacity",
                           "需量": "demand", "按需量": "demand"},
}
_VOLTAGES = {v.lower(): v for v in VoltageLevel.values}


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be read: missing, wrong encoding, wrong header."""

    code = "import_file"


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.rejected_rows == 0


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GBK (read as its superset GB18030)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFileError(_("the file is neither UTF-8 nor GBK text; save it as UTF-8 CSV"),
                              field="file") from None


def _header(names: list[str]) -> tuple[list[str | None], list[str]]:
    columns: list[str | None] = []
    warnings = []
    for raw in names:
        col = _ALIASES.get((raw or "").strip().lstrip("\ufeff"))
        if col is None:
            warnings.append(_("unknown column %(name)r ignored") % {"name": raw})
        elif col in columns:
            raise ImportFileError(_("column %(name)r appears twice in the header") % {"name": col}, field="header")
        columns.append(col)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ImportFileError(_("missing required column(s): %(cols)s") % {"cols": ", ".join(missing)},
                              field="header")
    return columns, warnings


def _value(row: dict[str, str], col: str) -> str:
    raw = (row.get(col) or "").strip()
    aliases = _VALUE_ALIASES.get(col)
    if aliases is not None:
        return aliases.get(raw, raw)
    if col == "voltage_level":
        return _VOLTAGES.get(raw.lower(), raw)
    return raw


def _date(value: str, col: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise ValidationFailed(_("%(value)r is not a date (YYYY-MM-DD)") % {"value": value}, field=col) from None


def _int(value: str, col: str, default: int) -> int:
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(_("%(value)r is not a whole number") % {"value": value}, field=col) from None


@dataclass(frozen=True)
class _Row:
    line: int
    customer: services.CustomerData
    account: services.AccountData | None
    account_given: frozenset[str]
    point: services.ServicePointData | None
    meter: tuple[str, Decimal, Decimal, int, tuple[str, ...], date | None] | None
    present: frozenset[str]  # columns in the file; a column left out keeps the stored value


# service error fields -> CSV columns
_FIELD_TO_COLUMN = {"number": "account_number", "code": "service_point_code", "asset_number": "meter_asset_number",
                    "address": "address"}


def _parse(line: int, row: dict[str, str], as_of: datetime) -> tuple[_Row | None, list[RowError]]:
    """Validate one row completely, without writing; all field errors of the row are reported."""
    v = {col: _value(row, col) for col in COLUMNS}
    data = services.CustomerData(
        name=v["name"], org_unit_code=v["org_unit_code"], kind=v["kind"] or Customer.Kind.PERSON,
        id_type=v["id_type"] or (Customer.IdType.USCC if v["kind"] == Customer.Kind.ORGANISATION
                                 else Customer.IdType.RESIDENT_ID),
        id_number=v["id_number"], phone=v["phone"], email=v["email"], address=v["address"], industry=v["industry"],
        protected_class=v["protected_class"], external_id=v["external_id"],
    ).normalised()
    errors = [RowError(line, f, m) for f, m in services.customer_data_errors(data)]
    if not data.external_id:
        errors.insert(0, RowError(line, "external_id", _("external id is required")))
    account = point = meter = None
    account_given: frozenset[str] = frozenset()
    try:
        if v["account_number"]:
            account_given = frozenset(c for c in ("category", "tariff_code", "household_members") if v[c])
            account = services.AccountData(
                number=v["account_number"], category=v["category"], tariff_code=v["tariff_code"],
                household_members=_int(v["household_members"], "household_members", 0),
                opened_on=_date(v["opened_on"], "opened_on") or as_of.date(),
            )
            errors += [RowError(line, _FIELD_TO_COLUMN.get(f, f), m) for f, m in services.account_data_errors(account)]
        point_cols = ("service_point_code", "supply_address", "voltage_level", "contracted_capacity_kva")
        if any(v[c] for c in point_cols):
            if account is None:
                raise ValidationFailed(_("a service point needs an account_number"), field="account_number")
            point = services.ServicePointData(
                code=v["service_point_code"], address=v["supply_address"] or v["address"],
                voltage_level=v["voltage_level"], category=account.category,
                basic_charge_basis=v["basic_charge_basis"] or ServicePoint.BasicChargeBasis.NONE,
                contracted_capacity_kva=v["contracted_capacity_kva"] or 0,
                contract_demand_kw=v["contract_demand_kw"] or None, industry=data.industry, grid_cell=v["grid_cell"],
            )
            if not errors:
                services.service_point_data_clean(point)
        if v["meter_asset_number"]:
            if point is None:
                raise ValidationFailed(_("a meter needs a service point"), field="service_point_code")
            registers = tuple(r for r in v["registers"].replace("|", " ").replace(",", " ").split() if r)
            ct, pt, digits = services.meter_values_clean(
                ct_ratio=v["ct_ratio"] or 1, pt_ratio=v["pt_ratio"] or 1, digits=v["digits"] or 6,
                registers=registers or services.DEFAULT_REGISTERS)
            meter = (v["meter_asset_number"], ct, pt, digits, registers or services.DEFAULT_REGISTERS,
                     _date(v["installed_on"], "installed_on"))
    except ValidationFailed as exc:
        errors.append(RowError(line, exc.field, exc.message))
    if errors:
        return None, errors
    present = frozenset(c for c in COLUMNS if c in row)
    return _Row(line, data, account, account_given, point, meter, present), []


def _apply(row: _Row, actor: User | None, as_of: datetime) -> str:
    """Write one validated row; returns 'created', 'updated' or 'unchanged'."""
    outcome = "unchanged"
    customer = Customer.objects.select_related("org_unit").filter(external_id=row.customer.external_id).first()
    if customer is None:
        customer = services.customer_create(data=row.customer, actor=actor, as_of=as_of)
        outcome = "created"
    else:
        current = services.customer_data_of(customer).normalised()
        target = replace(row.customer, **{f: getattr(current, f) for f in services.CUSTOMER_FIELDS
                                          if f not in row.present and not (f == "id_type" and "kind" in row.present)})
        if target != current:
            customer = services.customer_update(customer_id=customer.pk, data=target, actor=actor, as_of=as_of)
            outcome = "updated"
    if row.account is None:
        return outcome
    account = Account.objects.filter(number=row.account.number).first()
    if account is None:
        account = services.account_create(
            customer=customer, number=row.account.number, category=row.account.category,
            opened_on=row.account.opened_on, tariff_code=row.account.tariff_code,
            household_members=row.account.household_members, actor=actor, as_of=as_of)
        outcome = "updated" if outcome == "unchanged" else outcome
    elif account.customer_id != customer.pk:
        raise ValidationFailed(_("account %(number)s belongs to another customer") % {"number": account.number},
                               field="account_number")
    else:
        changes = {f: getattr(row.account, f) for f in row.account_given}
        if any(getattr(account, f) != val for f, val in changes.items()):
            services.account_update(account_id=account.pk, changes=changes, actor=actor, as_of=as_of)
            outcome = "updated" if outcome == "unchanged" else outcome
    if row.point is None:
        return outcome
    point = ServicePoint.objects.filter(code=row.point.code).first()
    if point is None:
        p = row.point
        point = services.service_point_create(
            account=account, code=p.code, address=p.address, voltage_level=p.voltage_level, category=p.category,
            basic_charge_basis=p.basic_charge_basis, contracted_capacity_kva=p.contracted_capacity_kva,
            contract_demand_kw=p.contract_demand_kw, industry=p.industry, grid_cell=p.grid_cell, actor=actor,
            as_of=as_of)
        outcome = "updated" if outcome == "unchanged" else outcome
    elif point.account_id != account.pk:
        raise ValidationFailed(_("service point %(code)s belongs to another account") % {"code": point.code},
                               field="service_point_code")
    else:
        before = point.__dict__.copy()
        kept = {"address": "supply_address", "voltage_level": "voltage_level", "basic_charge_basis": "basic_charge_basis",
                "contracted_capacity_kva": "contracted_capacity_kva", "contract_demand_kw": "contract_demand_kw",
                "grid_cell": "grid_cell", "industry": "industry"}
        target = replace(row.point, **{f: getattr(point, f) for f, col in kept.items() if col not in row.present
                                       and not (f == "address" and "address" in row.present)})
        point = services.service_point_update(service_point_id=point.pk, data=target, actor=actor, as_of=as_of)
        if any(before[f] != getattr(point, f) for f in services.SERVICE_POINT_UPDATABLE):
            outcome = "updated" if outcome == "unchanged" else outcome
    if row.meter is None:
        return outcome
    asset, ct, pt, digits, registers, installed_on = row.meter
    meter = Meter.objects.filter(asset_number=asset).first()
    if meter is None:
        services.meter_install(service_point=point, asset_number=asset, installed_on=installed_on or as_of.date(),
                               ct_ratio=ct, pt_ratio=pt, digits=digits, registers=registers, actor=actor, as_of=as_of)
        outcome = "updated" if outcome == "unchanged" else outcome
    elif meter.service_point_id != point.pk:
        raise ValidationFailed(_("meter %(number)s is installed at another service point; use a meter exchange")
                               % {"number": asset}, field="meter_asset_number")
    elif (meter.ct_ratio, meter.pt_ratio, meter.digits) != (ct, pt, digits):
        raise ValidationFailed(_("meter %(number)s has different CT/PT ratios or digits; ratio changes go through "
                                 "a meter exchange, not an import") % {"number": asset}, field="ct_ratio")
    return outcome


def customer_import_text(*, text: str, actor: User | None, as_of: datetime, source: str = "",
                         dry_run: bool = False) -> ImportReport:
    """Import decoded CSV text. Raises ImportFileError for a header problem; row problems go in the report."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(_("the file is empty"), field="file") from None
    columns, warnings = _header(header)
    report = ImportReport(source=source, warnings=warnings, dry_run=dry_run)
    seen_customers: dict[str, tuple[int, services.CustomerData]] = {}
    seen_keys: dict[tuple[str, str], tuple[int, object]] = {}
    with transaction.atomic():
        line = reader.line_num
        for values in reader:
            start_line, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            report.rows += 1
            if len(values) > len(columns):
                report.rejected_rows += 1
                report.errors.append(RowError(start_line, None, _("%(n)d values but the header has %(m)d columns")
                                              % {"n": len(values), "m": len(columns)}))
                continue
            row_dict = {c: val for c, val in zip(columns, values, strict=False) if c is not None}
            parsed, errors = _parse(start_line, row_dict, as_of)
            if parsed is not None:
                errors = _duplicate_errors(parsed, seen_customers, seen_keys)
            if errors:
                report.rejected_rows += 1
                report.errors.extend(errors)
                continue
            try:
                with transaction.atomic():
                    outcome = _apply(parsed, actor, as_of)
            except GridcareError as exc:
                report.rejected_rows += 1
                report.errors.append(RowError(start_line, _FIELD_TO_COLUMN.get(exc.field or "", exc.field),
                                              exc.message))
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
        if dry_run:
            transaction.set_rollback(True)
        elif report.created or report.updated:
            audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="customer_import",
                         object_id=(source or "-")[-64:], at=as_of,
                         summary=f"customer import {source}: {report.created} created, {report.updated} updated, "
                                 f"{report.unchanged} unchanged, {report.rejected_rows} rejected",
                         after={"rows": report.rows, "created": report.created, "updated": report.updated,
                                "unchanged": report.unchanged, "rejected": report.rejected_rows})
    return report


def _duplicate_errors(row: _Row, customers: dict, keys: dict) -> list[RowError]:
    """The same key twice in one file must carry the same values, or the file would flip-flop on re-import."""
    ext = row.customer.external_id
    if ext in customers and customers[ext][1] != row.customer:
        return [RowError(row.line, "external_id", _("customer %(ext)s has different values on line %(line)d")
                         % {"ext": ext, "line": customers[ext][0]})]
    customers.setdefault(ext, (row.line, row.customer))
    for kind, key, value in (("account_number", row.account and row.account.number, (ext, row.account)),
                             ("service_point_code", row.point and row.point.code, row.point),
                             ("meter_asset_number", row.meter and row.meter[0], row.meter)):
        if not key:
            continue
        if (kind, key) in keys and keys[(kind, key)][1] != value:
            return [RowError(row.line, kind, _("%(key)s has different values on line %(line)d")
                             % {"key": key, "line": keys[(kind, key)][0]})]
        keys.setdefault((kind, key), (row.line, value))
    return []


def customer_import_path(*, path: Path, actor: User | None, as_of: datetime, dry_run: bool = False) -> ImportReport:
    if not path.exists():
        raise ImportFileError(_("file not found: %(path)s") % {"path": path}, field="file")
    if not path.is_file():
        raise ImportFileError(_("not a file: %(path)s") % {"path": path}, field="file")
    return customer_import_text(text=decode(path.read_bytes()), actor=actor, as_of=as_of, source=path.name,
                                dry_run=dry_run)


CATEGORY_LABELS = {c.value: c.label for c in CustomerCategory}
