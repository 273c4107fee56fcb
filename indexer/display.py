"""Turning exact figures into text for people. Nothing here feeds back into stored values."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal


def health_text(health: Decimal | None, places: int = 4) -> str:
    """Rounded *down*, so a position never looks safer than it is (0.99996 shows as 0.9999)."""
    if health is None:
        return "∞"
    return str(health.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN))


def money_text(amount: Decimal, quote: str = "USD") -> str:
    """Two places, rounded down; dollars say so with ``$``, any other currency by name."""
    text = f"{amount.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,}"
    return f"${text}" if quote == "USD" else f"{text} {quote}"


def short_address(address: str) -> str:
    """``0xc4e2…161a``; an account id keeps its suffix (``0xc4e2…161a:ETH``), a long one cut the same way (a Liquity
    v2 trove id, a GMX position key: ``0x48cF…4Af5:4749…8109``)."""
    owner, sep, suffix = address.partition(":")
    if len(suffix) > 14:
        suffix = f"{suffix[:4]}…{suffix[-4:]}"
    return f"{owner[:6]}…{owner[-4:]}{sep}{suffix}"


def printable(text: str) -> str:
    """User text (a wallet label) safe for a terminal: control characters (escape sequences) shown as ``\\xNN``."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def plain_text(text: str) -> str:
    """``printable`` text for a rich table: markup brackets escaped, so ``[/bold]`` prints as itself."""
    from rich.markup import escape

    return escape(printable(text))


def price_text(price: Decimal, significant: int = 6) -> str:
    """A price to ``significant`` digits (at least whole units), rounded toward zero: 1523.4187 → 1,523.41."""
    if price == 0:
        return "0"
    digits = price.adjusted() + 1  # digits before the point
    places = max(significant - digits, 0)
    return f"{price.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):,}"


def distance_text(distance: Decimal) -> str:
    """A relative move as a percentage with one place, rounded toward zero: 0.18236 → 18.2%."""
    return f"{(distance * 100).quantize(Decimal('0.1'), rounding=ROUND_DOWN)}%"
