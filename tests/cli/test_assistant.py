"""`gridcare assistant ...`: offline commands from the packaged files, and the two database commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import gridcare.cli.assistant  # noqa: F401 - registers the commands
from gridcare.cli.app import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_ask_answers_with_the_article_as_json():
    result = runner.invoke(app, ["assistant", "ask", "--json", "峰谷电价怎么取消"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert (reply["kind"], reply["article"]) == ("answer", "change-006")


def test_ask_reads_a_conversation_from_stdin():
    result = runner.invoke(app, ["assistant", "ask", "--json"], input="我要投诉抄表员态度差\n好的\n")
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.strip().splitlines())
    assert (first["kind"], second["handover"]) == ("ticket", "ticket")


def test_ivr_simulator_with_keys():
    result = runner.invoke(app, ["assistant", "ivr", "--keys", "5"])
    assert result.exit_code == 0, result.output
    assert "caller> 5" in result.stdout
    assert "[transferred to queue: complaint]" in result.stdout


def test_ivr_unknown_flow_is_a_clear_error():
    result = runner.invoke(app, ["assistant", "ivr", "nope"])
    assert result.exit_code == 2
    assert "no IVR flow 'nope'" in result.output


def test_corpus_check_passes_for_the_committed_corpus():
    result = runner.invoke(app, ["assistant", "corpus", "--check"])
    assert result.exit_code == 0, result.output
    assert "corpus up to date: 3092 utterances" in result.output


def test_evaluate_reports_held_out_figures(tmp_path):
    report = tmp_path / "eval.md"
    result = runner.invoke(app, ["assistant", "evaluate", "--json", "--markdown", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["classifier"]["n"] == 773
    assert data["classifier"]["accuracy"] >= 0.9
    assert len(data["classifier"]["confusion"]) == len(data["classifier"]["labels"])
    assert data["retrieval"]["top1"] >= 0.92
    text = report.read_text(encoding="utf-8")
    assert "## Confusion matrix" in text and "| top-1 intent accuracy |" in text


@pytest.mark.django_db
def test_kb_sync_and_qa_import(tmp_path, settings):
    from gridcare.assistant.demo import transcripts
    from gridcare.assistant.models import Article, Inspection
    from tests.assistant.fixtures import AS_OF

    first = runner.invoke(app, ["assistant", "kb-sync"])
    assert first.exit_code == 0, first.output
    count = Article.objects.count()
    assert count >= 150
    again = runner.invoke(app, ["assistant", "kb-sync"])
    assert f"0 new, 0 updated, {count} unchanged" in again.output

    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(t, ensure_ascii=False) for t in transcripts(seed=1, as_of=AS_OF, n=5)),
                    encoding="utf-8")
    result = runner.invoke(app, ["assistant", "qa-import", str(path)])
    assert result.exit_code == 0, result.output
    assert Inspection.objects.count() == 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    result = runner.invoke(app, ["assistant", "qa-import", str(bad)])
    assert result.exit_code == 2
    assert "line 2: not JSON" in result.output
    assert Inspection.objects.count() == 5
