"""Demo billing parameters: free allowances for some Guangzhou households and a 定比 split for some
Guangdong C&I accounts, proposed by the demo billing clerk and approved by the demo approver.

Deterministic (the same accounts for a seed), idempotent (an account that already has the kind is
left alone), fast (bulk insert, one summary audit event). Load it after the master data and
before the first billing run, so the demo bills show the parameters.
"""

from __future__ import annotations

import random
from datetime import date, datetime

from django.db import transaction

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role
from gridcare.access.services import audit_record
from gridcare.customers.models import Account
from gridcare.parameters.config import default_config
from gridcare.parameters.models import BillingParameter
from gridcare.parameters.specs import parse_spec

ALLOWANCE_SHARE = 0.02  # of Guangzhou residential accounts (低保户/五保户)
SPLIT_SHARE = 0.05  # of Guangdong C&I accounts (a living quarter behind the meter)
SPLIT_SPEC = {"ratios": [{"percent": "90"}, {"percent": "10", "tariff": "gz-residential", "category": "residential",
                                              "label": "生活区定比"}]}


def _pick(account_ids: list[int], share: float, *, seed: int) -> list[int]:
    """The same `share` of the accounts for a seed (at least one when there are any), chosen by a
    per-account hash so adding accounts later leaves earlier picks mostly where they were."""
    if not account_ids:
        return []
    count = max(1, round(len(account_ids) * share))
    ranked = sorted(account_ids, key=lambda pk: (random.Random(f"{seed}:parameters:{pk}").random(), pk))
    return sorted(ranked[:count])


@transaction.atomic
def load_demo(*, seed: int, as_of: datetime) -> str:
    clerk = User.objects.filter(role=Role.BILLING_CLERK).order_by("pk").first()
    approver = User.objects.filter(role=Role.APPROVER).order_by("pk").first()
    if clerk is None or approver is None:
        return "no demo billing clerk and approver; load master data first"
    cfg = default_config()
    start = date(as_of.year, 1, 1)
    have = set(BillingParameter.objects.values_list("account_id", "kind"))
    by_tariff: dict[str, list[int]] = {"gz-residential": [], "gd-ci-tou-lt1kv": []}
    for pk, tariff in Account.objects.filter(status=Account.Status.ACTIVE, tariff_code__in=by_tariff).values_list(
            "pk", "tariff_code"):
        by_tariff[tariff].append(pk)
    allowance = _pick(by_tariff["gz-residential"], ALLOWANCE_SHARE, seed=seed)
    split = _pick(by_tariff["gd-ci-tou-lt1kv"], SPLIT_SHARE, seed=seed)
    rows = []
    for n, pk in enumerate(allowance):
        if (pk, "free_allowance") not in have:
            scheme = "subsistence" if n % 2 == 0 else "five_guarantee"
            rows.append((pk, "free_allowance", {"scheme": scheme}, "低保/五保证明（演示数据）"))
    for pk in split:
        if (pk, "split") not in have:
            rows.append((pk, "split", SPLIT_SPEC, "供用电合同约定生活区用电 10%（演示数据）"))
    for _pk, kind, spec, _reason in rows:
        parse_spec(kind, spec, config=cfg)  # the demo never stores what the engine would refuse
    BillingParameter.objects.bulk_create([
        BillingParameter(account_id=pk, kind=kind, version=1, effective_from=start, spec=spec, reason=reason,
                         status=BillingParameter.Status.APPROVED, proposed_by=clerk, proposed_at=as_of,
                         decided_by=approver, decided_at=as_of, decision_note="demo")
        for pk, kind, spec, reason in rows
    ])
    allowances = sum(1 for r in rows if r[1] == "free_allowance")
    summary = f"demo billing parameters: {allowances} free allowances, {len(rows) - allowances} splits"
    if rows:
        audit_record(actor=None, action=AuditEvent.Action.CREATE, object_type="billing_parameter", object_id="demo",
                     summary=summary, at=as_of)
    return summary
