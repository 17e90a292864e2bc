"""The visit programme's policy (policy/visits.yaml): target kinds, topics, channels, checklists,
quiet hours, request categories, risk-customer signals. A company file of the same name in
GRIDCARE_VISITS_POLICY_DIR is merged over it; a bad file fails at load naming the key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from gridcare.core.calendars import CalendarError, Duration, QuietHours
from gridcare.notifications.policy import PolicyError, deep_merge, read_yaml
from gridcare.service.policy import service_policy

POLICY_FILE = Path(__file__).resolve().parent / "policy" / "visits.yaml"
REQUEST_KINDS = ("consultation", "complaint", "opinion", "suggestion", "business")


@dataclass(frozen=True)
class VisitsPolicy:
    target_kinds: dict[str, tuple[str, bool]]  # code -> (label, is a customer of ours)
    topics: dict[str, str]
    channels: dict[str, str]
    checklist: dict[str, tuple[str, ...]]
    quiet_hours: QuietHours
    request_categories: dict[str, str]
    risk_window: Duration
    revisit_after: Duration
    repair_orders_at_least: int
    open_older_than: Duration
    satisfaction_question: str


def _duration(value: Any, where: str) -> Duration:
    try:
        return Duration.parse(value, where=where)
    except CalendarError as exc:
        raise PolicyError(str(exc)) from None


def policy_from_mapping(data: dict[str, Any]) -> VisitsPolicy:
    kinds = {}
    for code, spec in (data.get("target_kinds") or {}).items():
        if not isinstance(spec, dict) or "label" not in spec:
            raise PolicyError(f"visits.target_kinds.{code} needs a label")
        kinds[str(code)] = (str(spec["label"]), bool(spec.get("customer", False)))
    channels = {str(k): str(v) for k, v in (data.get("channels") or {}).items()}
    if not kinds or not channels:
        raise PolicyError("visits: target_kinds and channels are required")
    checklist = {str(k): tuple(str(i) for i in v or ()) for k, v in (data.get("checklist") or {}).items()}
    if set(checklist) - set(channels):
        raise PolicyError(f"visits.checklist: unknown channels {sorted(set(checklist) - set(channels))}")
    categories = {str(k): str(v) for k, v in (data.get("request_categories") or {}).items()}
    if set(categories) != set(REQUEST_KINDS):
        raise PolicyError(f"visits.request_categories must name exactly {REQUEST_KINDS}")
    taxonomy = service_policy().taxonomy
    for kind, code in categories.items():
        if code not in taxonomy.categories:
            raise PolicyError(f"visits.request_categories.{kind}: {code!r} is not in the service taxonomy")
    try:
        quiet = QuietHours.parse(data.get("quiet_hours") or {"start": "21:00", "end": "08:00"})
    except CalendarError as exc:
        raise PolicyError(f"visits.quiet_hours: {exc}") from None
    risk = data.get("risk") or {}
    return VisitsPolicy(
        target_kinds=kinds, topics={str(k): str(v) for k, v in (data.get("topics") or {}).items()},
        channels=channels, checklist=checklist, quiet_hours=quiet, request_categories=categories,
        risk_window=_duration(risk.get("window") or {"amount": 90, "unit": "days"}, "visits.risk.window"),
        revisit_after=_duration(risk.get("revisit_after") or {"amount": 90, "unit": "days"},
                                "visits.risk.revisit_after"),
        repair_orders_at_least=int(risk.get("repair_orders_at_least", 3)),
        open_older_than=_duration(risk.get("open_older_than") or {"amount": 7, "unit": "days"},
                                  "visits.risk.open_older_than"),
        satisfaction_question=str(data.get("satisfaction_question", "")),
    )


@lru_cache(maxsize=4)
def _load(override_dir: str | None) -> VisitsPolicy:
    data = read_yaml(POLICY_FILE)
    if override_dir and (Path(override_dir) / "visits.yaml").exists():
        data = deep_merge(data, read_yaml(Path(override_dir) / "visits.yaml"))
    return policy_from_mapping(data)


def visits_policy() -> VisitsPolicy:
    override = getattr(settings, "GRIDCARE_VISITS_POLICY_DIR", None) or os.environ.get("GRIDCARE_VISITS_POLICY_DIR")
    return _load(override)


def reset_visits_policy() -> None:
    _load.cache_clear()
