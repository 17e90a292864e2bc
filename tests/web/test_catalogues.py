"""The zh-Hans catalogues agree with each other and their compiled .mo files.

Why: Django merges every app's catalogue with the project one (LOCALE_PATHS first, then
INSTALLED_APPS order), so two catalogues translating the same (context, msgid) differently make a
page's Chinese depend on catalogue order; a homonym needs a context instead (see
docs/decisions/0004-app-translation-catalogues.md). A .po edited without recompiling its .mo
changes nothing on the pages.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import polib
import pytest
from django.utils import translation

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "gridcare"
CATALOGUES = sorted(PACKAGE.glob("**/locale/zh_Hans/LC_MESSAGES/django.po"))


def _name(po: Path) -> str:
    app = po.relative_to(PACKAGE).parts[0]
    return "project" if app == "locale" else app


def _messages(catalogue) -> dict:
    """(context, msgid) -> translation (a tuple for plural forms), translated and not fuzzy."""
    out = {}
    for e in catalogue:
        if e.obsolete or "fuzzy" in e.flags or not e.msgid:
            continue
        text = tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural)) if e.msgid_plural else e.msgstr
        if text and (not isinstance(text, tuple) or all(text)):
            out[(e.msgctxt, e.msgid)] = text
    return out


def test_the_catalogues_are_found():
    names = {_name(p) for p in CATALOGUES}
    assert {"project", "billing", "payments", "service", "assistant"} <= names


def test_no_two_catalogues_translate_a_message_differently():
    seen: dict[tuple, dict[str, object]] = defaultdict(dict)
    for po in CATALOGUES:
        for key, text in _messages(polib.pofile(str(po))).items():
            seen[key][_name(po)] = text
    conflicts = {key: by for key, by in seen.items() if len(set(by.values())) > 1}
    assert conflicts == {}, (
        "the same message is translated differently; use one translation, or give the places a "
        "context (pgettext / {% translate … context … %}):\n"
        + "\n".join(f"  {ctx + '|' if ctx else ''}{msgid}: {by}" for (ctx, msgid), by in sorted(
            conflicts.items(), key=str)))


@pytest.mark.parametrize("po", CATALOGUES, ids=_name)
def test_the_compiled_catalogue_matches_its_source(po, tmp_path):
    expected = _messages(polib.pofile(str(po)))
    committed = _messages(polib.mofile(str(po.with_suffix(".mo"))))
    stale = {k: (committed.get(k), v) for k, v in expected.items() if committed.get(k) != v}
    extra = sorted(set(committed) - set(expected), key=str)
    assert not stale and not extra, (
        f"{po.with_suffix('.mo')} is out of date; run msgfmt -o django.mo django.po "
        f"(differs: {sorted(stale.items(), key=str)[:5]}, only in .mo: {extra[:5]})")
    if shutil.which("msgfmt"):  # GNU gettext accepts it (format strings included) and compiles the same set
        out = tmp_path / "django.mo"
        subprocess.run(["msgfmt", "--check-format", "-o", str(out), str(po)], check=True, capture_output=True)
        assert _messages(polib.mofile(str(out))) == committed


@pytest.mark.parametrize("table", sorted(PACKAGE.glob("*/locale/zh.py")), ids=lambda p: p.parent.parent.name)
def test_a_generated_catalogue_is_its_table(table):
    """scripts/catalogue.py writes these .po files from locale/zh.py; an edit made only in the .po would
    be undone by the next regeneration."""
    data = runpy.run_path(str(table))
    default = data["CONFIG"].get("context")
    rows = {(k if isinstance(k, tuple) else (default, k)): v for k, v in data["ZH"].items()}
    po = _messages(polib.pofile(str(table.parent / "zh_Hans" / "LC_MESSAGES" / "django.po")))
    assert {k: v for k, v in po.items() if rows.get(k) != v} == {}
    if data["CONFIG"].get("extract", True) is False:
        assert set(po) == set(rows)


def test_homonyms_read_by_their_place_whatever_the_catalogue_order():
    from gridcare.billing.models import BillingRun
    from gridcare.customers.models import Account, Customer
    from gridcare.kpi.models import KpiAlert
    from gridcare.metering.models import BillingPeriod
    from gridcare.web.forms import CustomerSearchForm

    with translation.override("zh-hans"):
        assert str(BillingPeriod.Status.CLOSED.label) == "已关账"
        assert str(BillingPeriod.Status.OPEN.label) == "未关账"
        assert str(Account.Status.CLOSED.label) == "销户"
        assert str(Account.Status.SUSPENDED.label) == "暂停"
        assert str(BillingRun.Status.RUNNING.label) == "执行中"
        assert str(BillingRun.Status.PENDING.label) == "待执行"
        assert str(KpiAlert.Status.OPEN.label) == "未处理"
        assert str(Customer._meta.get_field("kind").verbose_name) == "客户类型"
        assert str(CustomerSearchForm().fields["category"].label) == "用电类别"
        assert translation.gettext("Kind") == "类型"
        assert translation.pgettext("knowledge base", "Category") == "分类"
        assert translation.pgettext("bill document", "Customer") == "户名"
        assert translation.gettext("Customer") == "客户"
        assert translation.pgettext("service", "Closed") == "已归档"
