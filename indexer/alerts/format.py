"""Short, phone-readable text for one alert event: a title line and a few more (at most seven).

Figures are rounded so the position never looks safer than it is: health and collateral down, debt and
the liquidation price up (a long collateral liquidates as its price falls, so a higher liquidation price
is the nearer one). Any figure computed on a price that is not FRESH says so on its own line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from string import Template

from indexer.alerts.message import AlertMessage
from indexer.display import health_text, short_address

EMOJI = {"WARN": "🟡", "CRITICAL": "🟠", "LIQUIDATABLE": "🔴",
         "STALE": "⏱", "SEQUENCER_DOWN": "⛔", "INVALID": "❌"}
LABEL = {"STALE": "STALE PRICE", "SEQUENCER_DOWN": "SEQUENCER DOWN", "INVALID": "INVALID PRICE"}


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines))


def render(message: AlertMessage) -> Rendered:
    lines = [_health_line(message), _money_line(message)]
    if message.family == "margin":  # the protocol changed its parameters under the position: which, from what
        lines.insert(0, f"the protocol changed {message.detail}")
    if message.perp is not None:
        lines.append(_perp_line(message))
    if (lp := message.liquidation_price) is not None:
        # the nearer side of the truth: up for what liquidates as it falls, down for what liquidates as it rises
        toward = ROUND_CEILING if lp.falling else ROUND_DOWN
        side = "below" if lp.falling else "above"
        lines.append(f"{lp.symbol} liquidates {side} {_money(_price(lp.price, toward), message.quote)} "
                     f"(now {_money(_price(lp.current, ROUND_HALF_EVEN), message.quote)})")
    if message.to_be_safe:
        ways = " or ".join(f"{step.action} {_amount_up(step.amount)} {step.symbol}" for step in message.to_be_safe)
        lines.append(f"to be back at health {message.to_be_safe[0].target}: {ways}")
    if (warning := price_warning(message)) is not None:
        lines.append(warning)
    lines += [f"ⓘ {note}" for note in message.notes]
    footer = f"block {message.block_number:,} · {message.market}"
    lines.append(f"{footer} · TEST message, no action needed" if message.test else footer)
    return Rendered(title(message), tuple(lines))


def text(message: AlertMessage) -> str:
    return render(message).text


def title(message: AlertMessage) -> str:
    where = f"{protocol_name(message.protocol)} {message.chain}"
    who = short_address(message.account) + (f" ({message.wallet_label})" if message.wallet_label else "")
    label = _label(message.severity)
    if message.family == "margin":
        head = f"⚙ MARGIN RULES CHANGED · {label}"
    elif message.kind == "acknowledged":
        head = f"☑ ACKNOWLEDGED · {label}"
    elif message.kind == "resolved":
        head = "✅ RECOVERED" + (f" from {_label(message.previous_severity)}" if message.previous_severity else "")
    elif message.kind in ("escalated", "deescalated") and message.previous_severity:
        head = f"{EMOJI.get(message.severity, '•')} {_label(message.previous_severity)} → {label}"
    else:
        head = f"{EMOJI.get(message.severity, '•')} {label}"
    if message.test:
        head = f"🧪 TEST · {head}"
    return f"{head} · {where} · {who}"


def summary(message: AlertMessage, limit: int = 1024) -> str:
    """One line (for pagers): the title, the health, and the price warning if any."""
    parts = [title(message), _health_line(message)]
    if (warning := price_warning(message)) is not None:
        parts.append(warning)
    line = " · ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def price_warning(message: AlertMessage) -> str | None:
    if message.price_trusted:
        return None
    detail = f": {message.detail}" if message.detail and message.family != "margin" else ""
    return f"⚠ computed on a {message.price_status} price{detail}"


def protocol_name(protocol: str) -> str:
    """``aave_v3`` → ``Aave v3``."""
    first, *rest = protocol.split("_")
    return " ".join([first[:1].upper() + first[1:], *rest])


def _label(severity: str | None) -> str:
    return LABEL.get(severity or "", severity or "?")


def _health_line(message: AlertMessage) -> str:
    now = "∞ (no debt)" if message.health is None else _health(message.health)
    was = f" (was {_health(message.previous_health)})" if message.previous_health is not None else ""
    prefix = "recovered: " if message.kind == "resolved" else ""
    return f"{prefix}health {now}{was}"


def _money_line(message: AlertMessage) -> str:
    held, owed = ("equity", "notional") if message.perp is not None else ("collateral", "debt")
    return (f"{held} {_money(_usd(message.collateral_value, ROUND_DOWN), message.quote)} · "
            f"{owed} {_money(_usd(message.debt_value, ROUND_CEILING), message.quote)}")


def _perp_line(message: AlertMessage) -> str:
    """``long 2.5 ETH · mark $3,000.50 · entry $2,950.00 · 10× cross (+1 more position)``."""
    perp = message.perp
    assert perp is not None
    parts = [f"{perp.side} {perp.size} {perp.symbol}",
             f"mark {_money(_price(perp.mark, ROUND_HALF_EVEN), message.quote)}"]
    if perp.entry is not None:
        parts.append(f"entry {_money(_price(perp.entry, ROUND_HALF_EVEN), message.quote)}")
    mode = f"{perp.leverage}× {perp.margin_mode}" if perp.leverage is not None else perp.margin_mode
    more = f" (+{perp.others} more position{'s' if perp.others > 1 else ''})" if perp.others else ""
    return " · ".join([*parts, mode]) + more


def _money(amount: str, quote: str) -> str:
    return f"${amount}" if quote == "USD" else f"{amount} {quote}"


def _amount_up(value: str) -> str:
    """A token amount to six significant digits, rounded up: paying what is shown is always enough."""
    number = _decimal(value)
    if number is None or number == 0:
        return value
    places = max(5 - number.adjusted(), 0)
    return f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING).normalize():,f}"


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None


def _health(value: str) -> str:
    number = _decimal(value)
    return value if number is None else health_text(number)


def _usd(value: str, rounding: str) -> str:
    number = _decimal(value)
    return value if number is None else f"{number.quantize(Decimal('0.01'), rounding=rounding):,}"


def _price(value: str, rounding: str) -> str:
    """Two places from $1 up; four significant digits below (so $0.000123 does not print as $0.00)."""
    number = _decimal(value)
    if number is None:
        return value
    if number == 0 or abs(number) >= 1:
        return _usd(value, rounding)
    return format(number.quantize(Decimal(1).scaleb(number.adjusted() - 3), rounding=rounding), "f")


# What a channel's ``template`` may use, as ``$name`` or ``${name}`` (string.Template: no attribute access, no code).
TEMPLATE_FIELDS = ("event_id", "dedup_key", "kind", "family", "severity", "previous_severity", "chain", "protocol",
                   "market", "account", "wallet_label", "health", "previous_health", "collateral_value", "debt_value",
                   "block_number", "price_status", "quote", "title", "summary", "text", "liquidation")


def check_template(template: str) -> str:
    """``template`` if every ``$name`` in it is a field of ``TEMPLATE_FIELDS``; else ValueError naming the first."""
    parsed = Template(template)
    if not parsed.is_valid():
        raise ValueError("is not a valid template: a lone $ must be written $$")
    unknown = [name for name in parsed.get_identifiers() if name not in TEMPLATE_FIELDS]
    if unknown:
        raise ValueError(f"unknown field ${unknown[0]} (fields: {', '.join(TEMPLATE_FIELDS)})")
    return template


def fill(template: str, message: AlertMessage) -> str:
    """The template with the message's fields; a missing value (no debt, no label) reads as "-"."""
    point = message.liquidation_price
    values: dict[str, object] = {
        **{name: getattr(message, name) for name in TEMPLATE_FIELDS if hasattr(message, name)},
        "title": title(message), "summary": summary(message), "text": text(message),
        "liquidation": "-" if point is None else f"{point.symbol} {'<' if point.falling else '>'} {point.price}",
    }
    return Template(template).substitute({k: "-" if v is None else str(v) for k, v in values.items()})
