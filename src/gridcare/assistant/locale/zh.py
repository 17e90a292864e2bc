"""zh-Hans translation table of the assistant app (models, console and portal pages, views).

Data only: `.venv/bin/python scripts/catalogue.py assistant` writes zh_Hans/LC_MESSAGES/django.po and
compiles django.mo from it (see docs/decisions/0004-app-translation-catalogues.md).
"""

CONFIG = {
    "comment": (
        "zh_Hans translations of the assistant app's strings (models, console and portal pages under\n"
        "web/templates/web/assistant/). Generated from locale/zh.py by scripts/catalogue.py; do not edit."
    ),
    "extract": True,
    "templates": ["src/gridcare/web/templates/web/assistant/*.html"],
    "sources": [
        "src/gridcare/assistant/**/*.py",
        "src/gridcare/web/views/assistant.py",
        "src/gridcare/web/views/portal_assistant.py",
    ],
}

ZH: dict[str | tuple[str, str], str] = {
    "%(n)s contacts inspected, %(r)s waiting for review.": "已质检 %(n)s 次服务，%(r)s 次待复核。",
    "%(n)s nodes": "%(n)s 个节点",
    "%(n)s nodes, menus at most %(d)s levels deep; after %(r)s wrong keys the caller is transferred to a person.":
        "共 %(n)s 个节点，菜单最深 %(d)s 层；连续按错 %(r)s 次以上转人工。",
    "%(p)s published · %(r)s in review · %(d)s drafts": "已发布 %(p)s · 待审核 %(r)s · 草稿 %(d)s",
    "(not published yet)": "（尚未发布）",
    "Account": "户号", "Account query": "按户号查询", "Agent": "坐席", "All": "全部",
    "Answer based on": "答复依据", "Any status": "任意状态", "Approve and publish": "审核通过并发布",
    "Archive": "下架", "Archived": "已下架", "Archived.": "已下架。", "Article": "知识", "Articles": "知识条目",
    "Ask the assistant": "问智能客服", "Assistant": "智能客服", "Assistant conversations": "智能客服会话",
    "Author": "编写人", "Average": "平均分", "Body": "正文", "Call": "电话", "Call ended.": "通话结束。",
    "Caller presses": "来电按键", "Cancel": "取消", "Change note": "修改说明",
    "Changes are saved as a draft. A second person reviews and publishes it; customers see the published version "
    "until then.": "修改保存为草稿，由另一人审核后发布；发布前客户看到的仍是已发布版本。",
    "Channel": "渠道", "Chat": "在线文字", "Contact": "服务记录", "Contacts of %(agent)s": "%(agent)s 的服务记录",
    "Conversation": "会话", "Customer": "客户", "Draft": "草稿",
    "Draft saved. Submit it for review when it is ready.": "草稿已保存，完成后请提交审核。",
    "Edit": "编辑", "Edit article": "编辑知识", "English name": "英文名称", "Final score": "复核得分",
    "Findings": "扣分项", "Handed over": "已转人工",
    "Hello! I can look up your bills, arrears and outages, and answer questions about prices and services. "
    "Ask me anything, or press “Talk to a person”.":
        "您好！我可以查询您的电费、欠费和停电信息，解答电价和业务办理问题。请直接提问，或点击“转人工”。",
    "Help centre": "帮助中心", "IVR flows": "IVR 语音导航", "In review": "待审核", "Inspected": "质检数",
    "Intent": "意图", "Key": "编号", "Keys": "按键", "Keys, e.g. 2,1": "按键，例如 2,1", "Knowledge base": "知识库",
    "Message": "消息", "Messages": "消息数", "Most failed rules": "主要扣分规则", "New article": "新建知识",
    "New conversation": "新会话", "No articles match.": "没有匹配的知识。",
    "No articles match. Try other words, or ask the assistant.": "没有找到相关内容，换个说法试试，或问问智能客服。",
    "No conversations yet.": "暂无会话。", "No findings.": "无扣分项。", "No inspections yet.": "暂无质检记录。",
    "Nothing waiting for review.": "没有待审核的内容。", "Online assistant": "在线智能客服",
    "Passed": "合格", "Published": "已发布", "Published version": "发布版本",
    "Published version v%(n)s": "发布版本 v%(n)s", "Published.": "已发布。", "Quality inspection": "智能质检",
    "Question or keywords": "问题或关键词", "Queue": "队列", "Reason (required)": "退回原因（必填）",
    "Register it": "登记工单", "Report a fault": "登记报修", "Restore": "恢复上架", "Restored.": "已恢复上架。",
    "Return to author": "退回修改", "Returned to the author.": "已退回编写人修改。", "Review note": "复核意见",
    "Review note (optional)": "审核意见（选填）", "Review queue": "待审核", "Review saved.": "复核结果已保存。",
    "Reviewed": "已复核", "Reviewer": "审核人", "Reviewer's note": "审核意见", "Save draft": "保存草稿",
    "Save review": "保存复核", "Score": "得分", "Scores per agent": "坐席得分", "Search": "查询", "Send": "发送",
    "Shipped with gridcare": "随系统发布", "Similar questions": "相似问法",
    "Similar questions (one per line)": "相似问法（每行一个）", "Simulator": "模拟拨打",
    "Started": "开始时间", "Status": "状态", "Still need help? Ask the assistant": "还有疑问？问问智能客服",
    "Submit for review": "提交审核", "Submitted": "提交时间", "Submitted for review.": "已提交审核。",
    "Superseded": "已被替代", "Tags (comma separated)": "标签（逗号分隔）", "Talk to a person": "转人工",
    "Time": "时间", "Title": "标题", "Transferred to queue": "已转接队列", "Updated": "更新时间",
    "Versions": "版本记录", "Waiting for review": "待复核", "Work order": "工单", "Written here": "本地编写",
    "Your question": "您的问题", "agent": "坐席", "archived": "已下架", "author": "编写人",
    "automatic score": "自动评分", "back to": "返回", "body": "正文", "change note": "修改说明",
    "channel": "渠道", "code": "编码", "content hash: a sync that finds it unchanged does nothing":
        "内容摘要：同步时内容未变则不做任何修改", "e.g. How much was my bill last month?": "例如：上个月电费多少？",
    "external id": "外部编号", "final score": "复核得分", "hand-over reason": "转人工原因", "key": "编号",
    "name": "名称", "origin": "来源", "published version": "发布版本", "review note": "审核意见",
    "reviewer": "审核人", "score": "得分", "shipped corpus": "随系统发布", "similar questions": "相似问法",
    "started at": "开始时间", "status": "状态", "tags": "标签", "title": "标题",
    "version": "版本", "version %(n)s, published %(d)s": "第 %(n)s 版，%(d)s 发布", "work order": "工单",
    ("knowledge base", "Category"): "分类",
    ("knowledge base", "All categories"): "全部分类",
    ("knowledge base", "category"): "分类",
    ("knowledge base", "Source"): "依据来源",
    ("knowledge base", "source"): "依据来源",
    ("conversation", "Open"): "进行中",
    ("conversation", "From"): "发送方",
    ("IVR", "Call"): "呼叫",
}
