"""Exact scaled-integer arithmetic on Polars expressions.

Quantities are milli-units (Wh, varh, W, VA), prices are 10⁻⁸ yuan, amounts fen. A line amount is
``quantity_milli × price_e8`` (10⁻¹¹ yuan) divided by 10⁹ with a named rounding mode. Products are
computed in Int128 unless the bounds of the data prove Int64 cannot overflow; rounding is done on
integers, so no float ever touches an amount or a price.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

PRICE_SCALE = 8
PRICE_UNIT = 10**PRICE_SCALE  # 1 yuan = 10^8 price units
MILLI = 1000
AMOUNT_DIVISOR = MILLI * PRICE_UNIT // 100  # milli × e8 → fen: divide by 10^9
INT64_MAX = 2**63 - 1


def to_scaled(value: Decimal | int, scale: int) -> int:
    """Exact Decimal → integer × 10^scale; refuses values that need more places."""
    scaled = Decimal(value).scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {scale} decimal places")
    return int(scaled)


def price_e8(value: Decimal) -> int:
    return to_scaled(value, PRICE_SCALE)


def round_div(num: pl.Expr, den: int | pl.Expr, mode: str, *, nonnegative: bool = False) -> pl.Expr:
    """``num / den`` rounded to an integer with a named mode (den > 0). Returns Int64.

    ``half_up`` is Decimal's ROUND_HALF_UP (ties away from zero), as in Chinese billing practice."""
    if nonnegative:
        if mode == "half_up":
            return ((num + den // 2) // den).cast(pl.Int64) if isinstance(den, int) and den % 2 == 0 else _rd(num, den, mode)
        if mode == "down":
            return (num // den).cast(pl.Int64)
    return _rd(num, den, mode)


def _rd(num: pl.Expr, den: int | pl.Expr, mode: str) -> pl.Expr:
    a = num.abs()
    q = a // den
    r = a - q * den
    if mode == "half_up":
        bump = r * 2 >= den
    elif mode == "half_even":
        bump = (r * 2 > den) | ((r * 2 == den) & (q % 2 == 1))
    elif mode == "down":
        bump = pl.lit(False)
    elif mode == "up":
        bump = r > 0
    else:  # pragma: no cover - the loader validates modes
        raise ValueError(mode)
    res = q.cast(pl.Int64) + bump.cast(pl.Int64)
    return pl.when(num < 0).then(-res).otherwise(res)


def mul_fits_int64(max_abs_left: int, max_abs_right: int, extra: int = 1) -> bool:
    return max_abs_left * max_abs_right * extra < INT64_MAX // 4


def amount_fen(qty_milli: pl.Expr, price: int | pl.Expr, mode: str, *, max_qty: int, max_price: int | None = None,
               nonnegative: bool = False, num: int | pl.Expr = 1, den: int | pl.Expr = 1, max_num: int = 1) -> pl.Expr:
    """Fen amount of ``qty × price × num / den`` with one rounding. ``max_*`` bound the operands so the
    product stays in Int64 when it safely can (faster), else Int128."""
    mp = abs(price) if isinstance(price, int) else (max_price or PRICE_UNIT * 10**4)
    wide = not mul_fits_int64(max(max_qty, 1), max(mp, 1), max(max_num, 1))
    dtype = pl.Int128 if wide else pl.Int64
    product = qty_milli.cast(dtype) * (pl.lit(price, dtype=dtype) if isinstance(price, int) else price.cast(dtype))
    if not (isinstance(num, int) and num == 1):
        product = product * (pl.lit(num, dtype=dtype) if isinstance(num, int) else num.cast(dtype))
    if isinstance(den, int):
        divisor: int | pl.Expr = den * AMOUNT_DIVISOR
    else:
        divisor = den.cast(dtype) * AMOUNT_DIVISOR
    neg_price = isinstance(price, int) and price < 0
    return round_div(product, divisor, mode, nonnegative=nonnegative and not neg_price)


def milli_to_decimal(expr: pl.Expr, scale: int = 3) -> pl.Expr:
    """Scaled integer → ``Decimal(38, scale)`` exactly (multiplying by 10^-scale cannot round)."""
    return expr.cast(pl.Decimal(38, scale)) * pl.lit(Decimal(1).scaleb(-scale), dtype=pl.Decimal(38, scale))


MILLI_FRACTIONS = pl.Series("frac", ["", *("." + f"{i:03d}".rstrip("0") for i in range(1, 1000))])


def fmt_milli(expr: pl.Expr) -> pl.Expr:
    """Milli-units as a plain decimal string without trailing zeros: 200000 → '200', 12081 → '12.081'.
    The fraction comes from a 1000-entry table (a gather), which is much cheaper than formatting."""
    a = expr.abs()
    text = pl.concat_str([(a // 1000).cast(pl.String), pl.lit(MILLI_FRACTIONS).gather(a % 1000)])
    return pl.when(expr < 0).then(pl.lit("-") + text).otherwise(text)


def fmt_fen(expr: pl.Expr) -> pl.Expr:
    """Fen as yuan with two places: 123456 → '1234.56'."""
    a = expr.abs()
    text = (a // 100).cast(pl.String) + pl.lit(".") + (a % 100).cast(pl.String).str.zfill(2)
    return pl.when(expr < 0).then(pl.lit("-") + text).otherwise(text)


def fmt_decimal(value: Decimal) -> str:
    """A price or ratio as written (no exponent), e.g. Decimal('0.5283') → '0.5283'."""
    text = format(value, "f")
    return text
