"""Intent and complaint-category classifier: TF-IDF (character n-grams + jieba words) and a linear
SVM with sigmoid calibration, trained on the shipped corpus.

Pure Python (scikit-learn, no Django). Character n-grams carry typos, dialect spellings and
unsegmented SMS text; jieba words carry the domain terms of the user dictionary. The linear SVM beat
logistic regression by about a point on held-out templates (docs/assistant-evaluation.md); the
calibration (3-fold) gives the probabilities the assistant's "am I sure?" decision needs. The model is saved
with joblib inside the package; if the installed scikit-learn differs from the one that saved it, the
model is retrained from the corpus in memory (about two seconds) instead of trusting a pickle across
versions (docs/decisions/0801-assistant-offline-nlp.md).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from gridcare.assistant import corpus as corpus_mod
from gridcare.assistant import intents as intent_catalogue
from gridcare.assistant.text import normalize, words

log = logging.getLogger(__name__)

MODEL_FILENAME = "intent_classifier.joblib"
FORMAT_VERSION = 1


def model_path() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "model" / MODEL_FILENAME))


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(1, 3), preprocessor=normalize, sublinear_tf=True,
                    min_df=2, dtype=np.float32,
                ),
            ),
            (
                "word",
                TfidfVectorizer(
                    tokenizer=words, token_pattern=None, lowercase=False, ngram_range=(1, 2),
                    sublinear_tf=True, min_df=1, dtype=np.float32,
                ),
            ),
        ]
    )


def _pipeline(c: float) -> Pipeline:
    clf = CalibratedClassifierCV(LinearSVC(C=c, random_state=0), cv=3, method="sigmoid")
    return Pipeline([("features", _features()), ("clf", clf)])


class CompactCalibratedSVC(ClassifierMixin, BaseEstimator):
    """A fitted `CalibratedClassifierCV(LinearSVC, method="sigmoid")` collapsed into arrays.

    Same probabilities as scikit-learn's object (one-vs-rest sigmoid per class, normalised, averaged
    over the folds) but one matrix product per fold instead of one Python call per class: about
    0.3 ms instead of 20 ms per message, which is what keeps the assistant under its latency goal.
    """

    def __init__(self, calibrated: CalibratedClassifierCV) -> None:
        self.classes_ = np.asarray(calibrated.classes_)
        weights, biases, slopes, offsets = [], [], [], []
        for cal in calibrated.calibrated_classifiers_:
            svm = cal.estimator
            if list(svm.classes_) != list(self.classes_) or len(self.classes_) < 3:
                raise ValueError("every fold must see every class (and at least three classes)")
            weights.append(svm.coef_.astype(np.float32))
            biases.append(svm.intercept_.astype(np.float32))
            slopes.append([c.a_ for c in cal.calibrators])
            offsets.append([c.b_ for c in cal.calibrators])
        # folds x features x classes, C-contiguous: sparse @ dense then needs no copy per call.
        self.weights = np.ascontiguousarray(np.stack(weights).transpose(0, 2, 1))
        self.biases = np.stack(biases)  # folds x classes
        self.slopes = np.asarray(slopes, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.float64)

    def predict_proba(self, X) -> np.ndarray:
        out = np.zeros((X.shape[0], len(self.classes_)))
        for w, b, a, o in zip(self.weights, self.biases, self.slopes, self.offsets, strict=True):
            decision = np.asarray(X @ w) + b
            proba = 1.0 / (1.0 + np.exp(a * decision + o))
            total = proba.sum(axis=1, keepdims=True)
            out += np.divide(proba, total, out=np.full_like(proba, 1 / len(self.classes_)), where=total != 0)
        return out / len(self.weights)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def fit(self, X, y=None):  # pragma: no cover - built from a fitted model, never fitted itself
        raise NotImplementedError("build CompactCalibratedSVC from a fitted CalibratedClassifierCV")

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def get_params(self, deep: bool = True) -> dict:
        return {}


def _shrink(pipe: Pipeline) -> Pipeline:
    """Drop what prediction never needs (pruned-term sets) and compact the calibrated SVM."""
    for _, vec in pipe.named_steps["features"].transformer_list:
        if hasattr(vec, "stop_words_"):
            vec.stop_words_ = None
    return Pipeline([("features", pipe.named_steps["features"]), ("clf", CompactCalibratedSVC(pipe.named_steps["clf"]))])


def _proba(pipe: Pipeline, texts: list[str]) -> np.ndarray:
    """`pipe.predict_proba` without FeatureUnion's joblib dispatch (a few ms per call)."""
    union = pipe.named_steps["features"]
    X = sparse.hstack([vec.transform(texts) for _, vec in union.transformer_list], format="csr")
    return pipe.named_steps["clf"].predict_proba(X)


def corpus_digest(rows: Sequence[corpus_mod.Utterance]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{r.text}\t{r.intent}\t{r.complaint_category}\t{r.split}\n".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Prediction:
    intent: str
    level1: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    complaint_category: str = ""
    complaint_confidence: float = 0.0


@dataclass
class IntentClassifier:
    intent_model: Pipeline
    complaint_model: Pipeline
    meta: dict = field(default_factory=dict)

    @classmethod
    def train(cls, rows: Sequence[corpus_mod.Utterance], *, c: float = 1.0) -> IntentClassifier:
        rows = [r for r in rows if r.split == "train"]
        if not rows:
            raise ValueError("no training rows")
        started = time.perf_counter()
        intent_model = _shrink(_pipeline(c).fit([r.text for r in rows], [r.intent for r in rows]))
        comp = [r for r in rows if r.intent == "complaint"]
        complaint_model = _shrink(
            _pipeline(c).fit([r.text for r in comp], [r.complaint_category for r in comp])
        )
        meta = {
            "format": FORMAT_VERSION,
            "sklearn": sklearn.__version__,
            "corpus": corpus_digest(rows),
            "train_rows": len(rows),
            "c": c,
            "train_seconds": round(time.perf_counter() - started, 2),
        }
        return cls(intent_model=intent_model, complaint_model=complaint_model, meta=meta)

    def predict(self, text: str, *, top: int = 3) -> Prediction:
        return self.predict_many([text], top=top)[0]

    def predict_many(self, texts: Sequence[str], *, top: int = 3) -> list[Prediction]:
        probs = _proba(self.intent_model, list(texts))
        classes = self.intent_model.classes_
        out = []
        comp_idx = [i for i, row in enumerate(probs) if classes[int(np.argmax(row))] == "complaint"]
        comp_pred = {}
        if comp_idx:
            cprobs = _proba(self.complaint_model, [texts[i] for i in comp_idx])
            cclasses = self.complaint_model.classes_
            for i, row in zip(comp_idx, cprobs, strict=True):
                j = int(np.argmax(row))
                comp_pred[i] = (str(cclasses[j]), float(row[j]))
        for i, row in enumerate(probs):
            order = np.argsort(row)[::-1][:top]
            best = str(classes[order[0]])
            cat, cconf = comp_pred.get(i, ("", 0.0))
            out.append(
                Prediction(
                    intent=best,
                    level1=intent_catalogue.level1_of(best),
                    confidence=float(row[order[0]]),
                    alternatives=tuple((str(classes[j]), float(row[j])) for j in order),
                    complaint_category=cat,
                    complaint_confidence=cconf,
                )
            )
        return out

    def save(self, path: Path | None = None) -> Path:
        path = path or model_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {"intent": self.intent_model, "complaint": self.complaint_model, "meta": self.meta}, path, compress=3
        )
        return path

    @classmethod
    def load(cls, path: Path | None = None) -> IntentClassifier:
        blob = joblib.load(path or model_path())
        return cls(intent_model=blob["intent"], complaint_model=blob["complaint"], meta=blob["meta"])


@lru_cache(maxsize=1)
def shipped() -> IntentClassifier:
    """The packaged model, or one retrained from the packaged corpus when it cannot be trusted."""
    path = model_path()
    if path.exists():
        try:
            model = IntentClassifier.load(path)
            if model.meta.get("format") == FORMAT_VERSION and model.meta.get("sklearn") == sklearn.__version__:
                return model
            log.warning("assistant model saved with scikit-learn %s; retraining for %s",
                        model.meta.get("sklearn"), sklearn.__version__)
        except Exception:  # a corrupt or foreign pickle must not take the assistant down
            log.exception("could not load %s; retraining from the corpus", path)
    return IntentClassifier.train(corpus_mod.read_jsonl())


@dataclass(frozen=True)
class Evaluation:
    n: int
    accuracy: float
    macro_f1: float
    level1_accuracy: float
    complaint_n: int
    complaint_accuracy: float
    complaint_macro_f1: float
    labels: tuple[str, ...]
    per_class: tuple[tuple[str, float, float, float, int], ...]  # label, precision, recall, f1, support
    confusion: tuple[tuple[int, ...], ...]
    confusions: tuple[tuple[str, str, int], ...]  # most frequent (true, predicted, count) errors
    by_source: tuple[tuple[str, int, float], ...]  # source, n, accuracy
    errors: tuple[tuple[str, str, str], ...]  # text, true, predicted


def evaluate(model: IntentClassifier, rows: Sequence[corpus_mod.Utterance]) -> Evaluation:
    rows = [r for r in rows if r.split == "test"]
    preds = model.predict_many([r.text for r in rows])
    y_true = [r.intent for r in rows]
    y_pred = [p.intent for p in preds]
    labels = tuple(sorted(set(y_true) | set(y_pred)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=list(labels))
    lvl1 = [intent_catalogue.level1_of(t) == intent_catalogue.level1_of(q) for t, q in zip(y_true, y_pred, strict=True)]
    pairs = Counter((t, q) for t, q in zip(y_true, y_pred, strict=True) if t != q)
    comp_rows = [r for r in rows if r.intent == "complaint"]
    if comp_rows:
        cm_pred = model.complaint_model.predict([r.text for r in comp_rows])
        comp_true = [r.complaint_category for r in comp_rows]
        comp_acc = float(accuracy_score(comp_true, cm_pred))
        comp_f1 = float(f1_score(comp_true, cm_pred, average="macro"))
    else:
        comp_acc = comp_f1 = 0.0
    by_source = []
    for src in sorted({r.source for r in rows}):
        idx = [i for i, row in enumerate(rows) if row.source == src]
        acc = sum(y_true[i] == y_pred[i] for i in idx) / len(idx)
        by_source.append((src, len(idx), acc))
    return Evaluation(
        n=len(rows),
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", labels=list(labels), zero_division=0)),
        level1_accuracy=sum(lvl1) / len(lvl1),
        complaint_n=len(comp_rows),
        complaint_accuracy=comp_acc,
        complaint_macro_f1=comp_f1,
        labels=labels,
        per_class=tuple(
            (lab, float(pp), float(rr), float(ff), int(ss)) for lab, pp, rr, ff, ss in zip(labels, p, r, f, s, strict=True)
        ),
        confusion=tuple(tuple(int(x) for x in row) for row in cm),
        confusions=tuple((t, q, n) for (t, q), n in pairs.most_common(15)),
        by_source=tuple(by_source),
        errors=tuple((rows[i].text, y_true[i], y_pred[i]) for i in range(len(rows)) if y_true[i] != y_pred[i]),
    )
