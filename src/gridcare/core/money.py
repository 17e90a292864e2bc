"""Exact money: integer fen for amounts, `Decimal` for prices, rounding always named.

Amounts are stored and summed as integer fen (分). Prices carry more places (元/kWh to 0.0001 元,
i.e. 0.01 分) and stay `Decimal`. Every conversion takes a rounding mode; the tariff configuration
decides which one, the default being ROUND_HALF_UP as in Chinese billing practice.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

ROUNDING_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}
DEFAULT_ROUNDING = "half_up"
FEN_PER_YUAN = 100
_FEN = Decimal("0.01")


def rounding_mode(name: str) -> str:
    """Map a configuration name (`half_up`, `half_even`, `down`, `up`) to a decimal mode."""
    try:
        return ROUNDING_MODES[name]
    except KeyError:
        raise ValueError(f"unknown rounding mode {name!r}; expected one of {sorted(ROUNDING_MODES)}") from None


def to_decimal(value: object) -> Decimal:
    """Parse a number from text or int without ever passing through float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"refusing to convert {type(value).__name__} to money: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(str(value).strip())


def yuan_to_fen(yuan: Decimal | int | str, *, rounding: str = DEFAULT_ROUNDING) -> int:
    """Yuan (possibly with sub-fen places) to integer fen with the named rounding."""
    return int((to_decimal(yuan) * FEN_PER_YUAN).quantize(Decimal(1), rounding=rounding_mode(rounding)))


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen to a two-place `Decimal` yuan, for display and export."""
    return (Decimal(int(fen)) / FEN_PER_YUAN).quantize(_FEN)


def format_yuan(fen: int) -> str:
    """Display form with thousands separators, e.g. 123456 -> '1,234.56'."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), FEN_PER_YUAN)
    return f"{sign}{yuan:,}.{cents:02d}"


def quantize(value: Decimal, places: str, *, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round a Decimal to the exponent of `places` (e.g. '0.0001') with a named mode."""
    return value.quantize(Decimal(places), rounding=rounding_mode(rounding))


def allocate_fen(total_fen: int, weights: list[Decimal | int]) -> list[int]:
    """Split `total_fen` by weights so the parts sum exactly (largest-remainder method).

    Used wherever one amount is shared out (pro-rata, shared usage, partial payments):
    rounding each part independently would create or lose a fen.
    """
    ws = [to_decimal(w) for w in weights]
    if any(w < 0 for w in ws):
        raise ValueError("weights must be non-negative")
    total_weight = sum(ws, Decimal(0))
    if not ws:
        return []
    if total_weight == 0:
        raise ValueError("weights sum to zero")
    sign = -1 if total_fen < 0 else 1
    magnitude = abs(int(total_fen))
    raw = [Decimal(magnitude) * w / total_weight for w in ws]
    floors = [int(r) for r in raw]
    left = magnitude - sum(floors)
    order = sorted(range(len(ws)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [sign * f for f in floors]
