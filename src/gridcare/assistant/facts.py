"""Account-aware answers: the customer's own bills, balance, outages and requests, worded for chat.

Reads only, and only through the public selectors of the apps that own the data (billing, payments,
service, customers), always in the asking user's scope. Data that is not there (no bill issued yet,
no ledger account) gives an honest "I cannot see that" answer, never a guess.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from gridcare.access.models import User
from gridcare.assistant.engine import AccountAnswer
from gridcare.billing import selectors as billing_selectors
from gridcare.core.money import format_yuan
from gridcare.customers import selectors as customer_selectors
from gridcare.customers.models import Account
from gridcare.payments import selectors as payments_selectors
from gridcare.service import selectors as service_selectors
from gridcare.service.policy import service_policy

log = logging.getLogger(__name__)

CHANGE_LABELS = {"usage": "用电量变化", "price": "电价变化", "days": "计费天数不同", "tier": "阶梯电价", "other": "基本电费等其他费用"}
OUTAGE_KINDS = {"planned": "计划停电", "temporary": "临时停电", "fault": "故障停电"}
NOTICE_UNITS = {"minutes": "分钟", "hours": "小时", "days": "天", "working_days": "个工作日", "working_hours": "个工作小时"}
STATUS_LABELS = {"new": "已受理", "assigned": "已派单", "in_progress": "处理中", "waiting_customer": "待您补充",
                 "resolved": "已处理待确认", "closed": "已办结"}
_MONTH_RE = re.compile(r"(\d{1,2})\s*月")
_CN_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "十一": 11, "十二": 12}
_CN_MONTH_RE = re.compile(r"(十一|十二|[一二三四五六七八九十])月")


def _fen(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


def _kwh(wh: int) -> str:
    kwh = wh / 1000
    return f"{kwh:,.0f} 度" if kwh == int(kwh) else f"{kwh:,.2f} 度"


def _period_label(code: str) -> str:
    year, month = code.split("-")
    return f"{year}年{int(month)}月"


def asked_month(text: str) -> int | None:
    """The calendar month a question names ("9月", "九月"), if any."""
    m = _MONTH_RE.search(text or "")
    if m and 1 <= int(m.group(1)) <= 12:
        return int(m.group(1))
    m = _CN_MONTH_RE.search(text or "")
    return _CN_MONTHS.get(m.group(1)) if m else None


class AccountFacts:
    """`AccountContext` for one account, seen by one user, at one moment."""

    def __init__(self, *, user: User, account: Account, as_of: datetime, other_accounts: int = 0) -> None:
        self.user = user
        self.account = account
        self.as_of = as_of
        self.other_accounts = other_accounts

    # -- entry point ----------------------------------------------------------------------------------
    def answer(self, intent: str, text: str) -> AccountAnswer | None:
        handler = getattr(self, f"_{intent}", None)
        if handler is None:
            return None
        try:
            found = handler(text)
        except (ImportError, AttributeError, TypeError) as exc:
            # A sibling app changed or is half-built: say we cannot see the data rather than fail the chat.
            log.warning("assistant account answer %s failed: %s", intent, exc)
            return None
        if found is None:
            return None
        lead = f"户号 {self.account.number}"
        if self.other_accounts:
            lead += f"（您还可查询另外 {self.other_accounts} 个户号，可在上方切换）"
        return AccountAnswer(text=f"{lead}：{found.text}", data={"account": self.account.number, **found.data},
                             offer=found.offer, with_article=found.with_article)

    # -- bills ----------------------------------------------------------------------------------------
    def _bill(self, text: str):
        month = asked_month(text)
        if month is not None:
            points = [p for p in billing_selectors.bill_history(user=self.user, account_id=self.account.pk, months=24)
                      if int(p.period_code[5:7]) == month]
            return billing_selectors.bill_get(user=self.user, bill_id=points[-1].bill_id) if points else None
        return billing_selectors.latest_bill(user=self.user, account_id=self.account.pk)

    def _bill_amount(self, text: str) -> AccountAnswer | None:
        bill = self._bill(text)
        if bill is None:
            month = asked_month(text)
            when = f"{month}月的" if month else ""
            return AccountAnswer(text=f"暂未查到{when}已出账的电费账单。账单一般在抄表结算后发布，请稍后再查或以交费渠道显示为准。",
                                 data={"bill": None})
        parts = [f"{_period_label(bill.period_code)}电费 {_fen(bill.total_fen)}"]
        if bill.energy_wh:
            parts.append(f"计费电量 {_kwh(bill.energy_wh)}")
        parts.append(f"计费期 {bill.start_date:%m月%d日}至{bill.end_date:%m月%d日}（不含）")
        if bill.due_date:
            parts.append(f"缴费截止日 {bill.due_date:%Y年%m月%d日}")
        text_ = "，".join(parts) + "。"
        if bill.estimated:
            text_ += "本期电量为估抄，下次实抄后多退少补。"
        return AccountAnswer(text=text_, data={"bill": bill.number, "period": bill.period_code,
                                               "total_fen": bill.total_fen})

    def _bill_explain(self, text: str) -> AccountAnswer | None:
        bill = self._bill(text)
        if bill is None:
            return None
        change = billing_selectors.bill_change_explanation(user=self.user, bill_id=bill.pk)
        if change is None:
            return None
        if change.previous_bill_id is None:
            return AccountAnswer(text=f"{_period_label(bill.period_code)}电费 {_fen(bill.total_fen)}，"
                                      "没有上一期账单可以比较。", data={"bill": bill.number}, with_article=True)
        direction = "多" if change.change_fen >= 0 else "少"
        head = (f"{_period_label(bill.period_code)}电费 {_fen(change.total_fen)}，比上期 {_fen(change.previous_total_fen)}"
                f"{direction} {_fen(abs(change.change_fen))}。用电 {change.kwh:,.0f} 度（上期 {change.previous_kwh:,.0f} 度），"
                f"计费天数 {change.days} 天（上期 {change.previous_days} 天）。")
        parts = sorted((p for p in change.parts if p.amount_fen), key=lambda p: -abs(p.amount_fen))
        if parts:
            head += "变化主要来自：" + "；".join(
                f"{CHANGE_LABELS.get(p.key, p.key)} {'+' if p.amount_fen > 0 else '-'}{_fen(abs(p.amount_fen))}"
                for p in parts) + "。"
        return AccountAnswer(text=head, data={"bill": bill.number, "change_fen": change.change_fen,
                                              "parts": {p.key: p.amount_fen for p in change.parts}})

    # -- money owed -----------------------------------------------------------------------------------
    def _ledger(self) -> tuple[Any, list] | None:
        """(Balance, open items) from the receivables ledger, or None when payments cannot tell."""
        if payments_selectors.account_for(user=self.user, account_id=self.account.pk) is None:
            return None
        found = payments_selectors.account_balance(account_id=self.account.pk)
        if found is None:
            return None
        return found, payments_selectors.open_items(account_id=self.account.pk, as_of_date=self.as_of.date())

    def _owed_text(self) -> tuple[str, dict[str, Any]] | None:
        ledger = self._ledger()
        if ledger is None:
            bill = self._bill("")
            if bill is None:
                return None
            due = f"，缴费截止日 {bill.due_date:%Y年%m月%d日}" if bill.due_date else ""
            return (f"暂时无法查询实时欠费（交费数据尚未接入）。最近一期账单为{_period_label(bill.period_code)}电费 "
                    f"{_fen(bill.total_fen)}{due}，是否已交清请以交费渠道显示为准。",
                    {"balance_fen": None, "bill": bill.number})
        balance, items = ledger
        data = {"balance_fen": balance.balance_fen, "open_items": len(items)}
        if balance.balance_fen > 0:
            lines, fees = [], 0
            for item in items:
                charge = item.charge
                if charge.kind == "late_fee":
                    fees += item.outstanding_fen
                    continue
                label = (f"{_period_label(charge.period_code)}电费" if charge.kind == "bill" and charge.period_code
                         else str(charge.get_kind_display()))
                overdue = f"，已逾期 {item.overdue_days} 天" if item.overdue_days else f"，{charge.due_date:%m月%d日}到期"
                lines.append(f"{label} {_fen(item.outstanding_fen)}{overdue}")
            shown = lines[:3] + ([f"另有 {len(lines) - 3} 笔"] if len(lines) > 3 else [])
            if fees:
                shown.append(f"违约金合计 {_fen(fees)}")
            detail = f"（{'；'.join(shown)}）" if shown else ""
            data["late_fees_fen"] = fees
            return f"目前共欠费 {_fen(balance.balance_fen)}{detail}。", data
        if balance.credit_fen > 0:
            return f"目前没有欠费，账户预存余额 {_fen(balance.credit_fen)}。", data
        return "目前没有欠费。", data

    def _arrears(self, text: str) -> AccountAnswer | None:
        found = self._owed_text()
        return AccountAnswer(text=found[0], data=found[1]) if found else None

    _balance = _arrears

    def _reconnect(self, text: str) -> AccountAnswer | None:
        found = self._owed_text()
        return AccountAnswer(text=found[0], data=found[1], with_article=True) if found else None

    def _how_to_pay(self, text: str) -> AccountAnswer | None:
        found = self._owed_text()
        bill = self._bill("")
        ref = f"交费参考号 {bill.payment_reference}，" if bill is not None and bill.payment_reference else ""
        if found is None:
            return AccountAnswer(text=f"{ref}暂未查到已出账的账单。交费方式如下：", with_article=True)
        return AccountAnswer(text=f"{found[0]}{ref}可通过以下方式交费：", data=found[1], with_article=True)

    def _payment_history(self, text: str) -> AccountAnswer | None:
        rows = list(payments_selectors.payment_list(user=self.user, account_id=self.account.pk)[:5])
        if not rows:
            return AccountAnswer(text="暂未查到交费记录。", data={"payments": []})
        lines = [f"{p.received_at.astimezone(self.as_of.tzinfo):%Y-%m-%d} {_fen(p.amount_fen)}（{p.get_channel_display()}）"
                 for p in rows]
        return AccountAnswer(text="最近的交费记录：" + "；".join(lines) + "。", data={"payments": len(rows)})

    # -- outages and requests -------------------------------------------------------------------------
    def _outage(self, *, report: bool) -> AccountAnswer | None:
        points = list(customer_selectors.service_points_for_account(account=self.account))
        for point in points:
            outage = service_selectors.active_outage_for(grid_cell=point.grid_cell, as_of=self.as_of)
            if outage is not None:
                end = outage.end_at.astimezone(self.as_of.tzinfo)
                reason = f"，原因：{outage.reason}" if outage.reason else ""
                return AccountAnswer(
                    text=f"您的用电地址所在区域正在{OUTAGE_KINDS.get(outage.kind, '停电')}（{outage.title}{reason}），"
                         f"预计 {end:%m月%d日 %H:%M} 前恢复供电。抢修人员已在处理，无需重复报修。",
                    data={"outage": outage.pk, "grid_cell": point.grid_cell})
        if report:
            return AccountAnswer(
                text="系统未查到您所在区域的停电信息，可能是您家内部线路或空气开关跳闸。请先检查家中总开关和漏电保护器；"
                     "如果邻居家也没电或开关合不上，回复“好的”我为您登记报修工单，抢修人员会联系您。",
                data={"outage": None}, offer="repair")
        for point in points:
            upcoming = service_selectors.upcoming_outages_for(grid_cell=point.grid_cell, as_of=self.as_of)
            if upcoming:
                outage = upcoming[0]
                start = outage.start_at.astimezone(self.as_of.tzinfo)
                end = outage.end_at.astimezone(self.as_of.tzinfo)
                reason = f"，原因：{outage.reason}" if outage.reason else ""
                more = f"另有 {len(upcoming) - 1} 次停电安排，" if len(upcoming) > 1 else ""
                return AccountAnswer(
                    text=f"您的用电地址所在区域已公告{OUTAGE_KINDS.get(outage.kind, '停电')}：{start:%m月%d日 %H:%M} 至 "
                         f"{end:%m月%d日 %H:%M}（{outage.title}{reason}）。{more}请提前做好用电安排。",
                    data={"outage": outage.pk, "upcoming": len(upcoming), "grid_cell": point.grid_cell})
        notice = service_policy().outage.notice.get("planned")
        ahead = f"会提前 {notice.amount:g} {NOTICE_UNITS.get(notice.unit, notice.unit)}公告" if notice else "会提前公告"
        return AccountAnswer(text=f"目前没有查到影响您用电地址的停电，近期也没有停电安排。计划停电{ahead}。",
                             data={"outage": None, "upcoming": 0})

    def _outage_report(self, text: str) -> AccountAnswer | None:
        return self._outage(report=True)

    def _outage_info(self, text: str) -> AccountAnswer | None:
        return self._outage(report=False)

    def _account_number(self, text: str) -> AccountAnswer | None:
        accounts = list(customer_selectors.account_list(user=self.user, as_of=self.as_of.date())[:10])
        numbers = "、".join(a.number for a in accounts) or self.account.number
        return AccountAnswer(text=f"您可查询的户号：{numbers}。", data={"accounts": len(accounts)})

    def _progress_inquiry(self, text: str) -> AccountAnswer | None:
        if self.account.customer_id is None:
            return None
        orders = list(service_selectors.work_orders_for_customer(self.user, self.account.customer)[:5])
        if not orders:
            return AccountAnswer(text="暂未查到您的服务工单。", data={"orders": 0})
        lines = [f"{o.number}（{o.subject[:20]}，{STATUS_LABELS.get(o.status, o.get_status_display())}）" for o in orders]
        return AccountAnswer(text="您的工单：" + "；".join(lines) + "。", data={"orders": len(orders)})
