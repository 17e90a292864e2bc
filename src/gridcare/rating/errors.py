"""Expected failures of the rating engine, each naming the input at fault."""

from __future__ import annotations

from gridcare.core.errors import ValidationFailed


class TariffFileInvalid(ValidationFailed):
    """A tariff file does not validate. ``problems`` lists every ``(path, message)`` found;
    the message and ``field`` are those of the first one."""

    code = "tariff_invalid"

    def __init__(self, message: str, *, field: str | None = None, problems: list[tuple[str, str]] | None = None):
        super().__init__(message, field=field)
        self.problems = problems or ([(field or "", message)])


class UnableToRate(ValidationFailed):
    """The inputs of a rating run are unusable as a whole (wrong columns, unknown tariff, bad
    period). Per-account problems do not raise; they are returned in ``RatingResult.rejected``."""

    code = "unable_to_rate"


class UsageFileInvalid(ValidationFailed):
    """A usage CSV has bad rows. ``problems`` lists ``(line_number, reason)``; nothing is rated."""

    code = "usage_invalid"

    def __init__(self, message: str, *, problems: list[tuple[int, str]], field: str | None = None):
        super().__init__(message, field=field)
        self.problems = problems
