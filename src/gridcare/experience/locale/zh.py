"""zh-Hans translation table of the experience app (models, web/templates/web/experience/); table only, nothing extracted.

Data only: `.venv/bin/python scripts/catalogue.py experience` writes zh_Hans/LC_MESSAGES/django.po and
compiles django.mo from it (see docs/decisions/0004-app-translation-catalogues.md).
"""

CONFIG = {
    "comment": (
        "zh_Hans translations of the experience app's strings. Generated from locale/zh.py by scripts/catalogue.py; do not edit."
    ),
    "extract": False,
}

ZH: dict[str | tuple[str, str], str] = {
    "Account": "户号",
    "Accounts ranked by negative-experience risk": "负面体验风险排名",
    "All bands": "全部等级",
    "Clear": "清除",
    "Computed": "计算于",
    "Customer": "客户",
    "Customer experience": "客户体验",
    "Customer portrait": "客户画像",
    "Customer tags": "客户标签",
    "Filter": "筛选",
    "High": "高",
    "Low": "低",
    "Main factors": "主要因素",
    "Medium": "中",
    "Negative-experience risk": "负面体验风险",
    "No risk scores yet. They are computed by the nightly experience refresh.":
        "尚无风险评分，由每晚的客户体验刷新任务计算。",
    "No tags": "无标签",
    "Org unit": "供电单位",
    "Risk band": "风险等级",
    "Score": "得分",
    "Tags": "标签",
    "band": "等级",
    "risk score": "风险评分",
    "tag": "标签",
    "the signal values that made the tag apply": "触发该标签的指标值",
    "signal values the reason text is filled with": "填入推荐理由的指标值",
    "[{code, signal, value, weight, cap, points}]": "[{因素, 指标, 数值, 权重, 上限, 得分}]",
}
