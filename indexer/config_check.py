"""``indexer config check``: the effective configuration (file, then environment) with its secrets masked, and with
``--online`` one request to each RPC endpoint and one read of each market, so a wrong URL, chain id or contract
address shows before ``indexer run`` meets it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from indexer.chain.redact import redact_url
from indexer.errors import IndexerError
from indexer.settings import Settings

log = logging.getLogger(__name__)

# A probe account for the online market check: every market read must answer for an account holding nothing.
PROBE_ACCOUNT = "0x000000000000000000000000000000000000dEaD"
_SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key", "private")


def masked(value: Any, key: str = "") -> Any:
    """``value`` with every secret masked: URLs keep scheme, host and port only (keys hide in paths, queries and
    userinfo); a database URL keeps all but its password; values of secret-looking keys are replaced."""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith("_env"):
            return "***" if value else value
        if "://" in value:
            return redact_url(value)
    return value


def database_shown(url: str) -> str:
    """The database URL without its password (a SQLite path in full)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL that does not parse is shown redacted, never raw
        return redact_url(url)


def effective_config(settings: Settings) -> dict[str, Any]:
    """The settings as the indexer will use them, secrets masked, JSON-ready."""
    shown = masked(settings.model_dump(mode="json", exclude={"source"}))
    shown["database"] = {"url": database_shown(settings.database_url)}
    return {"source": settings.source, **shown}


@dataclass(frozen=True, slots=True)
class Probe:
    what: str  # "rpc devnet http://127.0.0.1:8545", "market devnet-aave-v3"
    ok: bool
    detail: str


async def _probe_endpoint(chain: str, url: str, chain_id: int, timeout: float) -> Probe:
    from indexer.chain.rpc import RpcClient

    what = f"rpc {chain} {redact_url(url)}"
    started = time.perf_counter()
    try:
        async with RpcClient([url], timeout=timeout, attempts=1) as rpc:
            got = await rpc.chain_id()
            head = await rpc.call("eth_blockNumber", [])
    except IndexerError as exc:
        return Probe(what, False, str(exc))
    took = (time.perf_counter() - started) * 1000
    if got != chain_id:
        return Probe(what, False, f"chain id {got}, the config says {chain_id}")
    return Probe(what, True, f"chain id {got}, head {int(head, 16)}, {took:.0f} ms")


async def _probe_chain_markets(settings: Settings, chain: str) -> list[Probe]:
    from indexer.address import parse_address
    from indexer.sync import read_chain

    keys = sorted(key for key, market in settings.markets.items() if market.chain == chain)
    if not keys:
        return []
    try:
        read = await read_chain(settings, chain, [parse_address(PROBE_ACCOUNT)])
    except IndexerError as exc:
        return [Probe(f"market {key}", False, str(exc)) for key in keys]
    return [Probe(f"market {key}", True, f"read at block {read.block.number}") for key in keys]


async def _probe_venue(settings: Settings, name: str) -> Probe:
    from indexer.protocols.base import VenueRequest
    from indexer.venue.session import VenueSession

    venue = settings.venues[name]
    session = VenueSession(name, venue.url, timeout=venue.timeout, retries=0)
    what = f"venue {name} {redact_url(venue.url)}"
    try:
        answer = await session.info(VenueRequest({"type": "meta"}))
    except IndexerError as exc:
        return Probe(what, False, str(exc))
    finally:
        await session.close()
    universe = answer.get("universe") if isinstance(answer, dict) else None
    if not isinstance(universe, list):
        return Probe(what, False, "answered `meta` without a universe: not a Hyperliquid-style /info API")
    return Probe(what, True, f"{len(universe)} assets listed")


async def check_online(settings: Settings) -> list[Probe]:
    """One probe per RPC endpoint and venue, and one read of every market (each chain's markets at one block)."""
    probes: list[Probe] = []
    for chain, config in sorted(settings.chains.items()):
        try:
            urls = settings.rpc_urls(chain)
        except IndexerError as exc:
            probes.append(Probe(f"rpc {chain}", False, str(exc)))
            continue
        endpoints = await asyncio.gather(*(_probe_endpoint(chain, url, config.chain_id, config.rpc_timeout)
                                           for url in urls))
        probes.extend(endpoints)
        if any(p.ok for p in endpoints):
            probes.extend(await _probe_chain_markets(settings, chain))
    for name in sorted(settings.venues):
        probe = await _probe_venue(settings, name)
        probes.append(probe)
        probes.extend(Probe(f"market {key}", probe.ok, f"on venue {name}" if probe.ok else "its venue did not answer")
                      for key, market in sorted(settings.markets.items()) if market.chain == name)
    return probes
