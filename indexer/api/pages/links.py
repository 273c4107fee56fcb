"""Where the dashboard's pages live: every link one page makes to another is built here, path segments quoted
(a market's config key may hold any character but a control one)."""

from __future__ import annotations

from urllib.parse import quote


def _segment(value: str) -> str:
    return quote(value, safe=":")


def position_href(chain: str, market: str, account: str) -> str:
    return f"/positions/{_segment(chain)}/{_segment(market)}/{_segment(account)}"


def wallet_href(owner: str) -> str:
    return f"/wallets/{_segment(owner)}"


def market_href(market: str) -> str:
    return f"/markets/{_segment(market)}"
