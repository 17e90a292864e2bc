"""Assistant benchmark: `python bench/bench_assistant.py [--quick] [--repeat N] [--json]`.

Runs from the packaged knowledge base and model alone (no database), on the fixed question set
(data/eval/questions.yaml, written apart from the articles' own wording; questions that ended up close
to an article's title or listed question are reported separately as "near-duplicates"):

1. cold start: jieba dictionary, classifier and index build;
2. retrieval: BM25 (jieba words + CJK bigrams) top-1 / top-3 and latency per question;
3. answers: the whole composer (normalise → classify → thresholds → retrieve → reply) — a question
   counts when the article the reply is built on is an expected one; p50/p95 latency per question
   (goal: p95 < 50 ms);
4. baseline, measured in the same run on the same questions: a naive scan that scores every article
   by how many of the question's characters and character pairs its text contains (substring / TF
   scan, no index, no segmentation). Ratios: answer accuracy and latency against it;
5. classifier on the held-out split (whole templates unseen in training): accuracy, macro-F1;
6. bad input (empty, very long, emoji only, mixed language): every one must get a reply.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def naive_ranker(articles):
    """Score = Σ over the question's distinct characters and character pairs found in the article's
    title+questions+body, titles counted twice. Pure Python, every article scanned per question."""
    from gridcare.assistant.text import normalize

    docs = [(a.id, normalize(f"{a.title} {a.title} {' '.join(a.questions)} {a.body}")) for a in articles]

    def rank(question: str) -> list[str]:
        q = normalize(question).replace(" ", "")
        grams = {q[i:i + 2] for i in range(len(q) - 1)} | set(q)
        scored = [(sum(text.count(g) > 0 for g in grams), aid) for aid, text in docs]
        scored.sort(key=lambda s: -s[0])
        return [aid for _, aid in scored[:3]]

    return rank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timing pass instead of five")
    parser.add_argument("--repeat", type=int, default=None, help="timing passes over the question set")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 5)

    started = time.perf_counter()
    from gridcare.assistant import classifier, corpus, evaluation
    from gridcare.assistant.engine import shipped_assistant
    from gridcare.assistant.retrieval import shipped_index
    from gridcare.assistant.text import warm_up

    warm_up()
    t_jieba = time.perf_counter() - started
    t0 = time.perf_counter()
    model = classifier.shipped()
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = shipped_index()
    t_index = time.perf_counter() - t0
    bot = shipped_assistant()

    questions = evaluation.load_questions()
    near = evaluation.near_duplicates(questions, index.articles)
    naive = naive_ranker(index.articles)

    def timed(fn):
        reports = [fn() for _ in range(repeat)]
        lat = [x for r in reports for x in r.latencies_ms]
        return reports[0], lat

    retrieval, r_lat = timed(lambda: evaluation.retrieval_report(index, questions, near=near))
    answers, a_lat = timed(lambda: evaluation.answer_report(bot, questions, near=near))
    baseline, b_lat = timed(lambda: evaluation.report_from(questions, naive, near=near))
    pct = evaluation.percentile

    rows = corpus.read_jsonl()
    t0 = time.perf_counter()
    ev = classifier.evaluate(model, rows)
    t_eval = time.perf_counter() - t0

    bad_inputs = ["", "   ", "😭😭😭", "？？？", "x" * 10000, "电费" * 3000, "my电费bill为什么so high",
                  "how do I pay my bill", "\x00\x01", "<script>alert(1)</script>"]
    bad_ok = 0
    for text in bad_inputs:
        reply = bot.reply(text)
        bad_ok += bool(reply.text)

    out = {
        "questions": answers.n,
        "near_duplicates": len(near),
        "cold_start_s": {"jieba": round(t_jieba, 2), "model": round(t_model, 2), "index": round(t_index, 2)},
        "retrieval": {"top1": round(retrieval.top1, 3), "top3": round(retrieval.top3, 3),
                      "paraphrase_top1": round(retrieval.paraphrase_top1, 3),
                      "p50_ms": round(pct(r_lat, 50), 2), "p95_ms": round(pct(r_lat, 95), 2)},
        "answers": {"accuracy": round(answers.top1, 3), "paraphrase_accuracy": round(answers.paraphrase_top1, 3),
                    "top3": round(answers.top3, 3), "p50_ms": round(pct(a_lat, 50), 2),
                    "p95_ms": round(pct(a_lat, 95), 2), "max_ms": round(max(a_lat), 2)},
        "baseline_naive_scan": {"top1": round(baseline.top1, 3), "top3": round(baseline.top3, 3),
                                "paraphrase_top1": round(baseline.paraphrase_top1, 3),
                                "p50_ms": round(pct(b_lat, 50), 2), "p95_ms": round(pct(b_lat, 95), 2)},
        "ratios": {
            "answer_accuracy_vs_baseline": round(answers.top1 / baseline.top1, 2) if baseline.top1 else None,
            "retrieval_top1_vs_baseline": round(retrieval.top1 / baseline.top1, 2) if baseline.top1 else None,
            "baseline_p95_over_answer_p95": round(pct(b_lat, 95) / pct(a_lat, 95), 2),
            "baseline_p95_over_retrieval_p95": round(pct(b_lat, 95) / pct(r_lat, 95), 2),
        },
        "classifier_held_out": {"n": ev.n, "accuracy": round(ev.accuracy, 3), "macro_f1": round(ev.macro_f1, 3),
                                "level1_accuracy": round(ev.level1_accuracy, 3),
                                "ms_per_utterance": round(1000 * t_eval / max(ev.n, 1), 2)},
        "bad_input_replied": f"{bad_ok}/{len(bad_inputs)}",
        "goal_p95_under_50ms": pct(a_lat, 95) < 50,
        "timing_passes": repeat,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0 if bad_ok == len(bad_inputs) else 1
    print(f"questions: {out['questions']} ({out['near_duplicates']} near-duplicates of article wording); "
          f"{repeat} timing pass(es)")
    print(f"cold start: jieba {t_jieba:.2f} s, model {t_model:.2f} s, index {t_index:.2f} s")
    r, a, b = out["retrieval"], out["answers"], out["baseline_naive_scan"]
    print(f"retrieval (BM25):      top-1 {r['top1']:.3f}  top-3 {r['top3']:.3f}  paraphrases {r['paraphrase_top1']:.3f}"
          f"  p50 {r['p50_ms']:.2f} ms  p95 {r['p95_ms']:.2f} ms")
    print(f"answers (assistant):   acc   {a['accuracy']:.3f}  top-3 {a['top3']:.3f}  paraphrases "
          f"{a['paraphrase_accuracy']:.3f}  p50 {a['p50_ms']:.2f} ms  p95 {a['p95_ms']:.2f} ms  (goal < 50 ms: "
          f"{'met' if out['goal_p95_under_50ms'] else 'MISSED'})")
    print(f"baseline (naive scan): top-1 {b['top1']:.3f}  top-3 {b['top3']:.3f}  paraphrases {b['paraphrase_top1']:.3f}"
          f"  p50 {b['p50_ms']:.2f} ms  p95 {b['p95_ms']:.2f} ms")
    ratios = out["ratios"]
    print(f"ratios: answer accuracy ×{ratios['answer_accuracy_vs_baseline']} of baseline; baseline p95 is "
          f"×{ratios['baseline_p95_over_answer_p95']} the assistant's and ×{ratios['baseline_p95_over_retrieval_p95']} "
          "retrieval's")
    c = out["classifier_held_out"]
    print(f"classifier held-out ({c['n']} utterances, unseen templates): accuracy {c['accuracy']:.3f}, "
          f"macro-F1 {c['macro_f1']:.3f}, level-1 {c['level1_accuracy']:.3f}, {c['ms_per_utterance']:.2f} ms/utterance")
    print(f"bad input replied: {out['bad_input_replied']}")
    return 0 if bad_ok == len(bad_inputs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
