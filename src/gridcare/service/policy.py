"""The service-desk policy: taxonomy, SLA rules, routing, escalation, intake, return visits, outages.

Every official limit lives in the YAML files next to this module (with its source) and is read
here into typed, validated structures. A company overrides any key by placing a file of the same
name in GRIDCARE_SERVICE_POLICY_DIR; it is merged over the packaged default, so it only needs the
keys it changes. A policy that does not validate fails loudly at load time, naming file and key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from gridcare.core.calendars import (
    CalendarError,
    Duration,
    QuietHours,
    TimeUnit,
    WorkingCalendar,
    load_calendar,
)
from gridcare.core.errors import ValidationFailed
from gridcare.notifications.policy import PolicyError, deep_merge, read_yaml

POLICY_DIR = Path(__file__).resolve().parent / "policy"
POLICY_FILES = ("taxonomy", "sla", "escalation", "routing", "intake", "return_visit", "classifier", "outage",
                "reply_templates")
PRIORITY_ORDER = ("normal", "urgent", "critical")
MATCH_KEYS = ("type", "category", "grade", "channel", "area_type")
ROUTING_SOURCES = ("grid_cell", "service_point", "account", "customer", "creator")
NOTIFY_TARGETS = ("assignee", "responsible", "parent", "root")


def _duration(value: Any, where: str) -> Duration:
    try:
        return Duration.parse(value, where=where)
    except CalendarError as exc:
        raise PolicyError(str(exc)) from None


# -- taxonomy -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Category:
    code: str  # dotted: "complaint.service.attitude"
    label: str
    level: int

    @property
    def type(self) -> str:
        return self.code.split(".", 1)[0]

    @property
    def parent_code(self) -> str | None:
        return self.code.rsplit(".", 1)[0] if "." in self.code else None


@dataclass(frozen=True)
class Taxonomy:
    categories: dict[str, Category]
    grades: dict[str, tuple[str, str]]  # code -> (label, priority)
    graded_types: frozenset[str]
    priorities: dict[str, str]
    area_types: dict[str, str]

    def types(self) -> list[Category]:
        return [c for c in self.categories.values() if c.level == 1]

    def children(self, code: str) -> list[Category]:
        return [c for c in self.categories.values() if c.parent_code == code]

    def category(self, code: str, *, field: str = "category") -> Category:
        found = self.categories.get(code or "")
        if found is None:
            raise ValidationFailed(f"{code!r} is not a category in the taxonomy", field=field)
        return found

    def path_label(self, code: str) -> str:
        parts = code.split(".")
        labels = [self.categories[".".join(parts[: i + 1])].label for i in range(len(parts))
                  if ".".join(parts[: i + 1]) in self.categories]
        return " / ".join(labels)

    def grade_label(self, code: str) -> str:
        return self.grades.get(code, (code, ""))[0]


def _taxonomy(data: Mapping[str, Any]) -> Taxonomy:
    categories: dict[str, Category] = {}

    def walk(prefix: str, items: Mapping[str, Any], level: int) -> None:
        for key, spec in (items or {}).items():
            if not str(key).replace("_", "").isalnum() or "." in str(key):
                raise PolicyError(f"taxonomy: code {key!r} must be letters, digits or _")
            code = f"{prefix}.{key}" if prefix else str(key)
            if level > 3:
                raise PolicyError(f"taxonomy: {code} is deeper than 3 levels")
            if isinstance(spec, str):
                categories[code] = Category(code, spec, level)
                continue
            if not isinstance(spec, Mapping) or "label" not in spec:
                raise PolicyError(f"taxonomy: {code} needs a label")
            categories[code] = Category(code, str(spec["label"]), level)
            walk(code, spec.get("children") or {}, level + 1)

    walk("", data.get("types") or {}, 1)
    if not categories:
        raise PolicyError("taxonomy: no types")
    priorities = {str(k): str(v) for k, v in (data.get("priorities") or {}).items()}
    if set(priorities) != set(PRIORITY_ORDER):
        raise PolicyError(f"taxonomy.priorities must be exactly {PRIORITY_ORDER}")
    grades = {}
    for code, spec in (data.get("grades") or {}).items():
        if spec.get("priority") not in PRIORITY_ORDER:
            raise PolicyError(f"taxonomy.grades.{code}.priority must be one of {PRIORITY_ORDER}")
        grades[str(code)] = (str(spec.get("label", code)), str(spec["priority"]))
    if "general" not in grades:
        raise PolicyError("taxonomy.grades needs a 'general' grade (the default)")
    graded = frozenset(data.get("graded_types") or ())
    unknown = graded - {c.code for c in categories.values() if c.level == 1}
    if unknown:
        raise PolicyError(f"taxonomy.graded_types: unknown types {sorted(unknown)}")
    return Taxonomy(categories=categories, grades=grades, graded_types=graded, priorities=priorities,
                    area_types={str(k): str(v) for k, v in (data.get("area_types") or {}).items()})


# -- SLA ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MilestoneDef:
    key: str
    label: str
    met_on: frozenset[str]


@dataclass(frozen=True)
class ClockSpec:
    """One clock an order gets: copied onto the order's SlaClock row when it is created."""

    key: str
    label: str
    duration: Duration
    source: str
    rule: str
    pausable: bool
    met_on: frozenset[str]


@dataclass(frozen=True)
class SlaRule:
    name: str
    match: dict[str, str]
    milestones: dict[str, tuple[Duration, str]]

    def specificity(self) -> tuple[int, int]:
        depth = self.match.get("category", "").count(".") + 1 if "category" in self.match else 0
        return depth, len(self.match)


@dataclass(frozen=True)
class SlaPolicy:
    milestones: dict[str, MilestoneDef]
    rules: tuple[SlaRule, ...]
    warn_before: dict[str, Duration]
    warn_at_fraction: float
    pausable: frozenset[str]
    reopen_restarts: frozenset[str]


def rule_matches(match: Mapping[str, str], facts: Mapping[str, str]) -> bool:
    """True when every match key fits; `category` matches the code itself or any code below it."""
    for key, expected in match.items():
        value = facts.get(key) or ""
        if key == "category":
            if not (value == expected or value.startswith(expected + ".")):
                return False
        elif value != expected:
            return False
    return True


def _sla(data: Mapping[str, Any], taxonomy: Taxonomy) -> SlaPolicy:
    milestones = {}
    for key, spec in (data.get("milestones") or {}).items():
        milestones[str(key)] = MilestoneDef(str(key), str(spec.get("label", key)), frozenset(spec.get("met_on") or ()))
    defaults = data.get("defaults") or {}
    warn_before = {str(unit): _duration(v, f"sla.defaults.warn_before.{unit}")
                   for unit, v in (defaults.get("warn_before") or {}).items()}
    fraction = float(defaults.get("warn_at_fraction", 0.8))
    if not 0 < fraction < 1:
        raise PolicyError("sla.defaults.warn_at_fraction must be between 0 and 1")
    rules = []
    for i, raw in enumerate(data.get("rules") or ()):
        name = str(raw.get("name", f"rule{i}"))
        match = {str(k): str(v) for k, v in (raw.get("match") or {}).items()}
        bad = set(match) - set(MATCH_KEYS)
        if bad:
            raise PolicyError(f"sla.rules[{name}]: unknown match keys {sorted(bad)}")
        if "category" in match and match["category"] not in taxonomy.categories:
            raise PolicyError(f"sla.rules[{name}]: category {match['category']!r} is not in the taxonomy")
        if "type" in match and match["type"] not in taxonomy.categories:
            raise PolicyError(f"sla.rules[{name}]: type {match['type']!r} is not in the taxonomy")
        ms = {}
        for key, spec in (raw.get("milestones") or {}).items():
            if key not in milestones:
                raise PolicyError(f"sla.rules[{name}]: milestone {key!r} is not defined under milestones")
            ms[str(key)] = (_duration(spec, f"sla.rules[{name}].{key}"), str(spec.get("source", "")))
        rules.append(SlaRule(name=name, match=match, milestones=ms))
    return SlaPolicy(milestones=milestones, rules=tuple(rules), warn_before=warn_before, warn_at_fraction=fraction,
                     pausable=frozenset(defaults.get("pausable") or ()),
                     reopen_restarts=frozenset(defaults.get("reopen_restarts") or ()))


def clock_specs(sla: SlaPolicy, facts: Mapping[str, str]) -> list[ClockSpec]:
    """The clocks an order with these facts gets: per milestone, the most specific matching rule."""
    chosen: dict[str, tuple[tuple[int, int], SlaRule]] = {}
    for rule in sla.rules:
        if not rule_matches(rule.match, facts):
            continue
        for key in rule.milestones:
            current = chosen.get(key)
            if current is None or rule.specificity() > current[0]:
                chosen[key] = (rule.specificity(), rule)
    specs = []
    for key in sla.milestones:  # policy order, so clocks list in a stable, meaningful order
        if key not in chosen:
            continue
        rule = chosen[key][1]
        duration, source = rule.milestones[key]
        milestone = sla.milestones[key]
        specs.append(ClockSpec(key=key, label=milestone.label, duration=duration, source=source, rule=rule.name,
                               pausable=key in sla.pausable, met_on=milestone.met_on))
    return specs


# -- escalation, routing, intake, visits, outages -------------------------------------------------
@dataclass(frozen=True)
class EscalationLevel:
    level: int
    label: str
    after_breach: Duration
    notify: tuple[str, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    warning_notify: tuple[str, ...]
    chain: tuple[EscalationLevel, ...]
    raise_priority_to: str
    alert_grades: frozenset[str]
    alert_notify: tuple[str, ...]


def _notify(values: Any, where: str) -> tuple[str, ...]:
    out = tuple(str(v) for v in values or ())
    bad = set(out) - set(NOTIFY_TARGETS)
    if bad:
        raise PolicyError(f"{where}: unknown notify targets {sorted(bad)}; use {NOTIFY_TARGETS}")
    return out


def _escalation(data: Mapping[str, Any], taxonomy: Taxonomy) -> EscalationPolicy:
    chain = []
    for i, raw in enumerate(data.get("chain") or ()):
        level = int(raw.get("level", i + 1))
        chain.append(EscalationLevel(level=level, label=str(raw.get("label", f"L{level}")),
                                     after_breach=_duration(raw.get("after_breach"), f"escalation.chain[{i}]"),
                                     notify=_notify(raw.get("notify"), f"escalation.chain[{i}]")))
    levels = [c.level for c in chain]
    if levels != sorted(set(levels)) or (levels and levels[0] < 1):
        raise PolicyError("escalation.chain levels must be increasing integers ≥ 1")
    raise_to = str(data.get("raise_priority_to", "urgent"))
    if raise_to not in PRIORITY_ORDER:
        raise PolicyError(f"escalation.raise_priority_to must be one of {PRIORITY_ORDER}")
    alert = data.get("alert_on_create") or {}
    grades = frozenset(alert.get("grades") or ())
    if grades - set(taxonomy.grades):
        raise PolicyError(f"escalation.alert_on_create.grades: unknown grades {sorted(grades - set(taxonomy.grades))}")
    return EscalationPolicy(warning_notify=_notify((data.get("warning") or {}).get("notify"), "escalation.warning"),
                            chain=tuple(chain), raise_priority_to=raise_to, alert_grades=grades,
                            alert_notify=_notify(alert.get("notify"), "escalation.alert_on_create"))


@dataclass(frozen=True)
class RoutingRule:
    match: dict[str, str]
    skills: tuple[str, ...]
    target: tuple[str, ...]


@dataclass(frozen=True)
class RoutingPolicy:
    grid_cells: dict[str, str]
    rules: tuple[RoutingRule, ...]
    default: RoutingRule
    assignable_roles: tuple[str, ...]
    area_by_cell: dict[str, str] = field(default_factory=dict)
    area_by_unit: dict[str, str] = field(default_factory=dict)
    default_area_type: str = "urban"

    def rule_for(self, facts: Mapping[str, str]) -> RoutingRule:
        best: tuple[tuple[int, int], RoutingRule] | None = None
        for rule in self.rules:
            if rule_matches(rule.match, facts):
                spec = SlaRule("", rule.match, {}).specificity()
                if best is None or spec > best[0]:
                    best = (spec, rule)
        return best[1] if best else self.default


def _routing_rule(raw: Mapping[str, Any], where: str) -> RoutingRule:
    target = tuple(str(t) for t in raw.get("target") or ROUTING_SOURCES)
    bad = set(target) - set(ROUTING_SOURCES)
    if bad:
        raise PolicyError(f"{where}: unknown target sources {sorted(bad)}; use {ROUTING_SOURCES}")
    match = {str(k): str(v) for k, v in (raw.get("match") or {}).items()}
    if set(match) - set(MATCH_KEYS):
        raise PolicyError(f"{where}: unknown match keys {sorted(set(match) - set(MATCH_KEYS))}")
    return RoutingRule(match=match, skills=tuple(str(s) for s in raw.get("skills") or ()), target=target)


def _routing(data: Mapping[str, Any], taxonomy: Taxonomy) -> RoutingPolicy:
    rules = tuple(_routing_rule(r, f"routing.rules[{i}]") for i, r in enumerate(data.get("rules") or ()))
    areas = data.get("area_types") or {}
    by_cell = {str(k): str(v) for k, v in (areas.get("grid_cells") or {}).items()}
    by_unit = {str(k): str(v) for k, v in (areas.get("org_units") or {}).items()}
    default_area = str(data.get("default_area_type", "urban"))
    for where, value in [*(("area_types.grid_cells", v) for v in by_cell.values()),
                         *(("area_types.org_units", v) for v in by_unit.values()), ("default_area_type", default_area)]:
        if value not in taxonomy.area_types:
            raise PolicyError(f"routing.{where}: {value!r} is not one of {sorted(taxonomy.area_types)}")
    return RoutingPolicy(grid_cells={str(k): str(v) for k, v in (data.get("grid_cells") or {}).items()},
                         rules=rules, default=_routing_rule(data.get("default") or {}, "routing.default"),
                         assignable_roles=tuple(str(r) for r in data.get("assignable_roles") or ("agent",)),
                         area_by_cell=by_cell, area_by_unit=by_unit, default_area_type=default_area)


@dataclass(frozen=True)
class IntakePolicy:
    channels: dict[str, str]
    staff_channels: frozenset[str]
    internal_channels: frozenset[str]
    uncounted_channels: frozenset[str]
    repeat_window: Duration
    repeat_threshold: int
    repeat_priority: str
    duplicate_window: Duration
    attachment_max_bytes: int
    attachments_per_order: int
    attachment_types: dict[str, str]
    webhook_window_seconds: int
    webhook_platforms: frozenset[str]
    email_max_bytes: int


def _intake(data: Mapping[str, Any]) -> IntakePolicy:
    repeat = data.get("repeat_contact") or {}
    attachments = data.get("attachments") or {}
    webhook = data.get("webhook") or {}
    channels = {str(k): str(v) for k, v in (data.get("channels") or {}).items()}
    staff = frozenset(data.get("staff_channels") or ())
    if staff - set(channels):
        raise PolicyError(f"intake.staff_channels: unknown channels {sorted(staff - set(channels))}")
    internal = frozenset(data.get("internal_channels") or ())
    uncounted = frozenset(data.get("uncounted_channels") or ())
    for key, values in (("internal_channels", internal), ("uncounted_channels", uncounted)):
        if values - set(channels):
            raise PolicyError(f"intake.{key}: unknown channels {sorted(values - set(channels))}")
    priority = str(repeat.get("raise_priority_to", "urgent"))
    if priority not in PRIORITY_ORDER:
        raise PolicyError(f"intake.repeat_contact.raise_priority_to must be one of {PRIORITY_ORDER}")
    threshold = int(repeat.get("threshold", 4))
    if threshold < 2:
        raise PolicyError("intake.repeat_contact.threshold must be ≥ 2")
    return IntakePolicy(
        channels=channels, staff_channels=staff, internal_channels=internal, uncounted_channels=uncounted,
        repeat_window=_duration(repeat.get("window"), "intake.repeat_contact.window"),
        repeat_threshold=threshold, repeat_priority=priority,
        duplicate_window=_duration(data.get("duplicate_window"), "intake.duplicate_window"),
        attachment_max_bytes=int(attachments.get("max_bytes", 10 * 1024 * 1024)),
        attachments_per_order=int(attachments.get("max_per_order", 10)),
        attachment_types={str(k).lower(): str(v) for k, v in (attachments.get("types") or {}).items()},
        webhook_window_seconds=int(webhook.get("window_seconds", 300)),
        webhook_platforms=frozenset(str(p) for p in webhook.get("platforms") or ()),
        email_max_bytes=int((data.get("email") or {}).get("max_bytes", 25 * 1024 * 1024)),
    )


@dataclass(frozen=True)
class Question:
    code: str
    text: str
    kind: str  # score | yes_no | text
    types: frozenset[str]
    required: bool
    is_score: bool
    reopen_if: str | None


@dataclass(frozen=True)
class ReturnVisitPolicy:
    types: dict[str, tuple[str, Duration]]  # type -> (method, delay)
    due_within: Duration
    quiet_hours: QuietHours
    dissatisfied_at_or_below: int
    survey_valid_for: Duration
    questions: tuple[Question, ...]
    max_phone_attempts: int
    retry_after: Duration

    def questions_for(self, order_type: str) -> list[Question]:
        return [q for q in self.questions if not q.types or order_type in q.types]


def _return_visit(data: Mapping[str, Any], taxonomy: Taxonomy) -> ReturnVisitPolicy:
    types = {}
    for code, spec in (data.get("types") or {}).items():
        if code not in taxonomy.categories:
            raise PolicyError(f"return_visit.types: {code!r} is not a type in the taxonomy")
        method = str(spec.get("method", "phone"))
        if method not in ("phone", "sms"):
            raise PolicyError(f"return_visit.types.{code}.method must be phone or sms")
        types[str(code)] = (method, _duration(spec.get("delay") or {"amount": 0, "unit": "minutes"},
                                              f"return_visit.types.{code}.delay"))
    questions = []
    codes = set()
    for i, raw in enumerate(data.get("questions") or ()):
        kind = str(raw.get("kind", "score"))
        if kind not in ("score", "yes_no", "text"):
            raise PolicyError(f"return_visit.questions[{i}].kind must be score, yes_no or text")
        code = str(raw.get("code", ""))
        if not code or code in codes:
            raise PolicyError(f"return_visit.questions[{i}]: code missing or repeated")
        codes.add(code)
        questions.append(Question(code=code, text=str(raw.get("text", "")), kind=kind,
                                  types=frozenset(raw.get("types") or ()), required=bool(raw.get("required", True)),
                                  is_score=bool(raw.get("score", False)),
                                  reopen_if=None if raw.get("reopen_if") is None else str(raw["reopen_if"])))
    if sum(q.is_score for q in questions) != 1:
        raise PolicyError("return_visit.questions: exactly one question must be marked score: true")
    try:
        quiet = QuietHours.parse(data.get("quiet_hours") or {"start": "21:00", "end": "08:00"})
    except CalendarError as exc:
        raise PolicyError(f"return_visit.quiet_hours: {exc}") from None
    return ReturnVisitPolicy(
        types=types, due_within=_duration(data.get("due_within"), "return_visit.due_within"),
        quiet_hours=quiet, dissatisfied_at_or_below=int(data.get("dissatisfied_at_or_below", 2)),
        survey_valid_for=_duration(data.get("survey_valid_for"), "return_visit.survey_valid_for"),
        questions=tuple(questions),
        max_phone_attempts=int(data.get("max_phone_attempts", 3)),
        retry_after=_duration(data.get("retry_after") or {"amount": 2, "unit": "hours"}, "return_visit.retry_after"),
    )


@dataclass(frozen=True)
class OutagePolicy:
    notice: dict[str, Duration]
    fault_broadcast_urgent: bool
    notify_restoration: bool


def _outage(data: Mapping[str, Any]) -> OutagePolicy:
    notice = {str(k): _duration(v, f"outage.notice.{k}") for k, v in (data.get("notice") or {}).items()}
    return OutagePolicy(notice=notice, fault_broadcast_urgent=bool(data.get("fault_broadcast_urgent", True)),
                        notify_restoration=bool(data.get("notify_restoration", True)))


@dataclass(frozen=True)
class ServicePolicy:
    taxonomy: Taxonomy
    sla: SlaPolicy
    escalation: EscalationPolicy
    routing: RoutingPolicy
    intake: IntakePolicy
    return_visit: ReturnVisitPolicy
    classifier: dict[str, Any]
    outage: OutagePolicy
    reply_templates: tuple[dict[str, str], ...]
    calendar: WorkingCalendar = field(compare=False)


def _stringify_keywords(value: Any) -> Any:
    """YAML reads 12345 as a number; keywords are always matched as text."""
    if isinstance(value, Mapping):
        return {k: _stringify_keywords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else _stringify_keywords(v)
                for v in value]
    return value


def policy_from_mappings(data: Mapping[str, Mapping[str, Any]], calendar: WorkingCalendar) -> ServicePolicy:
    taxonomy = _taxonomy(data["taxonomy"])
    classifier = _stringify_keywords(dict(data["classifier"]))
    for rule in classifier.get("rules") or ():
        if rule.get("category") not in taxonomy.categories:
            raise PolicyError(f"classifier: category {rule.get('category')!r} is not in the taxonomy")
    for key in ("fallback", "complaint_marker_category"):
        if classifier.get(key) and classifier[key] not in taxonomy.categories:
            raise PolicyError(f"classifier.{key}: {classifier[key]!r} is not in the taxonomy")
    return ServicePolicy(
        taxonomy=taxonomy, sla=_sla(data["sla"], taxonomy), escalation=_escalation(data["escalation"], taxonomy),
        routing=_routing(data["routing"], taxonomy), intake=_intake(data["intake"]),
        return_visit=_return_visit(data["return_visit"], taxonomy), classifier=classifier,
        outage=_outage(data["outage"]),
        reply_templates=tuple(dict(t) for t in (data["reply_templates"].get("templates") or ())),
        calendar=calendar,
    )


def _setting(name: str) -> str | None:
    return getattr(settings, name, None) or os.environ.get(name)


@lru_cache(maxsize=4)
def _load(override_dir: str | None, calendar_file: str | None) -> ServicePolicy:
    data = {}
    for name in POLICY_FILES:
        raw = read_yaml(POLICY_DIR / f"{name}.yaml")
        if override_dir:
            candidate = Path(override_dir) / f"{name}.yaml"
            if candidate.exists():
                raw = deep_merge(raw, read_yaml(candidate))
        data[name] = raw
    try:
        calendar = load_calendar(calendar_file)
    except CalendarError as exc:
        raise PolicyError(f"calendar: {exc}") from None
    return policy_from_mappings(data, calendar)


def service_policy() -> ServicePolicy:
    """The active policy (cached); `reset_policy_cache()` after editing files or in tests."""
    return _load(_setting("GRIDCARE_SERVICE_POLICY_DIR"), _setting("GRIDCARE_CALENDAR_FILE"))


def reset_policy_cache() -> None:
    _load.cache_clear()


__all__ = ["PRIORITY_ORDER", "ClockSpec", "PolicyError", "ServicePolicy", "TimeUnit", "clock_specs", "service_policy"]
