"""Outbox policy (quiet hours, retries, limits) and the template registry, loaded from YAML.

Why YAML and not constants: quiet hours and retry schedules differ by company and are written
in operating rules, not code. A company file (GRIDCARE_NOTIFICATIONS_POLICY) is merged over the
packaged defaults, so it only needs the keys it changes.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.apps import apps
from django.conf import settings

from gridcare.core.calendars import CalendarError, QuietHours
from gridcare.core.errors import ValidationFailed

PACKAGE_DIR = Path(__file__).resolve().parent
CHANNELS = ("sms", "email", "in_app")


class PolicyError(ValueError):
    """A policy or template file that cannot be used; raised at load time, naming the file and key."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Mappings merge key by key; any other value (lists included) in `override` replaces `base`'s."""
    out = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise PolicyError(f"{path}: top level must be a mapping")
    return dict(data)


@dataclass(frozen=True)
class OutboxPolicy:
    quiet_hours: QuietHours
    quiet_channels: frozenset[str]
    max_attempts: int
    backoff: tuple[timedelta, ...]
    sms_max_chars: int
    subject_max_chars: int
    attachment_max_bytes: int
    defaults: dict[str, str]

    def backoff_after(self, attempts: int) -> timedelta:
        return self.backoff[min(attempts, len(self.backoff)) - 1]


def policy_from_mapping(data: Mapping[str, Any]) -> OutboxPolicy:
    quiet = data.get("quiet_hours") or {}
    try:
        hours = QuietHours.parse(quiet)
    except CalendarError as exc:
        raise PolicyError(str(exc)) from None
    channels = frozenset(quiet.get("channels") or ())
    unknown = channels - set(CHANNELS)
    if unknown:
        raise PolicyError(f"quiet_hours.channels: unknown channel(s) {sorted(unknown)}")
    retry = data.get("retry") or {}
    max_attempts = int(retry.get("max_attempts", 4))
    backoff = tuple(timedelta(minutes=float(m)) for m in (retry.get("backoff_minutes") or [5]))
    if max_attempts < 1 or not backoff or any(b <= timedelta(0) for b in backoff):
        raise PolicyError("retry: max_attempts must be ≥ 1 and backoff_minutes positive")
    limits = data.get("limits") or {}
    return OutboxPolicy(
        quiet_hours=hours, quiet_channels=channels, max_attempts=max_attempts, backoff=backoff,
        sms_max_chars=int(limits.get("sms_max_chars", 500)),
        subject_max_chars=int(limits.get("subject_max_chars", 255)),
        attachment_max_bytes=int(limits.get("attachment_max_bytes", 10 * 2**20)),
        defaults={str(k): str(v) for k, v in (data.get("defaults") or {}).items()},
    )


def _override_path() -> str | None:
    return getattr(settings, "GRIDCARE_NOTIFICATIONS_POLICY", None) or os.environ.get("GRIDCARE_NOTIFICATIONS_POLICY")


@lru_cache(maxsize=4)
def _load(override: str | None) -> OutboxPolicy:
    data = read_yaml(PACKAGE_DIR / "policy.yaml")
    if override:
        data = deep_merge(data, read_yaml(Path(override)))
    return policy_from_mapping(data)


def outbox_policy() -> OutboxPolicy:
    return _load(_override_path())


# -- templates ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    code: str
    description: str
    parts: dict[str, dict[str, str]]  # channel -> {"subject": ..., "body": ...}
    source: str


_FORMATTER = string.Formatter()


def _placeholders(text: str, where: str) -> set[str]:
    names = set()
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise PolicyError(f"{where}: placeholder {{{name}}} must be a plain name")
        names.add(name)
    return names


def _template_files() -> list[Path]:
    files = sorted((PACKAGE_DIR / "templates_data").glob("*.yaml"))
    for config in apps.get_app_configs():
        if config.name.startswith("gridcare.") and config.name != "gridcare.notifications":
            candidate = Path(config.path) / "notification_templates.yaml"
            if candidate.exists():
                files.append(candidate)
    return files


@lru_cache(maxsize=1)
def template_registry() -> dict[str, Template]:
    """All templates from the notifications app and every app's `notification_templates.yaml`."""
    registry: dict[str, Template] = {}
    for file in _template_files():
        for code, spec in read_yaml(file).items():
            where = f"{file.name}:{code}"
            if code in registry:
                raise PolicyError(f"{where}: template code already defined in {registry[code].source}")
            if not isinstance(spec, Mapping):
                raise PolicyError(f"{where}: expected a mapping")
            parts = {}
            for channel in CHANNELS:
                part = spec.get(channel)
                if part is None:
                    continue
                if not isinstance(part, Mapping) or "body" not in part:
                    raise PolicyError(f"{where}.{channel}: needs a body")
                for key in ("subject", "body"):
                    if key in part:
                        _placeholders(str(part[key]), f"{where}.{channel}.{key}")
                parts[channel] = {"subject": str(part.get("subject", "")), "body": str(part["body"])}
            if not parts:
                raise PolicyError(f"{where}: no channel (sms, email, in_app) defined")
            registry[code] = Template(code=code, description=str(spec.get("description", "")), parts=parts,
                                      source=file.name)
    return registry


def render(*, template: str, channel: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) for a template on a channel; a missing context value names the field."""
    spec = template_registry().get(template)
    if spec is None:
        raise ValidationFailed(f"unknown template {template!r}", field="template")
    part = spec.parts.get(channel)
    if part is None:
        raise ValidationFailed(f"template {template!r} has no {channel} version", field="channel")
    values = {**outbox_policy().defaults, **{k: "" if v is None else v for k, v in context.items()}}
    out = []
    for key in ("subject", "body"):
        text = part[key]
        for name in _placeholders(text, template):
            if name not in values:
                raise ValidationFailed(f"template {template!r} needs {name!r}", field=f"context.{name}")
        out.append(_FORMATTER.vformat(text, (), values))
    return out[0], out[1]


def reset_caches() -> None:
    """Forget loaded policy and templates (tests, or after an operator edits the files)."""
    _load.cache_clear()
    template_registry.cache_clear()
