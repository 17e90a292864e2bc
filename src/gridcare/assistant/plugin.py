"""The service desk's classifier hook (decision 0701): `GRIDCARE_SERVICE_CLASSIFIER=
gridcare.assistant.plugin.service_classify` makes intake classify free text with the assistant's model.

Returns None (the service desk then uses its keyword rules) when the model is not sure enough, or when
the intent has no work-order category (greetings, out-of-domain, "转人工"), so the model only ever
replaces the rules where it has something better to say.
"""

from __future__ import annotations

from gridcare.assistant import classifier
from gridcare.assistant.policy import assistant_policy


def service_classify(text: str) -> dict | None:
    if not (text or "").strip():
        return None
    prediction = classifier.shipped().predict(text)
    policy = assistant_policy()
    if prediction.confidence < policy.thresholds.intent:
        return None
    category = policy.work_order_category(prediction.intent, prediction.complaint_category)
    if not category:
        return None
    return {"category": category, "confidence": round(float(prediction.confidence), 4)}
