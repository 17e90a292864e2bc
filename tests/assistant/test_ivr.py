"""IVR flows as data and the text simulator."""

from __future__ import annotations

import pytest

from gridcare.assistant.ivr import get_flow, parse_flow, simulate, tree
from gridcare.core.errors import NotFound, ValidationFailed


def test_shipped_flow_is_valid_and_no_deeper_than_three_menus():
    flow = get_flow("95598")
    depth = flow.depth()
    assert max(d for n, d in depth.items() if flow.nodes[n].kind == "menu") <= 3
    assert set(depth) == set(flow.nodes)  # every node reachable


def test_a_person_is_one_key_away_from_every_menu():
    flow = get_flow("95598")
    for node in flow.nodes.values():
        if node.kind == "menu":
            assert flow.nodes[node.options["0"]].kind == "transfer", node.id


def test_bill_query_walks_to_the_account_answer():
    answers = []
    session = simulate(get_flow("95598"), "2,1", account_answer=lambda intent: answers.append(intent) or "上月电费 100 元")
    assert answers == ["bill_amount"]
    said = [text for who, text in session.transcript if who == "ivr"]
    assert said[-2:] == ["上月电费 100 元", get_flow("95598").nodes["end_menu"].prompt]
    assert not session.ended


def test_article_node_reads_the_article():
    session = simulate(get_flow("95598"), ["2", "4", "2"], article_text=lambda a: f"ARTICLE {a}")
    assert ("ivr", "ARTICLE tariff-006") in session.transcript


def test_wrong_keys_repeat_the_prompt_then_transfer():
    flow = get_flow("95598")
    session = simulate(flow, "9")
    assert session.transcript[-2:] == [("ivr", "输入有误，请重新选择。"), ("ivr", flow.nodes["main"].prompt)]
    session = simulate(flow, "9 9 9 1")
    assert (session.ended, session.transferred_to) == (True, "general")
    assert session.transcript[-1] == ("ivr", "输入有误次数过多，正在为您转接人工客服。")


def test_complaint_goes_to_the_complaint_queue_and_hangup_ends():
    assert simulate(get_flow("95598"), "5").transferred_to == "complaint"
    session = simulate(get_flow("95598"), "2 1 #")
    assert session.ended and session.transferred_to == ""


def test_tree_marks_loops():
    rows = tree(get_flow("95598"))
    assert rows[0]["node"].id == "main"

    def loops(row):
        return int(row["loop"]) + sum(loops(c) for c in row["children"])

    assert loops(rows[0]) > 0


def test_bad_flow_is_refused_with_every_problem():
    with pytest.raises(ValidationFailed) as err:
        parse_flow({"start": "a", "nodes": {"a": {"kind": "menu", "prompt": "p", "options": {"1": "b", "x": "a"}},
                                            "c": {"kind": "say"}}}, origin="bad.yaml")
    msg = err.value.message
    assert "option keys ['x'] are not phone keys" in msg
    assert "goes to unknown node 'b'" in msg
    assert "node c: say needs next" in msg


def test_unknown_flow():
    with pytest.raises(NotFound):
        get_flow("12345")
