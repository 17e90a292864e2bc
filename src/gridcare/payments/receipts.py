"""Receipt (收据) and till-report PDFs with ReportLab.

Font: the same configured CJK font as the PDF bill (`billing.document.pdf_font`, configured in
billing/defaults.yaml `document.fonts`), so a company sets its font once for every document.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from gridcare.billing.document import pdf_font
from gridcare.core.money import format_yuan


def _rows(c: canvas.Canvas, font: str, x: float, y: float, rows: list[tuple[str, str]], size: int = 10) -> float:
    for label, value in rows:
        c.setFont(font, size)
        c.drawString(x, y, str(label))
        c.drawString(x + 32 * mm, y, str(value))
        y -= 6.5 * mm
    return y


def receipt_pdf(*, company: str, receipt_number: str, account_number: str, customer_name: str, amount_fen: int,
                method_label: str, received_at: str, cashier: str, counter: str, allocations: list[tuple[str, int]],
                credit_fen: int, tendered_fen: int | None, change_fen: int, reversed_: bool = False) -> bytes:
    font = pdf_font()
    buf = io.BytesIO()
    width, height = A5
    c = canvas.Canvas(buf, pagesize=A5, pageCompression=1)
    c.setTitle(f"收据 {receipt_number}")
    c.setFont(font, 15)
    c.drawCentredString(width / 2, height - 18 * mm, f"{company} 电费收据")
    c.setFont(font, 9)
    c.drawCentredString(width / 2, height - 25 * mm, f"收据号 {receipt_number}")
    rows = [("户号", account_number), ("户名", customer_name), ("缴费金额", f"¥ {format_yuan(amount_fen)}"),
            ("缴费方式", method_label), ("缴费时间", received_at), ("收费网点", counter), ("收费员", cashier)]
    if tendered_fen is not None:
        rows += [("实收现金", f"¥ {format_yuan(tendered_fen)}"), ("找零", f"¥ {format_yuan(change_fen)}")]
    y = _rows(c, font, 15 * mm, height - 38 * mm, rows)
    y -= 2 * mm
    c.setFont(font, 10)
    c.drawString(15 * mm, y, "本次缴费冲抵：")
    y -= 6.5 * mm
    for reference, fen in allocations:
        c.drawString(20 * mm, y, reference)
        c.drawRightString(width - 15 * mm, y, f"¥ {format_yuan(fen)}")
        y -= 6 * mm
    if credit_fen:
        c.drawString(20 * mm, y, "转入预存/溢缴余额")
        c.drawRightString(width - 15 * mm, y, f"¥ {format_yuan(credit_fen)}")
        y -= 6 * mm
    if reversed_:
        c.setFont(font, 28)
        c.setFillGray(0.6)
        c.drawCentredString(width / 2, height / 2, "已冲正")
        c.setFillGray(0)
    c.setFont(font, 8)
    c.drawString(15 * mm, 12 * mm, "本收据为缴费凭证，请妥善保管。电子收据与纸质收据具有同等效力。")
    c.showPage()
    c.save()
    return buf.getvalue()


def till_report_pdf(*, company: str, report: dict, method_labels: dict[str, str]) -> bytes:
    font = pdf_font()
    buf = io.BytesIO()
    width, height = A4
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(f"日结报表 {report.get('business_date')}")
    c.setFont(font, 16)
    c.drawCentredString(width / 2, height - 20 * mm, f"{company} 营业厅收费日结报表")
    rows = [("营业日", str(report.get("business_date"))), ("网点", str(report.get("org_unit"))),
            ("收费员", str(report.get("cashier"))), ("班次", str(report.get("seq"))),
            ("笔数", str(report.get("count"))), ("合计", f"¥ {format_yuan(report.get('total_fen', 0))}")]
    for method, v in sorted(report.get("by_method", {}).items()):
        rows.append((str(method_labels.get(method, method)), f"{v['count']} 笔  ¥ {format_yuan(v['amount_fen'])}"))
    rows += [("其中已冲正", f"{report['reversed']['count']} 笔  ¥ {format_yuan(report['reversed']['amount_fen'])}"),
             ("应有现金", f"¥ {format_yuan(report.get('expected_cash_fen', 0))}")]
    if "counted_cash_fen" in report:
        rows += [("实点现金", f"¥ {format_yuan(report['counted_cash_fen'])}"),
                 ("长短款", f"¥ {format_yuan(report['difference_fen'])}")]
    rows += [("收据号范围", f"{report.get('first_receipt')} – {report.get('last_receipt')}")]
    _rows(c, font, 20 * mm, height - 35 * mm, rows, size=11)
    c.showPage()
    c.save()
    return buf.getvalue()
