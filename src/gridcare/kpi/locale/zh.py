"""zh-Hans translation table of the KPI app (models, web/templates/web/kpi/, views); table only, nothing extracted.

Data only: `.venv/bin/python scripts/catalogue.py kpi` writes zh_Hans/LC_MESSAGES/django.po and
compiles django.mo from it (see docs/decisions/0004-app-translation-catalogues.md).
"""

CONFIG = {
    "comment": (
        "zh_Hans translations of the KPI app's strings. Generated from locale/zh.py by scripts/catalogue.py; do not edit."
    ),
    "extract": False,
}

ZH: dict[str | tuple[str, str], str] = {
    "Acknowledge": "确认",
    "Acknowledged": "已确认",
    "Acknowledged alerts": "已确认的告警",
    "Alert acknowledged.": "告警已确认。",
    "Below target": "未达目标",
    "By org unit": "按单位下钻",
    "Cleared": "已解除",
    "Critical": "严重",
    "KPI": "指标",
    "KPIs": "绩效指标",
    "Key performance indicators": "关键绩效指标",
    "Level": "级别",
    "No KPI snapshots for this period yet. Run: gridcare kpi compute --period YYYY-MM":
        "本期尚无指标快照。请运行：gridcare kpi compute --period YYYY-MM",
    "No data": "无数据",
    "No open alerts.": "没有未处理的告警。",
    "Note": "备注",
    "On target": "达标",
    "Open alerts": "未处理告警",
    "Org unit": "供电单位",
    "Show": "显示",
    "Source: T/CI 1281—2025 §9.1 table 1 and service-desk indicators; targets and alert thresholds are "
    "configurable.": "依据：T/CI 1281—2025 第9.1条表1及服务工单指标；目标值与告警阈值均可配置。",
    "Target": "目标",
    "Threshold": "阈值",
    "Value": "数值",
    "Warning": "预警",
    "h": "小时",
    "12-month trend": "近12个月趋势",
    "computed at": "计算时间",
    "data as of": "数据截至",
    "note": "备注",
    "raised at": "告警时间",
    "status": "状态",
    "value": "数值",
    "your role may not see KPIs (kpi.view)": "您的角色无权查看绩效指标（kpi.view）",
    ("KPI", "Open"): "未处理",
    ("KPI", "level"): "级别",
    ("KPI", "period"): "期间",
    ("KPI", "Period"): "期间",
}
