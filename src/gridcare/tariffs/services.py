"""Writes of the tariffs app: load tariff files (validated by gridcare.rating) and assign tariffs.

Errors raised: TariffFileInvalid (from the rating loader, naming the path of the bad value),
UnableToLoadTariff, UnableToAssignTariff.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction

from gridcare.access.models import AuditEvent, User
from gridcare.access.services import audit_record
from gridcare.core.errors import Conflict, ValidationFailed
from gridcare.customers.models import Account
from gridcare.rating import parse_yaml
from gridcare.rating.loader import library_dir
from gridcare.tariffs.models import TariffAssignment, TariffFile, TariffSchedule


class UnableToLoadTariff(Conflict):
    code = "unable_to_load_tariff"


class UnableToAssignTariff(ValidationFailed):
    code = "unable_to_assign_tariff"


@dataclass(frozen=True)
class LoadResult:
    file_id: int
    added: list[str]  # "code@version" newly loaded
    unchanged: list[str]


@transaction.atomic
def tariff_file_load(*, text: str, name: str, actor: User | None, as_of: datetime) -> LoadResult:
    """Validate a tariff file and store its versions. Loading the same text again changes nothing;
    a version already loaded from different text is refused (give the new text a new version)."""
    schedules = parse_yaml(text, source=name, base_dir=library_dir())
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    tfile = TariffFile.objects.filter(sha256=digest).first()
    added, unchanged = [], []
    for s in schedules:
        existing = TariffSchedule.objects.filter(code=s.code, version=s.version).select_related("file").first()
        if existing is not None and existing.file.sha256 != digest:
            raise UnableToLoadTariff(
                f"{s.code} version {s.version} is already loaded from {existing.file.name} with different "
                "content; a loaded version never changes, give the new one a new version",
                field="version",
            )
    if tfile is None:
        tfile = TariffFile.objects.create(name=name[:255], sha256=digest, text=text, loaded_at=as_of,
                                          loaded_by=actor if actor is not None and actor.pk else None)
    for s in schedules:
        _, created = TariffSchedule.objects.get_or_create(
            code=s.code, version=s.version,
            defaults={"file": tfile, "name_zh": s.name_zh[:128], "name_en": s.name_en[:128],
                      "effective_from": s.effective_from, "effective_to": s.effective_to,
                      "time_of_use": s.tou is not None},
        )
        (added if created else unchanged).append(s.key)
    if added:
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="tariff_file", object_id=tfile.pk,
                     summary=f"tariff file {name}: " + ", ".join(added), at=as_of)
    return LoadResult(tfile.pk, added, unchanged)


def tariff_library_sync(*, as_of: datetime, actor: User | None = None) -> list[str]:
    """Load every shipped tariff file (src/gridcare/rating/library) not loaded yet; idempotent."""
    added: list[str] = []
    for path in sorted(library_dir().glob("*.yaml")):
        if path.name.startswith("pf-"):
            continue
        text = path.read_text(encoding="utf-8")
        if TariffFile.objects.filter(sha256=hashlib.sha256(text.encode("utf-8")).hexdigest()).exists():
            continue
        added += tariff_file_load(text=text, name=f"library/{path.name}", actor=actor, as_of=as_of).added
    return added


@transaction.atomic
def tariff_assign(*, account_id: int, tariff_code: str, effective_from: date, actor: User | None, as_of: datetime,
                  note: str = "") -> TariffAssignment:
    """Put an account on a tariff from a day. The account's current tariff follows the latest
    assignment in force; the billing run splits a period at a change."""
    account = Account.objects.select_for_update().filter(pk=account_id).first()
    if account is None:
        raise UnableToAssignTariff(f"account {account_id} not found", field="account_id")
    if not TariffSchedule.objects.filter(code=tariff_code).exists():
        raise UnableToAssignTariff(f"unknown tariff {tariff_code!r}; load its file first", field="tariff_code")
    if TariffAssignment.objects.filter(account=account, effective_from=effective_from).exists():
        raise UnableToAssignTariff(f"the account already has a tariff change on {effective_from}",
                                   field="effective_from")
    if not TariffAssignment.objects.filter(account=account).exists() and account.tariff_code:
        # Keep the tariff the account had before as the first assignment, so history is complete.
        TariffAssignment.objects.create(account=account, tariff_code=account.tariff_code,
                                        effective_from=account.opened_on, note="tariff at account opening",
                                        created_at=as_of)
    assignment = TariffAssignment.objects.create(
        account=account, tariff_code=tariff_code, effective_from=effective_from, note=note[:255], created_at=as_of,
        created_by=actor if actor is not None and actor.pk else None,
    )
    current = TariffAssignment.objects.filter(account=account, effective_from__lte=as_of.date()).order_by(
        "-effective_from").first()
    if current is not None and current.tariff_code != account.tariff_code:
        before = account.tariff_code
        Account.objects.filter(pk=account.pk).update(tariff_code=current.tariff_code)
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="account", object_id=account.pk,
                     summary=f"tariff {before} → {current.tariff_code}", before={"tariff_code": before},
                     after={"tariff_code": current.tariff_code}, at=as_of)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="tariff_assignment",
                 object_id=assignment.pk, summary=f"account {account.number}: {tariff_code} from {effective_from}",
                 at=as_of)
    return assignment
