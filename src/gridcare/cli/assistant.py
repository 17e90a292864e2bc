"""`gridcare assistant ...`: corpus, training and evaluation of the offline assistant, a command-line
chat, the IVR text simulator, the knowledge-base sync and transcript import for quality inspection.

Everything except `kb-sync` and `qa-import` runs from the packaged files alone, without a database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app, setup_django

assistant_app = typer.Typer(help="Knowledge base, intent classifier, IVR simulator, quality inspection.",
                            no_args_is_help=True)
app.add_typer(assistant_app, name="assistant")
err = Console(stderr=True)


@assistant_app.command("corpus")
def corpus_cmd(
    seed: int = typer.Option(None, "--seed", help="generator seed (default: the committed corpus's)"),
    check: bool = typer.Option(False, "--check", help="only verify the committed corpus is up to date"),
) -> None:
    """Regenerate data/corpus/utterances.jsonl from templates.yaml + handwritten.tsv (deterministic)."""
    from gridcare.assistant import corpus

    rows = corpus.generate(seed=seed if seed is not None else corpus.DEFAULT_SEED)
    if check:
        committed = corpus.read_jsonl()
        if [r.__dict__ for r in rows] != [r.__dict__ for r in committed]:
            err.print("[bold red]the committed corpus differs from the generator's output[/]")
            raise typer.Exit(1)
        err.print(f"corpus up to date: {len(rows)} utterances")
        return
    n = corpus.write_jsonl(rows, corpus.corpus_path())
    test = sum(r.split == "test" for r in rows)
    err.print(f"wrote {n} utterances ({n - test} train, {test} held out) to {corpus.corpus_path()}")


def _evaluation(rows, model, *, theme: bool):
    from gridcare.assistant import classifier, corpus

    ev = classifier.evaluate(model, rows)
    theme_ev = None
    if theme:
        split = corpus.theme_split(rows)
        theme_ev = classifier.evaluate(classifier.IntentClassifier.train(split, c=model.meta.get("c", 1.0)), split)
    return ev, theme_ev


def _print_summary(ev, theme_ev=None) -> None:
    table = Table(title="held-out evaluation (whole templates unseen in training)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("utterances", str(ev.n))
    table.add_row("top-1 intent accuracy", f"{ev.accuracy:.3f}")
    table.add_row("macro-F1", f"{ev.macro_f1:.3f}")
    table.add_row("level-1 type accuracy", f"{ev.level1_accuracy:.3f}")
    table.add_row(f"complaint category accuracy ({ev.complaint_n})", f"{ev.complaint_accuracy:.3f}")
    for src, n, acc in ev.by_source:
        table.add_row(f"accuracy, {src} ({n})", f"{acc:.3f}")
    if theme_ev is not None:
        table.add_row(f"whole sub-topics held out ({theme_ev.n})", f"{theme_ev.accuracy:.3f}")
    Console().print(table)


@assistant_app.command("train")
def train_cmd(
    c: float = typer.Option(1.0, "--c", min=0.001, help="LinearSVC regularisation"),
    output: Path = typer.Option(None, "--output", "-o", help="where to save (default: the packaged model)"),
    save: bool = typer.Option(True, "--save/--no-save", help="save the model"),
) -> None:
    """Train the intent + complaint classifier on the corpus's training split and report held-out figures.

    Reproducible: the same corpus and C give the same weights (fixed solver seed, unshuffled folds)."""
    from gridcare.assistant import classifier, corpus

    rows = corpus.read_jsonl()
    with err.status("training"):
        model = classifier.IntentClassifier.train(rows, c=c)
    err.print(f"trained on {model.meta['train_rows']} utterances in {model.meta['train_seconds']} s "
              f"(corpus {model.meta['corpus']})")
    ev, _ = _evaluation(rows, model, theme=False)
    _print_summary(ev)
    if save:
        path = model.save(output)
        err.print(f"saved {path}")
        classifier.shipped.cache_clear()


@assistant_app.command("evaluate")
def evaluate_cmd(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    markdown: Path = typer.Option(None, "--markdown", help="write the full report (with confusion matrix) here"),
    theme: bool = typer.Option(False, "--theme", help="also retrain with whole sub-topics held out (stricter)"),
) -> None:
    """Evaluate the packaged model on the held-out split, retrieval and full answers on the question set."""
    from gridcare.assistant import classifier, corpus, evaluation
    from gridcare.assistant.engine import shipped_assistant
    from gridcare.assistant.retrieval import shipped_index

    rows = corpus.read_jsonl()
    model = classifier.shipped()
    ev, theme_ev = _evaluation(rows, model, theme=theme)
    questions = evaluation.load_questions()
    near = evaluation.near_duplicates(questions, shipped_index().articles)
    retrieval = evaluation.retrieval_report(shipped_index(), questions, near=near)
    answers = evaluation.answer_report(shipped_assistant(), questions, near=near)
    if as_json:
        out = {
            "classifier": {"n": ev.n, "accuracy": ev.accuracy, "macro_f1": ev.macro_f1,
                           "level1_accuracy": ev.level1_accuracy, "complaint_accuracy": ev.complaint_accuracy,
                           "labels": list(ev.labels), "confusion": [list(r) for r in ev.confusion],
                           "theme_accuracy": theme_ev.accuracy if theme_ev else None},
            "retrieval": {"n": retrieval.n, "top1": retrieval.top1, "top3": retrieval.top3,
                          "paraphrase_top1": retrieval.paraphrase_top1, "p95_ms": retrieval.p95_ms},
            "answers": {"n": answers.n, "accuracy": answers.top1, "paraphrase_accuracy": answers.paraphrase_top1,
                        "p95_ms": answers.p95_ms},
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_summary(ev, theme_ev)
        Console().print(f"retrieval on {retrieval.n} questions: top-1 {retrieval.top1:.3f}, top-3 {retrieval.top3:.3f}, "
                        f"paraphrases only ({retrieval.paraphrase_n}) {retrieval.paraphrase_top1:.3f}")
        Console().print(f"full answers: {answers.top1:.3f} (paraphrases {answers.paraphrase_top1:.3f}), "
                        f"p95 {answers.p95_ms:.1f} ms per question")
    if markdown:
        text = evaluation.classifier_markdown(ev, meta=model.meta, theme=theme_ev)
        text += (f"\n## Knowledge-base retrieval ({retrieval.n} fixed questions)\n\n"
                 f"top-1 {retrieval.top1:.3f}, top-3 {retrieval.top3:.3f}; on the {retrieval.paraphrase_n} questions "
                 f"that are not near-duplicates of an article's own wording: top-1 {retrieval.paraphrase_top1:.3f}. "
                 f"Whole assistant (classifier + thresholds + retrieval): {answers.top1:.3f} of questions answered "
                 f"with an expected article.\n")
        markdown.write_text(text, encoding="utf-8")
        err.print(f"wrote {markdown}")


@assistant_app.command("ask")
def ask_cmd(
    text: list[str] = typer.Argument(None, help="the question; without it, read questions line by line from stdin"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Ask the offline assistant (packaged knowledge base and model, no account data)."""
    from gridcare.assistant.engine import shipped_assistant

    bot = shipped_assistant()
    history = []
    questions = [" ".join(text)] if text else (line.rstrip("\n") for line in sys.stdin)
    for question in questions:
        reply = bot.reply(question, history=history)
        history.append(reply.as_turn())
        if as_json:
            ref = reply.answered_article
            print(json.dumps({"kind": reply.kind, "intent": reply.intent, "confidence": reply.intent_confidence,
                              "article": ref.id if ref else None, "handover": reply.handover, "text": reply.text},
                             ensure_ascii=False))
            continue
        ref = reply.answered_article
        Console().print(f"[dim]{reply.kind} · {reply.intent or '-'} {reply.intent_confidence:.2f}"
                        f"{' · ' + ref.id if ref else ''}{' · hand-over: ' + reply.handover if reply.handover else ''}[/]")
        for note in reply.notes:
            print(note)
        if reply.handover:
            print(f"→ 转人工（{reply.text}）。离线模式不创建工单；在网上营业厅或 API 中会创建服务工单并附上对话。")
        else:
            print(reply.text)


@assistant_app.command("ivr")
def ivr_cmd(
    flow: str = typer.Argument("95598", help="flow code (file name under data/ivr)"),
    keys: str = typer.Option("", "--keys", help="press these keys (e.g. '2,1') instead of asking"),
) -> None:
    """Text simulator of an IVR menu flow: read the prompts, press keys (0 = person, * = back)."""
    from gridcare.assistant.ivr import Session, get_flow
    from gridcare.assistant.kb import by_id, shipped_articles
    from gridcare.core.errors import GridcareError

    try:
        the_flow = get_flow(flow)
    except GridcareError as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    articles = by_id(shipped_articles())

    def article_text(article_id: str) -> str:
        art = articles.get(article_id)
        return f"{art.title} {art.summary(120)}" if art else f"[知识库 {article_id}]"

    session = Session(flow=the_flow, article_text=article_text)
    for line in session.start():
        print(f"IVR> {line}")
    pressed = [k for k in keys.replace(",", " ").split()] if keys else None
    while not session.ended:
        if pressed is not None:
            if not pressed:
                break
            key = pressed.pop(0)
            print(f"caller> {key}")
        else:
            try:
                key = input("caller> ").strip()
            except EOFError:
                break
        for line in session.press(key):
            print(f"IVR> {line}")
    if session.transferred_to:
        print(f"[transferred to queue: {session.transferred_to}]")


@assistant_app.command("kb-sync")
def kb_sync_cmd() -> None:
    """Load the shipped knowledge-base articles into the database (idempotent; local edits are kept)."""
    setup_django()
    from django.utils import timezone

    from gridcare.assistant.services import kb_sync

    result = kb_sync(as_of=timezone.now())
    err.print(f"knowledge base: {result.summary()}")


@assistant_app.command("qa-import")
def qa_import_cmd(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON list or JSON lines")) -> None:
    """Import chat/call transcripts and inspect them (all or nothing; ids seen before are skipped)."""
    setup_django()
    from django.utils import timezone

    from gridcare.assistant.services import transcripts_import
    from gridcare.core.errors import GridcareError

    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = []
            for lineno, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise GridcareError(f"line {lineno}: not JSON ({exc.msg})", field="file") from None
        result = transcripts_import(actor=None, rows=rows, as_of=timezone.now())
    except json.JSONDecodeError as exc:
        err.print(f"[bold red]error:[/] not JSON ({exc.msg} at line {exc.lineno})")
        raise typer.Exit(2) from None
    except GridcareError as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    err.print(f"{result.created} transcripts inspected ({result.review} to review), {result.skipped} already there")
