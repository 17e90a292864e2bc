"""The PDF bill (T/CI 1281 §7.5): ReportLab with a CJK font, built from a `BillDocument`.

Rendering only: no database writes, no clock (the document's dates come from the bill). The
same `BillDocument` drives the portal and console pages, so the PDF and the page never disagree.
"""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gridcare.billing.config import document_config
from gridcare.billing.models import Bill
from gridcare.billing.selectors import BillDocument
from gridcare.core.money import format_yuan

logger = logging.getLogger("gridcare.billing")
FONT_NAME = "GridcareCJK"
ACCENT = colors.HexColor("#0b5394")


@lru_cache(maxsize=1)
def pdf_font() -> str:
    """Register the first usable CJK font of the configuration; return its ReportLab name."""
    config = document_config()
    for path, index in config.fonts:
        if not Path(path).is_file():
            continue
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
        except (TTFError, OSError) as exc:
            logger.info("bill PDF font %s not usable by ReportLab: %s", path, exc)
            continue
        return FONT_NAME
    pdfmetrics.registerFont(UnicodeCIDFont(config.fallback_cid_font))
    return config.fallback_cid_font


def bucket_label(bucket: str) -> str:
    return {"sharp": _("Sharp peak"), "peak": _("Peak"), "flat": _("Flat"), "valley": _("Valley"),
            "deep_valley": _("Deep valley")}.get(bucket, bucket)


def change_label(key: str) -> str:
    return {"usage": _("Usage"), "price": _("Price"), "days": _("Days in period"), "tier": _("Tier"),
            "other": _("Other charges")}.get(key, key)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#555555")),
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=20, textColor=ACCENT),
        "h2": ParagraphStyle("h2", parent=base, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3,
                             textColor=ACCENT),
        "amount": ParagraphStyle("amount", parent=base, fontSize=18, leading=22, alignment=TA_RIGHT),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _explanation(line) -> str:
    return line.explanation_en if get_language() and get_language().startswith("en") else line.explanation_zh


def _grid(font: str) -> TableStyle:
    return TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, ACCENT),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ])


def _tou_chart(doc: BillDocument, font: str) -> Drawing:
    labels = [f"{bucket_label(s.bucket)} {s.percent}%" for s in doc.tou]
    drawing = Drawing(170 * mm, 12 * mm + 9 * mm * len(doc.tou))
    chart = HorizontalBarChart()
    chart.x, chart.y = 35 * mm, 6 * mm
    chart.width, chart.height = 120 * mm, 9 * mm * len(doc.tou)
    chart.data = [[float(s.kwh) for s in reversed(doc.tou)]]  # drawing coordinates only, never money
    chart.categoryAxis.categoryNames = list(reversed(labels))
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = ACCENT
    drawing.add(chart)
    drawing.add(String(35 * mm, 1 * mm, "kWh", fontName=font, fontSize=7))
    return drawing


def _history_chart(doc: BillDocument, font: str) -> Drawing:
    drawing = Drawing(170 * mm, 55 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 15 * mm, 10 * mm
    chart.width, chart.height = 150 * mm, 38 * mm
    chart.data = [[h.total_fen / 100 for h in doc.history]]  # bar heights only
    chart.categoryAxis.categoryNames = [h.period_code[2:] for h in doc.history]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#6fa8dc")
    for i, h in enumerate(doc.history):
        if h.bill_id == doc.bill.pk or (doc.replaced_by and h.bill_id == doc.replaced_by.pk):
            chart.bars[(0, i)].fillColor = ACCENT
    drawing.add(chart)
    drawing.add(String(15 * mm, 50 * mm, _("Amount (yuan) per period"), fontName=font, fontSize=7))
    return drawing


def bill_pdf(*, document: BillDocument) -> bytes:
    """Render the bill as an A4 PDF."""
    font = pdf_font()
    st = _styles(font)
    bill = document.bill
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=f"{bill.number}", author=document.company,
                            subject=_("Electricity bill"))
    is_adjustment = bill.kind == Bill.Kind.ADJUSTMENT
    is_credit = bill.kind == Bill.Kind.CREDIT or (is_adjustment and bill.total_fen < 0)
    title = (_("Back-billing adjustment bill") if is_adjustment
             else _("Credit note") if is_credit else _("Electricity bill"))
    story: list = [
        _p(document.company, st["h2"]),
        _p(title, st["title"]),
        Spacer(1, 3 * mm),
    ]
    info = [
        (_("Account number"), bill.account.number, _("Bill number"), bill.number),
        (pgettext("bill document", "Customer"), document.customer_name, _("Version"), str(bill.version)),
        (pgettext("bill document", "Address"), document.address, _("Billing period"), bill.period_code),
        (_("Tariff"), bill.tariff_code, pgettext("bill document", "Dates"), f"{bill.start_date} – {document.last_day}"),
        (_("Issued on"), bill.issued_at.date().isoformat() if bill.issued_at else _("not issued"),
         _("Energy (kWh)"), f"{document.kwh:,.3f}".rstrip("0").rstrip(".")),
    ]
    table = Table([[_p(a, st["small"]), _p(b, st["base"]), _p(c, st["small"]), _p(d, st["base"])] for a, b, c, d in info],
                  colWidths=[22 * mm, 68 * mm, 22 * mm, 66 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    story += [table, Spacer(1, 3 * mm)]

    due = bill.due_date.isoformat() if bill.due_date else "—"
    amount_label = (_("Amount refunded") if is_adjustment and is_credit
                    else _("Amount credited") if is_credit else _("Amount due"))
    box = Table([[_p(amount_label, st["base"]), _p(f"¥ {format_yuan(bill.total_fen)}", st["amount"])],
                 [_p(_("Due date"), st["small"]), _p(due, st["right"])],
                 [_p(_("Payment reference"), st["small"]), _p(bill.payment_reference, st["right"])]],
                colWidths=[60 * mm, 118 * mm])
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.8, ACCENT), ("BACKGROUND", (0, 0), (-1, -1),
                                                                       colors.HexColor("#f3f6fb")),
                             ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [box, Spacer(1, 2 * mm)]

    if is_adjustment:
        story.append(_p(_("Back-billing (退补): the periods below were re-rated with corrected parameters and "
                          "only the difference is billed here; each line names the issued bill it corrects. "
                          "Corrects: %(bills)s. Case and reason: %(reason)s")
                        % {"bills": "、".join(f"{a.number} ({a.period_code})" for a in document.adjusted) or "—",
                           "reason": bill.reason}, st["base"]))
    elif bill.corrects_id:
        note = (_("This credit note reverses bill %(number)s. Reason: %(reason)s") if is_credit
                else _("This bill replaces bill %(number)s. Reason: %(reason)s"))
        story.append(_p(note % {"number": bill.corrects.number, "reason": bill.reason}, st["base"]))
    if document.replaced_by is not None:
        story.append(_p(_("This bill was corrected by %(number)s.") % {"number": document.replaced_by.number},
                        st["base"]))

    story.append(_p(pgettext("bill document", "Charges"), st["h2"]))
    rows = [[_p(pgettext("bill document", "Item"), st["small"]), _p(_("Quantity"), st["small"]), _p(_("Unit price (yuan)"), st["small"]),
             _p(_("Amount (yuan)"), st["small"])]]
    for line in document.lines:
        price = line.unit_price.normalize() if line.unit_price else Decimal(0)
        item = [_p(_explanation(line) or line.line_code, st["base"])]
        if line.rule:
            item.append(_p(line.rule, st["small"]))
        rows.append([item, _p(f"{line.quantity.normalize():f} {line.unit}", st["right"]),
                     _p(f"{price:f}", st["right"]), _p(format_yuan(line.amount_fen), st["right"])])
    rows.append([_p(_("Total"), st["base"]), "", "", _p(format_yuan(bill.total_fen), st["right"])])
    lines_table = Table(rows, colWidths=[98 * mm, 28 * mm, 26 * mm, 26 * mm], repeatRows=1)
    lines_table.setStyle(_grid(font))
    story.append(lines_table)

    if document.reads:
        story.append(_p(_("Meter reads"), st["h2"]))
        rows = [[_p(h, st["small"]) for h in (_("Meter"), _("Register"), _("Opening"), _("Closing"), _("Multiplier"),
                                               _("kWh"), _("Read status"))]]
        for r in document.reads:
            start = "—" if r.start_value is None else f"{Decimal(r.start_value) / 1000:f}"
            rows.append([_p(r.asset_number, st["base"]), _p(r.register, st["base"]), _p(start, st["right"]),
                         _p(f"{Decimal(r.end_value) / 1000:f}", st["right"]), _p(f"{r.multiplier.normalize():f}",
                                                                                  st["right"]),
                         _p(f"{(Decimal(r.advance_milli) * r.multiplier / 1000).normalize():f}", st["right"]),
                         _p(_("estimated") if r.end_status == "estimated" else _("actual"), st["base"])])
        reads_table = Table(rows, colWidths=[30 * mm, 20 * mm, 28 * mm, 28 * mm, 20 * mm, 28 * mm, 24 * mm])
        reads_table.setStyle(_grid(font))
        story.append(reads_table)

    if document.tou:
        story.append(KeepTogether([_p(_("Time-of-use breakdown"), st["h2"]), _tou_chart(document, font)]))
    if document.history:
        story.append(KeepTogether([_p(_("Last 12 months"), st["h2"]), _history_chart(document, font)]))
    if document.change is not None and document.change.previous_bill_id is not None:
        c = document.change
        parts = "；".join(f"{change_label(p.key)} {format_yuan(p.amount_fen)}" for p in c.parts if p.amount_fen)
        story.append(_p(_("Why did my bill change"), st["h2"]))
        story.append(_p(_("Against last period: %(change)s yuan (%(kwh)s kWh in %(days)s days against %(pkwh)s kWh "
                          "in %(pdays)s days). %(parts)s")
                        % {"change": format_yuan(c.change_fen), "kwh": c.kwh.normalize(), "days": c.days,
                           "pkwh": c.previous_kwh.normalize(), "pdays": c.previous_days, "parts": parts},
                        st["base"]))
    story += [Spacer(1, 4 * mm), _p(_("Pay with the payment reference at any channel; questions: call the service "
                                      "hotline or ask in the portal."), st["small"])]
    pdf.build(story)
    return buffer.getvalue()
