"""Wallet lists in and out: CSV (a header naming ``address`` and any of ``label``, ``warn``, ``critical``; or no
header, the address first, the label second) or JSON (a list of addresses, or of objects with those keys). Every
row is checked before anything is stored; a problem names its row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from indexer.address import parse_address
from indexer.errors import IndexerError, InvalidAddressError
from indexer.store.models import WalletBase, WalletPublic
from indexer.store.wallet_store import label_problem, level_problem

FIELDS = ("address", "label", "warn", "critical")


class WalletFileError(IndexerError):
    """A wallet list that cannot be imported as a whole."""


def _level(value: Any, where: str, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        level = Decimal(str(value))
    except InvalidOperation:
        raise WalletFileError(f"{where}: {name} {value!r} is not a number") from None
    if (problem := level_problem(level)) is not None:
        raise WalletFileError(f"{where}: {name} {problem}")
    return level


def _wallet(row: dict[str, Any], where: str) -> WalletBase:
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise WalletFileError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    try:
        address = parse_address(str(row.get("address") or ""))
    except InvalidAddressError as exc:
        raise WalletFileError(f"{where}: {exc}") from None
    label = row.get("label") or None
    if label is not None and (problem := label_problem(label)) is not None:
        raise WalletFileError(f"{where}: {problem}")
    warn, critical = _level(row.get("warn"), where, "warn"), _level(row.get("critical"), where, "critical")
    if warn is not None and critical is not None and critical > warn:
        raise WalletFileError(f"{where}: critical must not be above warn")
    return WalletBase(address=address, label=label, warn_health=warn, critical_health=critical)


def parse_wallets(text: str, *, name: str = "input") -> list[WalletBase]:
    """Every wallet of a CSV or JSON list (told apart by the first character), validated; duplicates keep the last."""
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise WalletFileError(f"{name} is empty")
    rows: Iterable[tuple[str, dict[str, Any]]]
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise WalletFileError(f"{name} is not valid JSON: {exc}") from None
        if not isinstance(data, list):
            raise WalletFileError(f"{name}: expected a JSON list of addresses or of objects")
        rows = ((f"{name} item {i + 1}", item if isinstance(item, dict) else {"address": item})
                for i, item in enumerate(data))
    else:
        lines = list(csv.reader(io.StringIO(stripped)))
        header = [cell.strip().lower() for cell in lines[0]]
        if "address" in header:
            body = lines[1:]
            rows = ((f"{name} line {i + 2}", {k: v.strip() for k, v in zip(header, cells, strict=False) if k})
                    for i, cells in enumerate(body) if any(c.strip() for c in cells))
        else:
            rows = ((f"{name} line {i + 1}", dict(zip(("address", "label"), (c.strip() for c in cells),
                                                      strict=False)))
                    for i, cells in enumerate(lines) if any(c.strip() for c in cells))
    wallets = {w.address: w for w in (_wallet(row, where) for where, row in rows)}
    if not wallets:
        raise WalletFileError(f"{name} lists no wallet")
    return list(wallets.values())


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def format_wallets(wallets: Sequence[WalletPublic], fmt: str) -> str:
    """The tracked wallets as CSV or JSON that ``parse_wallets`` reads back."""
    rows = [{"address": w.address, "label": w.label or "",
             "warn": _decimal(w.warn_health), "critical": _decimal(w.critical_health)} for w in wallets]
    if fmt == "json":
        return json.dumps([{k: v for k, v in row.items() if v} for row in rows], indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
