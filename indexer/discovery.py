"""Borrower discovery: the accounts of a market, found in its contract's events.

For every market with ``discover = true`` the protocol's account-bearing events are scanned with ranged
``eth_getLogs`` from the market's ``start_block`` (or just past its checkpoint) to a given head. Each
accepted range commits its accounts (``market_accounts``) and the market's ``discovery:<market>``
checkpoint in one transaction, so an interrupted backfill resumes where it stopped and no block is
scanned twice. The accounts a sync pass reads are then ``watched_accounts``: discovered ∪ tracked wallets.

An account seen in an event may have no position any more; the adapter's read leaves it out, so finding
too many is harmless, while missing one is not: every event that can open a position names its account.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from indexer.chain.logs import LogChunk, SpanPolicy, iter_logs
from indexer.chain.rpc import RpcClient
from indexer.errors import CallRevertedError, ConfigError, MarketMismatchError, RetryableError
from indexer.hexutil import keccak, to_checksum_address
from indexer.protocols.base import DiscoverySpec
from indexer.protocols.registry import source_for
from indexer.settings import Settings
from indexer.store.chain_store import checkpoint, discovered_accounts, discovery_checkpoint_name, record_discovered
from indexer.store.wallet_store import wallet_addresses
from indexer.types import ZERO_ADDRESS

log = logging.getLogger(__name__)

_LOG_EVERY_SECONDS = 5.0


def discovery_spec(settings: Settings, key: str) -> DiscoverySpec | None:
    return source_for(settings, key).discovery()


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """One discovery call over a chain's markets: accounts stored for the first time, the lowest and highest
    block scanned (``None`` when there was nothing to scan), and the JSON-RPC requests it took."""

    new_accounts: int
    scanned_from: int | None
    scanned_to: int | None
    requests: int


def discovering_markets(settings: Settings, chain: str) -> list[str]:
    """Keys of the markets of ``chain`` with ``discover = true``; refuses a protocol discovery cannot scan."""
    keys = [key for key, m in settings.markets.items() if m.chain == chain and m.discover]
    for key in keys:
        if discovery_spec(settings, key) is None:
            raise ConfigError(f"market {key!r}: discovery is not available for protocol "
                              f"{settings.markets[key].protocol!r}")
    return keys


def accounts_in(logs: Iterable[Mapping[str, Any]], source: DiscoverySpec) -> dict[str, tuple[int, int]]:
    """Account → (first, last) block it appears in, over ``logs`` of ``source``'s events."""
    seen: dict[str, tuple[int, int]] = {}
    for entry in logs:
        topics = entry.get("topics") or []
        index = source.account_topic.get(topics[0].lower()) if topics else None
        if entry.get("removed") or index is None or len(topics) <= index:
            continue
        if any(want is not None and (len(topics) <= n or topics[n].lower() != want.lower())
               for n, want in enumerate(source.match, start=1)):
            continue  # a log the filter should not have let through
        account = to_checksum_address("0x" + topics[index][-40:])
        if account == ZERO_ADDRESS:
            continue
        block = int(entry["blockNumber"], 16)
        first, last = seen.get(account, (block, block))
        seen[account] = (min(first, block), max(last, block))
    return seen


def logs_query(spec: DiscoverySpec, emitter: str, block: int) -> dict[str, Any]:
    """The ``eth_getLogs`` filter of one market's events in one block."""
    return {"address": [emitter], "topics": spec.topics(), "fromBlock": hex(block), "toBlock": hex(block)}


async def emitters(settings: Settings, rpc: RpcClient, chain: str, keys: list[str], head: int) -> dict[str, str]:
    """The contract emitting each market's events, as of ``head`` (which must exist)."""
    return dict(zip(keys, await _contracts(settings, rpc, chain, keys, head), strict=True))


async def _contracts(settings: Settings, rpc: RpcClient, chain: str, keys: list[str], head: int) -> list[str]:
    """The event-emitting contract of each market at ``head`` (given by its discovery spec, or answered by the
    market's entry point), in one batch with a check that ``head`` exists."""
    calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
    specs = [discovery_spec(settings, key) for key in keys]
    asked = []
    for key, spec in zip(keys, specs, strict=True):
        if spec is not None and spec.emitter is None and spec.emitter_getter is not None:
            data = "0x" + keccak(text=spec.emitter_getter)[:4].hex()
            calls.append(("eth_call", [{"to": settings.market_address(key), "data": data}, hex(head)]))
            asked.append(key)
    try:
        tip, *answers = await rpc.batch(calls)
    except CallRevertedError as exc:
        raise MarketMismatchError(f"chain {chain!r}: a discovering market's entry point reverted: {exc}") from None
    if int(tip, 16) < head:
        raise RetryableError(f"chain {chain!r}: discovery asked to scan to block {head}, "
                             f"but the RPC is at block {int(tip, 16)}")
    answered = dict(zip(asked, answers, strict=True))
    contracts = []
    for key, spec in zip(keys, specs, strict=True):
        assert spec is not None  # discovering_markets refused the others
        if key not in answered:
            contracts.append(spec.emitter or settings.market_address(key))
            continue
        answer = answered[key]
        word = answer[2:] if isinstance(answer, str) else ""
        contract = to_checksum_address("0x" + word[-40:]) if len(word) == 64 else ZERO_ADDRESS
        if contract == ZERO_ADDRESS:
            raise MarketMismatchError(f"market {key!r}: {settings.market_address(key)} on chain {chain!r} "
                                      f"does not answer {spec.emitter_getter} with an address")
        contracts.append(contract)
    return contracts


class _ScanProgress:
    """Backfill progress: a rich bar on a terminal, otherwise a log line every few seconds. Scans of at most
    ``quiet_below`` blocks (following the head) report one debug line."""

    def __init__(self, show_bar: bool | None, quiet_below: int) -> None:
        self._bar_wanted = sys.stderr.isatty() if show_bar is None else show_bar
        self._quiet_below = quiet_below
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._market = ""
        self._first = self._last = 0
        self._found = 0
        self._logged_at = 0.0

    def __enter__(self) -> _ScanProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def start(self, market: str, first: int, last: int) -> None:
        self._market, self._first, self._last, self._found = market, first, last, 0
        self._logged_at = time.monotonic()
        total = last - first + 1
        if total <= self._quiet_below:
            return
        if self._bar_wanted:
            if self._bar is None:
                self._bar = Progress(TextColumn("discovery {task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("blocks, {task.fields[found]} new accounts"), TimeRemainingColumn(),
                                     console=Console(stderr=True))
                self._bar.start()
            self._task = self._bar.add_task(market, total=total, found=0)
        else:
            log.info("discovery started market=%s blocks=%d-%d", market, first, last)

    def advance(self, chunk: LogChunk, new_accounts: int) -> None:
        self._found += new_accounts
        if self._last - self._first + 1 <= self._quiet_below:
            return
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=chunk.to_block - self._first + 1, found=self._found)
        elif time.monotonic() - self._logged_at >= _LOG_EVERY_SECONDS:
            self._logged_at = time.monotonic()
            done = (chunk.to_block - self._first + 1) / (self._last - self._first + 1)
            log.info("discovery market=%s at block %d of %d (%.1f%%) new_accounts=%d",
                     self._market, chunk.to_block, self._last, 100 * done, self._found)

    def finish(self) -> None:
        level = logging.DEBUG if self._last - self._first + 1 <= self._quiet_below else logging.INFO
        log.log(level, "discovery finished market=%s blocks=%d-%d new_accounts=%d",
                self._market, self._first, self._last, self._found)


async def discover(settings: Settings, engine: Engine, *, chain: str, head: int, rpc: RpcClient,
                   policy: SpanPolicy | None = None, progress: bool | None = None,
                   markets: list[str] | None = None) -> DiscoveryResult:
    """Scan every discovering market of ``chain`` up to ``head`` and store the accounts found.

    ``head`` must be a block the RPC already has (checked in the same batch as the contract look-up).
    Each market starts at its ``start_block`` or one past its checkpoint; a market already at ``head``
    costs no request. ``progress``: ``None`` shows a bar only when stderr is a terminal. ``markets``: only these
    (default: every discovering market of the chain).
    Raises ``RetryableError`` (RPC down, head not there yet) or ``PermanentError`` (a market that is not
    what its protocol expects, a provider refusing even one block); what was committed before stays.
    """
    policy = policy or SpanPolicy()
    todo: list[tuple[str, int]] = []
    for key in discovering_markets(settings, chain):
        if markets is not None and key not in markets:
            continue
        done = await asyncio.to_thread(checkpoint, engine, chain=chain, name=discovery_checkpoint_name(key))
        start = settings.markets[key].start_block if done is None else max(settings.markets[key].start_block,
                                                                           done + 1)
        if start <= head:
            todo.append((key, start))
    if not todo:
        return DiscoveryResult(new_accounts=0, scanned_from=None, scanned_to=None, requests=0)

    requests_before = rpc.stats.requests
    contracts = await _contracts(settings, rpc, chain, [key for key, _ in todo], head)
    new_accounts = 0
    with _ScanProgress(progress, quiet_below=policy.initial) as report:
        for (key, start), contract in zip(todo, contracts, strict=True):
            source = discovery_spec(settings, key)
            assert source is not None
            report.start(key, start, head)
            async for chunk in iter_logs(rpc, address=contract, topics=source.topics(), from_block=start,
                                         to_block=head, policy=policy):
                added = await asyncio.to_thread(record_discovered, engine, chain=chain, market=key,
                                                seen=accounts_in(chunk.logs, source), scanned_to=chunk.to_block)
                new_accounts += added
                report.advance(chunk, added)
            report.finish()
    return DiscoveryResult(new_accounts=new_accounts, scanned_from=min(start for _, start in todo),
                           scanned_to=head, requests=rpc.stats.requests - requests_before)


def watched_accounts(engine: Engine, *, chain: str, market: str) -> list[str]:
    """The accounts a sync pass reads on a market: tracked wallets first, then the discovered ones in the
    order they appeared; each once (compared case-insensitively)."""
    seen: set[str] = set()
    accounts: list[str] = []
    for account in wallet_addresses(engine) + discovered_accounts(engine, chain=chain,
                                                                                  market=market):
        if account.lower() not in seen:
            seen.add(account.lower())
            accounts.append(account)
    return accounts
