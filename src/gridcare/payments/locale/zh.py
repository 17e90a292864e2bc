"""zh-Hans translation table of the payments app (models, console and portal pages, views).

Data only: `.venv/bin/python scripts/catalogue.py payments` writes zh_Hans/LC_MESSAGES/django.po and
compiles django.mo from it (see docs/decisions/0004-app-translation-catalogues.md).
"""

CONFIG = {
    "comment": (
        "zh_Hans translations of the payments app's strings (models, console and portal pages under\n"
        "web/templates/web/payments/). Generated from locale/zh.py by scripts/catalogue.py; do not edit."
    ),
    "extract": True,
    "templates": ["src/gridcare/web/templates/web/payments/*.html"],
    "sources": [
        "src/gridcare/payments/**/*.py",
        "src/gridcare/web/views/payments.py",
        "src/gridcare/web/views/portal_payments.py",
    ],
}

ZH: dict[str | tuple[str, str], str] = {
    "%(d)s days overdue": "逾期 %(d)s 天",
    "A positive balance is owed by the customer; a negative balance is credit held for the customer.":
        "余额为正表示客户欠费，为负表示客户预存/溢缴余额。",
    "Account": "户号", "Account number": "户号", "Account statement": "对账单", "Active": "有效",
    "Agency collection": "代收", "Agency collection (代收)": "代收", "Already posted": "已入账",
    "Amount": "金额", "Amount (yuan)": "金额（元）", "Approvals": "审批", "Approve": "批准", "Approved": "已批准",
    "Balance": "余额", "Bank": "银行", "Bank and agency files": "银行与代收文件",
    "Bank auto-debit (批扣/代扣)": "银行批扣/代扣", "Bank auto-debit and agency collection files": "银行批扣与代收文件",
    "Bank card": "银行卡", "Bank debit result": "银行扣款结果", "Bank or agency": "银行或代收机构",
    "Bank transfer": "银行转账", "Batch": "批次", "Bill": "账单", "Bill credit note": "账单冲红",
    "Billed revenue": "电费收入", "Built-in test payment gateway": "内置测试支付网关", "Cancel": "取消",
    "Cancelled": "已取消", "Cash": "现金", "Cash counted": "实点现金", "Cash counted (yuan)": "实点现金（元）",
    "Cash tendered (yuan)": "实收现金（元）", "Cashier": "收费", "Cashier counter": "营业厅收费",
    "Channel": "渠道", "Charge (bill issued)": "应收（账单发行）", "Charges": "应收",
    "Close and print the daily report": "日结并打印报表", "Close the till": "日结",
    "Closing balance": "期末余额", "Confirm payment": "确认支付", "Counter (营业厅坐收)": "营业厅坐收",
    "Credit": "预存/溢缴余额", "Credit applied to charges": "余额抵扣", "Customer credit (预收/溢缴)": "预收/溢缴",
    "Daily till report": "收费日结报表", "Date": "日期", "Debit batches": "扣款批次",
    "Debit file %(name)s: %(count)s items.": "扣款文件 %(name)s：共 %(count)s 笔。", "Debited": "扣款成功",
    "Decision recorded.": "审批结果已记录。", "Description": "摘要", "Difference": "长短款",
    "Direct debit": "代扣", "Discount": "优惠抵扣", "Discounts (红包/积分)": "优惠（红包/积分）",
    "Due date": "缴费截止日", "Expected cash": "应有现金", "Expired": "已失效", "Failed": "失败",
    "Failed debits": "扣款失败", "Field": "字段", "File": "文件", "File kind": "文件类型", "Find account": "查询户号",
    "From": "起始日期", "Generate": "生成", "Generate a debit file": "生成扣款文件", "Generated": "已生成",
    "Import": "导入", "Import a result or collection file": "导入扣款结果或代收文件", "Item": "应收项",
    "Items": "笔数", "Kind": "类型", "Late fee": "违约金", "Late fee (违约金)": "违约金",
    "Late fees waived": "违约金减免", "Late-fee income (违约金)": "违约金收入", "Late-fee waiver": "违约金减免",
    "Line": "行号", "Method": "缴费方式", "Money in transit (by channel)": "在途资金（按渠道）",
    "My recent tills": "我的近期班次", "No account %(number)s in your area.": "您的管辖范围内没有户号 %(number)s。",
    "No accounts.": "没有户号。", "No entries in this period.": "本期间无记录。",
    "No payments in this till yet.": "本班次尚无收费记录。", "None.": "无。", "Note": "备注",
    "Nothing owed.": "无欠费。", "Nothing to debit at this bank.": "该银行暂无需要扣款的户。",
    "Nothing waiting.": "没有待审批事项。", "Oldest first": "先到期先冲抵", "Online gateway": "线上支付",
    "Online gateway (线上)": "线上缴费", "Open items": "未结清应收", "Open my till": "开班",
    "Open your till before taking payments.": "请先开班再收费。", "Opening balance": "期初余额",
    "Order": "订单号", "Outstanding": "未缴金额", "Overdue days": "逾期天数", "Owed": "欠费", "Paid": "已支付",
    "Pay": "缴费", "Pay in advance or another amount": "预存或缴纳其他金额", "Pay my electricity bills": "电费缴纳",
    "Pay this bill first": "优先冲抵账单", "Payer": "缴费人", "Payment": "缴费",
    "Payment %(receipt)s recorded; change %(change)s yuan.": "已收费，收据号 %(receipt)s，找零 %(change)s 元。",
    "Payment history": "缴费记录", "Payment received. Thank you.": "缴费成功，感谢您的支持。",
    "Payment reversal": "缴费冲正", "Payments": "缴费", "Payments and credits": "实收及冲减", "Pending": "待处理",
    "Period": "期间", "Please enter an amount in yuan with at most two decimals.": "请输入金额（元，最多两位小数）。",
    "Please give an amount and a reason.": "请填写金额和原因。", "Posted": "已入账",
    "Prepayment top-up (预存)": "预存充值", "Problem": "问题", "QR code": "扫码支付", "Reason": "原因",
    "Receipt": "收据", "Receivable (应收电费)": "应收电费", "Recent payments": "近期缴费",
    "Recently decided": "近期已审批", "Record payment": "确认收费", "Red packet (电费红包)": "电费红包",
    "Reference": "参考号", "Refund": "退费", "Refund of credit": "余额退费", "Refund the credit": "退还余额",
    "Refunds paid out": "已退费", "Refunds, reversals and waivers waiting for approval": "待审批的退费、冲正与违约金减免",
    "Reject": "驳回", "Rejected": "已驳回", "Rejected rows": "拒收行数", "Request": "申请",
    "Request a refund": "申请退费", "Request a reversal": "申请冲正",
    "Request sent for approval by a second person.": "申请已提交，待另一人审批。", "Requested by": "申请人",
    "Result imported": "结果已导入", "Returned payment": "退票/冲正应收", "Reversal": "冲正", "Reversed": "已冲正",
    "Reward points (积分)": "积分抵扣", "Rows": "行数", "Sent to bank": "已送银行", "Show": "查询", "Status": "状态",
    "Take a payment": "收费", "Test payment gateway": "测试支付网关",
    "The end must be after the start.": "截止日期须晚于起始日期。", "The payment was cancelled.": "支付已取消。",
    "This page stands in for a payment provider. It sends a signed callback exactly as a real gateway would; "
    "no money moves.": "本页面模拟第三方支付机构，按真实网关的方式发送签名回调，不会产生真实扣款。",
    "This payment was already recorded as %(receipt)s.": "该笔缴费已记录，收据号 %(receipt)s。",
    "Till closed.": "已日结。", "Till open: %(day)s, shift %(seq)s": "当前班次：%(day)s 第 %(seq)s 班",
    "Till opened.": "已开班。", "To (exclusive)": "截止日期（不含）", "Total": "合计", "Transfer reference": "转账流水号",
    "Two-person rule: nobody can approve their own request. Nothing is posted until approved.":
        "双人复核：申请人不能审批自己的申请；批准前不入账。",
    "You have no open till.": "您没有未日结的班次。", "amount (fen)": "金额（分）",
    "amount (fen); debit positive": "金额（分，借方为正）", "balance (fen)": "余额（分）", "business date": "营业日",
    "campaign": "活动", "clearing postings: which channel": "在途资金所属渠道", "closed": "已日结",
    "due date": "缴费截止日", "external reference": "外部参考号", "late fee: the charge it was assessed on": "违约金所属账单",
    "low-balance alert below (fen)": "余额不足提醒阈值（分）", "open": "未日结",
    "payment reference (缴费参考号)": "缴费参考号", "period": "账期",
    "positive: owed by the customer; negative: in credit": "正数为欠费，负数为预存/溢缴余额",
    "prepayment account (预付费)": "预付费户", "reference": "参考号",
    "source (gateway, bank or agency code)": "来源（网关、银行或代收机构代码）",
    "voucher or redemption reference": "券号或兑换流水号", "your own request": "本人申请", "yuan": "元",
}
