"""Tags, negative-experience risk and recommendations from billing, payments and service records."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.core.errors import ValidationFailed
from gridcare.experience import selectors
from gridcare.experience.models import CustomerTag, Recommendation, RiskScore
from gridcare.experience.policy import parse_rules
from gridcare.experience.services import experience_refresh
from gridcare.experience.signals import SIGNALS
from tests.collections.ledger_helpers import pay
from tests.experience.conftest import AS_OF
from tests.kpi.conftest import at

pytestmark = pytest.mark.django_db


def _tags(account) -> dict[str, dict]:
    return {t.code: t.evidence for t in CustomerTag.objects.filter(account=account)}


def test_tags_from_the_rules(world):
    result = experience_refresh(as_of=AS_OF)
    assert result.accounts == 3
    assert _tags(world.home) == {"high_value": {"billed_fen_12m": 600_000},
                                 "arrears_risk": {"overdue_fen": 100_500, "late_fees_12m": 1},  # bill + late fee
                                 "frequent_caller": {"contacts_90d": 3},
                                 "complaint_sensitive": {"complaints_365d": 1}}
    assert set(_tags(world.shop)) == {"auto_debit", "prepaid"}
    assert set(_tags(world.flat)) == {"e_bill"}


def test_risk_score_is_explained_by_its_factors(world):
    experience_refresh(as_of=AS_OF)
    risk = RiskScore.objects.get(account=world.home)
    assert (risk.score, risk.band) == (60, "high")
    assert [(f["code"], f["value"], f["points"]) for f in risk.factors] == [
        ("repeated_contacts", 3, 24), ("open_complaints", 1, 20), ("overdue", 1, 10), ("arrears", 1, 6)]
    assert (RiskScore.objects.get(account=world.flat).score, RiskScore.objects.get(account=world.flat).band) == (0, "low")


def test_recommendations_with_reasons(world):
    experience_refresh(as_of=AS_OF)
    assert set(Recommendation.objects.filter(account=world.home).values_list("code", flat=True)) == {
        "auto_debit", "e_bill", "tou_advice", "care_call"}
    assert set(Recommendation.objects.filter(account=world.shop).values_list("code", flat=True)) == {"e_bill"}
    assert not Recommendation.objects.filter(account=world.flat).exists()
    [portrait] = selectors.portraits(user=world.sup_gz, account_ids=[world.home.pk])
    reasons = {r.code: r.reason for r in portrait.recommendations}
    assert reasons["tou_advice"].startswith("6000 yuan billed in 12 months")
    assert reasons["auto_debit"] == "1 late fee(s) in the last 12 months; auto-debit avoids paying late."


def test_refresh_is_idempotent_and_follows_the_data(world):
    experience_refresh(as_of=AS_OF)
    experience_refresh(as_of=AS_OF)
    assert CustomerTag.objects.count() == 7 and RiskScore.objects.count() == 3
    pay(world.home, 100_500, on=date(2026, 11, 6))
    experience_refresh(as_of=at(2026, 11, 7))
    assert "arrears_risk" not in _tags(world.home)  # paid up; one late fee is below the rule's two
    assert RiskScore.objects.get(account=world.home).score == 50


def test_risk_list_is_scoped_to_the_org_subtree(world):
    experience_refresh(as_of=AS_OF)
    assert [r.account.number for r in selectors.risk_list(user=world.sup_gz)] == ["1000000001", "1000000002"]
    assert [r.account.number for r in selectors.risk_list(user=world.sup_sz)] == ["2000000001"]
    assert [r.account.number for r in selectors.risk_list(user=world.admin, band="high")] == ["1000000001"]
    assert selectors.portraits(user=world.sup_sz, account_ids=[world.home.pk]) == []


def test_a_rule_naming_an_unknown_signal_is_refused():
    with pytest.raises(ValidationFailed) as err:
        parse_rules({"tags": [{"code": "x", "any": [{"signal": "nope", "min": 1}]}]}, signals=frozenset(SIGNALS))
    assert "nope" in err.value.message
