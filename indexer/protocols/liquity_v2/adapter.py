"""Liquity v2 (BOLD): one configured market is one collateral branch, one position per trove.

Design (how this package maps Liquity v2 onto the neutral position model):

* **Market**: the branch's TroveManager (``address``), with ``options.addresses_registry`` = the branch's
  AddressesRegistry (required: Liquity v2's TroveManager keeps its PriceFeed, DefaultPool and MCR internal, so the
  registry is the one contract that names them all). Each read confirms at the block that the registry's
  ``troveManager()`` is the configured address, and takes the branch's contracts (TroveNFT, BorrowerOperations,
  PriceFeed, ActivePool, DefaultPool, collateral and BOLD tokens) and its ``MCR``, ``CCR``, ``SCR`` from it: the MCR
  is per branch (110 % WETH, 120 % wstETH and rETH on mainnet, ``Dependencies/Constants.sol``).
* **Position**: one trove. ``account`` is ``f"{owner}:{troveId}"`` (troveId in decimal), ``owner`` the trove NFT's
  ``ownerOf(troveId)``: wallet filters, labels and per-wallet thresholds follow the NFT's holder, and the pipeline's
  closings — a stored position whose owner was read and whose account was not found — cover a trove closed,
  liquidated *or* transferred away (it reappears under its new owner). ``margin_mode`` is isolated (an owner may
  hold many troves on a branch, each on its own).
* **Which troves**: the accounts asked for are owner addresses (tracked wallets, discovered borrowers). TroveNFT is
  a plain (not enumerable) ERC721, so an owner's troves are found in the TroveManager's array of open troves
  (``getTroveIdsCount`` / ``getTroveFromTroveIdsArray``) and each one's ``ownerOf``: one scan of the branch, kept in
  the hint (trove id → owner). Every later read confirms the hint at its block: it reads ``balanceOf(owner)`` of
  each owner asked for and ``ownerOf`` of each hinted trove of theirs; when an owner holds exactly the hinted troves
  still owned (balance == that count: an ERC721 balance counts every token held) nothing else is read, otherwise
  (a trove opened or received) the branch is scanned again. So a tracked wallet's troves are found without
  discovery, and a steady block costs one round.
* **Discovery**: the branch's TroveNFT ``Transfer(from, to, tokenId)`` logs, the receiver (topic2) as account —
  every trove is minted to its owner and every change of hands is a transfer, so every owner is named; burns name
  the zero address (skipped). The NFT is the TroveManager's ``troveNFT()``. DiscoverySpec yields addresses, not
  trove ids: the ids come from the scan above.
* **Reads**, all at the pinned block, in Multicall3 rounds: the registry's views; the TroveManager's
  ``shutdownTime``, trove count and branch totals (``getEntireBranchColl/Debt``), BorrowerOperations'
  ``hasBeenShutDown``, the ActivePool's ``calcPendingAggInterest``, the PriceFeed's ``priceSource``,
  ``lastGoodPrice`` and oracle records (``ethUsdOracle``; ``stEthUsdOracle`` or ``rEthEthOracle`` for an LST feed,
  with ``rateProviderAddress``), the collateral's symbol and decimals, the owners' NFT balances; then the oracles'
  ``latestRoundData`` and the LST rate (``stEthPerToken`` / ``getExchangeRate``); per trove ``ownerOf``,
  ``Troves``, ``rewardSnapshots`` and ``getLatestTroveData``. With the previous read's hint all of it goes in one
  round (every address and oracle record confirmed in that round); without, up to five (registry, branch, feeds and
  the array, owners, troves). The self-check adds one.
* **Health**, as ``batchLiquidateTroves([troveId])`` decides (``rules``): entire debt = recorded debt + the
  interest accrued to the block at the trove's rate (``_calcInterest``, recomputed here from ``Troves``; it stops at
  ``shutdownTime``) + the redistribution debt gain; entire coll = coll + the redistribution coll gain. The gains are
  ``getLatestTroveData``'s — ``L_coll`` / ``L_boldDebt`` are internal to the TroveManager, so only its view knows
  them —, and so are a batched trove's debt, interest and management fee (its batch's shares are internal too).
  ``Health.raw`` = ICR = entire coll x price / entire debt (1e18 = 100 %) at the price a liquidation would use;
  normalized health = ICR / MCR floored, under 1 exactly when the trove is liquidatable; ``equity`` the collateral's
  value, ``requirement`` debt x MCR. The branch's last trove cannot be liquidated (``liquidation_held``).
* **Price**: what ``PriceFeed.fetchPrice()`` returns at the block (``rules.used_price``): by ``priceSource`` and the
  oracles' answers against their staleness thresholds, the primary calculation (WETH: ETH-USD; wstETH: STETH-USD x
  stEthPerToken; rETH: min of ETH-USD x RETH-ETH and x the rate), the ETHUSDxCanonical fallback (ETH-USD x rate,
  capped by lastGoodPrice) or ``lastGoodPrice``; a call that would newly detect a failure (and shut the branch down)
  is flagged in ``detail.oracle_failure``. The collateral leg is keyed by the oracle whose answer moves that price
  (the ETH-USD or STETH-USD feed) and priced at *that oracle's* answer scaled to 18 decimals; its ``terms`` hold the
  rate (and cap) that turn it into Liquity's price, which ``detail.price`` shows. On ``lastGoodPrice`` nothing moves
  it: the leg is keyed by the PriceFeed contract itself, at lastGoodPrice. BOLD debt is the quote at face value
  (price 1, depending on nothing). Quote: USD, 18 decimals.
* **Self-check** (the sampled owners' troves, or every trove with ``verify_onchain``): in one more round, the
  PriceFeed's own ``fetchPrice()`` (sent through Multicall3: its effects, a shutdown included, stay inside the
  eth_call) and ``getCurrentICR(troveId, price)``. The local entire debt, coll and interest are also held against
  ``getLatestTroveData`` for every trove read. On a disagreement the protocol's figures are kept and
  ``detail.unverified`` says so.
* **Not modelled**: redemptions (a zombie trove is read and judged like an active one, as the TroveManager does),
  the redemption price variants, interest accrued after the block.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Failed, KeyedRound, Plan
from indexer.errors import MarketMismatchError
from indexer.hexutil import to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.liquity_v2 import rules
from indexer.protocols.liquity_v2.options import LiquityV2Options
from indexer.types import (
    ZERO_ADDRESS,
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    MarginMode,
    PositionSnapshot,
    PriceKey,
    Role,
    scaled,
)

log = logging.getLogger(__name__)

ETH = "0xEeeeeEeeeEeEeEeEeEeeEEEeeeeEeeeeeeeEEeE"  # native ether, as the ETH-USD reading's asset
QUOTE = "USD"
QUOTE_UNIT = 10**18
HEALTH_DECIMALS = 18
PRICE_DECIMALS = 18

_REGISTRY = load("liquity_v2", "AddressesRegistry")
_TROVE_MANAGER = load("liquity_v2", "TroveManager")
_BORROWER_OPERATIONS = load("liquity_v2", "BorrowerOperations")
_ACTIVE_POOL = load("liquity_v2", "ActivePool")
_PRICE_FEED = load("liquity_v2", "PriceFeed")
_TROVE_NFT = load("liquity_v2", "TroveNFT")
_ERC20 = load("liquity_v2", "ERC20")
_LST = load("liquity_v2", "LSTRate")

_ENTRY = ("troveManager", "troveNFT", "borrowerOperations", "priceFeed", "activePool", "defaultPool", "collToken",
          "boldToken")
_RATIOS = ("MCR", "CCR", "SCR")
_BRANCH = ("shutdownTime", "getTroveIdsCount", "getEntireBranchColl", "getEntireBranchDebt")
# the PriceFeed's oracle records by role, the getter naming each (the LST ones answer only on that kind of feed)
_ORACLE_GETTERS = {"eth_usd": "ethUsdOracle", "steth_usd": "stEthUsdOracle", "reth_eth": "rEthEthOracle"}
_READING_SYMBOL = {"eth_usd": "ETH", "steth_usd": "stETH", "reth_eth": "rETH/ETH"}
_RATE_CALL = {rules.PriceKind.WSTETH: "stEthPerToken", rules.PriceKind.RETH: "getExchangeRate"}
_HELD_LAST = "the branch's last trove is never liquidated (TroveManager._closeTrove reverts OnlyOneTroveLeft)"
_HELD_REVERTS = ("PriceFeed.fetchPrice() reverts at this block (a Chainlink round dated after the block), and "
                 "batchLiquidateTroves with it")


class Oracle(NamedTuple):
    """One oracle record of the branch's PriceFeed (MainnetPriceFeedBase ``Oracle``)."""

    role: str  # eth_usd | steth_usd | reth_eth
    aggregator: Address
    staleness: int
    decimals: int


class Layout(NamedTuple):
    """The branch's contracts and price setup: set at deployment, confirmed at every read before it is used."""

    trove_nft: Address
    borrower_operations: Address
    price_feed: Address
    active_pool: Address
    default_pool: Address
    coll_token: Address
    bold_token: Address
    kind: str  # rules.PriceKind
    oracles: tuple[Oracle, ...]
    rate_provider: Address | None
    symbol: str
    decimals: int


class Hint(NamedTuple):
    """The next read's hint: the layout, and every trove of the branch with its owner as last seen (a scan of the
    TroveManager's array, updated by the ownerOf reads since)."""

    layout: Layout
    troves: tuple[tuple[int, Address], ...]


class _Branch(NamedTuple):
    mcr: int
    ccr: int
    scr: int
    coll: int
    debt: int
    trove_count: int
    shutdown_time: int
    shut_down: bool
    pending_agg_interest: int | None


class _Prices(NamedTuple):
    used: rules.UsedPrice
    priced_by: Address  # the leg's price key: the moving oracle's aggregator, or the PriceFeed (lastGoodPrice)
    feed: Address | None
    round_id: int | None
    source_onchain: int
    last_good_price: int
    rate: int | None
    readings: dict[str, FeedReading]
    oracles: dict[str, rules.OracleRead]


def _addr(value: Any) -> Address:
    return to_checksum_address(value)


def _big(value: int | None) -> str | None:
    """uint256 figures go into ``detail`` as decimal strings (JSON readers lose integers above 2**53)."""
    return None if value is None else str(value)


def _ok(result: Any) -> bool:
    return not isinstance(result, Failed)


class LiquityV2Adapter:
    kind: ClassVar[str] = "liquity_v2"
    options: ClassVar[type[BaseModel] | None] = LiquityV2Options
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.liquity_v2.devnet"
    # TroveNFT: OpenZeppelin ERC721 Transfer(address indexed from, address indexed to, uint256 indexed tokenId)
    _DISCOVERY: ClassVar[DiscoverySpec] = DiscoverySpec(account_topic={_TROVE_NFT.topic("Transfer"): 2},
                                                        emitter_getter="troveNFT()")

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        registry = market.options.get("addresses_registry")
        self.registry: Address | None = _addr(registry) if isinstance(registry, str) and registry.startswith(
            "0x") else None

    def discovery(self) -> DiscoverySpec:
        return self._DISCOVERY

    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"is not a Liquity v2 branch of AddressesRegistry {self.registry} ({what})")

    # -- the calls of each part ------------------------------------------------------------------
    def _registry_calls(self, r: KeyedRound) -> None:
        if self.registry is None:
            raise self._mismatch("options.addresses_registry is not set")
        for name in (*_ENTRY, *_RATIOS):
            r.add(("reg", name), _REGISTRY.function(name).call(self.registry, allow_failure=True))

    def _branch_calls(self, r: KeyedRound, entry: Mapping[str, Address], owners: Sequence[Address]) -> None:
        manager, price_feed = self.market.address, entry["priceFeed"]
        for name in _BRANCH:
            r.add(("tm", name), _TROVE_MANAGER.function(name).call(manager))
        r.add(("bo", "hasBeenShutDown"),
              _BORROWER_OPERATIONS.function("hasBeenShutDown").call(entry["borrowerOperations"], allow_failure=True))
        r.add(("ap", "calcPendingAggInterest"),
              _ACTIVE_POOL.function("calcPendingAggInterest").call(entry["activePool"], allow_failure=True))
        # every call to a contract the registry names may fail: with a hint they go out before the registry
        # confirms the addresses (a failure then means the hint no longer holds; see ``_required``)
        for name in ("priceSource", "lastGoodPrice", "ethUsdOracle", "stEthUsdOracle", "rEthEthOracle",
                     "rateProviderAddress"):
            r.add(("pf", name), _PRICE_FEED.function(name).call(price_feed, allow_failure=True))
        for name in ("symbol", "decimals"):
            r.add(("tok", name), _ERC20.function(name).call(entry["collToken"], allow_failure=True))
        for owner in owners:
            r.add(("bal", owner), _TROVE_NFT.function("balanceOf").call(entry["troveNFT"], owner, allow_failure=True))

    @staticmethod
    def _price_calls(r: KeyedRound, layout: Layout, feeds: ChainlinkFeeds) -> None:
        for oracle in layout.oracles:
            for i, call in enumerate(feeds.calls(oracle.aggregator)):
                r.add(("feed", oracle.role, i), call)
        if layout.rate_provider is not None and layout.kind in _RATE_CALL:
            r.add(("rate",), _LST.function(_RATE_CALL[layout.kind]).call(layout.rate_provider, allow_failure=True))

    def _trove_calls(self, r: KeyedRound, trove_nft: Address, ids: Iterable[int], *, with_owner: bool = True) -> None:
        manager = self.market.address
        for trove_id in ids:
            if with_owner:
                r.add(("owner", trove_id), _TROVE_NFT.function("ownerOf").call(trove_nft, trove_id, allow_failure=True))
            r.add(("troves", trove_id), _TROVE_MANAGER.function("Troves").call(manager, trove_id))
            r.add(("latest", trove_id), _TROVE_MANAGER.function("getLatestTroveData").call(manager, trove_id))
            r.add(("snap", trove_id), _TROVE_MANAGER.function("rewardSnapshots").call(manager, trove_id))

    # -- reading -------------------------------------------------------------------------------
    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        hinted = hint if isinstance(hint, Hint) else None
        owners = list(dict.fromkeys(_addr(a) for a in accounts))
        asked = set(owners)
        checked_owners = asked if self.market.verify_onchain else {_addr(c) for c in check} & asked
        speculated = [tid for tid, owner in hinted.troves if owner in asked] if hinted else []

        first = KeyedRound()
        self._registry_calls(first)
        if hinted is not None:
            self._branch_calls(first, _entry_of(hinted.layout, self.market.address), owners)
            self._price_calls(first, hinted.layout, feeds)
            self._trove_calls(first, hinted.layout.trove_nft, speculated)
        got = first.results((yield first.calls))
        entry, ratios = self._entry_points(got)

        layout: Layout | None = None
        if (hinted is not None and _entry_of(hinted.layout, self.market.address) == entry
                and not _required(got, owners)):
            layout = self._layout(entry, got)
            if layout != hinted.layout:
                layout = None
        if layout is None:
            if hinted is not None:
                log.info("liquity_v2 branch layout changed market=%s block=%d; reading it afresh", self.market.key,
                         block.number)
            got = {k: v for k, v in got.items() if k[0] == "reg"}
            second = KeyedRound()
            self._branch_calls(second, entry, owners)
            got.update(second.results((yield second.calls)))
            if failed := _required(got, owners):
                raise self._mismatch(f"{', '.join(failed)} reverted")
            layout = self._layout(entry, got)
            hinted, speculated = None, []
        branch = self._branch(got, ratios)

        # which troves the owners hold: the hinted ones still theirs, confirmed by their NFT balances
        index: dict[int, Address] = dict(hinted.troves) if hinted is not None else {}
        for trove_id in speculated:
            answer = got[("owner", trove_id)]
            if _ok(answer):
                index[trove_id] = _addr(answer[0])
            else:
                index.pop(trove_id, None)  # burned: closed or liquidated
        balances = {owner: int(got[("bal", owner)][0]) for owner in owners}
        held = _held(index, speculated, asked)
        stale = [o for o in owners if balances[o] != len(held.get(o, ()))]
        nxt = KeyedRound()
        if hinted is None:  # else the feeds were read with the hinted layout, which held
            self._price_calls(nxt, layout, feeds)
        if stale:
            count = branch.trove_count
            log.info("liquity_v2 scanning the branch's troves market=%s block=%d troves=%d owners_changed=%d",
                     self.market.key, block.number, count, len(stale))
            for i in range(count):
                nxt.add(("idx", i), _TROVE_MANAGER.function("getTroveFromTroveIdsArray").call(self.market.address, i))
        if nxt.calls:
            got.update(nxt.results((yield nxt.calls)))
        if stale:
            ids = [int(got[("idx", i)][0]) for i in range(branch.trove_count)]
            owners_round = KeyedRound()
            for trove_id in ids:
                owners_round.add(("owner", trove_id),
                                 _TROVE_NFT.function("ownerOf").call(layout.trove_nft, trove_id, allow_failure=True))
            answers = owners_round.results((yield owners_round.calls))
            index = {tid: _addr(a[0]) for (_, tid), a in answers.items() if _ok(a)}
            got.update(answers)
            held = _held(index, ids, asked)
            for owner in stale:
                if balances[owner] != len(held.get(owner, ())):
                    log.warning("liquity_v2 owner's NFT balance and the branch's troves disagree market=%s block=%d "
                                "owner=%s balance=%d found=%d", self.market.key, block.number, owner,
                                balances[owner], len(held.get(owner, ())))
        wanted = [tid for owner in owners for tid in held.get(owner, ())]
        missing = [tid for tid in wanted if ("troves", tid) not in got]
        if missing:
            more = KeyedRound()
            self._trove_calls(more, layout.trove_nft, missing, with_owner=False)
            got.update(more.results((yield more.calls)))

        prices = self._prices(layout, got, feeds, block)
        snapshots: list[PositionSnapshot] = []
        for owner in owners:
            for trove_id in sorted(held.get(owner, ())):
                snapshot = self._snapshot(owner, trove_id, got, block, layout, branch, prices)
                if snapshot is not None:
                    snapshots.append(snapshot)

        compared, mismatched = 0, []
        looked = [s for s in snapshots if s.owner in checked_owners]
        if looked:
            check_round = KeyedRound()
            check_round.add(("fetchPrice",), _PRICE_FEED.function("fetchPrice").call(layout.price_feed,
                                                                                    allow_failure=True))
            for s in looked:
                trove_id = int(s.detail["trove_id"])
                check_round.add(("icr", trove_id), _TROVE_MANAGER.function("getCurrentICR").call(
                    self.market.address, trove_id, prices.used.price, allow_failure=True))
            answers = check_round.results((yield check_round.calls))
            price_agrees = self._check_price(answers[("fetchPrice",)], prices, layout, snapshots, block)
            for s in looked:
                icr = answers[("icr", int(s.detail["trove_id"]))]
                if not _ok(icr):
                    log.warning("liquity_v2 self-check view reverted market=%s account=%s block=%d", self.market.key,
                                s.account, block.number)
                    continue
                compared += 1
                agrees = price_agrees and not s.detail.get("self_check")
                if price_agrees and not _keep_protocol_icr(s, int(icr[0])):
                    agrees = False
                if not agrees:
                    mismatched.append(s.account)
        log.debug("liquity_v2 read market=%s block=%d owners=%d troves=%d price_source=%s shutdown=%s",
                  self.market.key, block.number, len(owners), len(snapshots), prices.used.source,
                  branch.shutdown_time != 0)
        next_hint = Hint(layout, tuple(sorted(index.items())))
        return MarketRead(snapshots, list(prices.readings.values()), [], hint=next_hint, checked=compared,
                          mismatched=mismatched)

    # -- decoding --------------------------------------------------------------------------------
    def _entry_points(self, got: Mapping[tuple[Any, ...], Any]) -> tuple[dict[str, Address], tuple[int, int, int]]:
        answers = {name: got[("reg", name)] for name in (*_ENTRY, *_RATIOS)}
        failed = [name for name, answer in answers.items() if not _ok(answer)]
        if failed:
            raise self._mismatch(f"the registry does not answer {', '.join(failed)}")
        entry = {name: _addr(answers[name][0]) for name in _ENTRY}
        if entry["troveManager"] != _addr(self.market.address):
            raise self._mismatch(f"the registry's troveManager() is {entry['troveManager']}")
        mcr, ccr, scr = (int(answers[name][0]) for name in _RATIOS)
        if mcr <= 0:
            raise self._mismatch("MCR() is 0")
        return entry, (mcr, ccr, scr)

    def _layout(self, entry: Mapping[str, Address], got: Mapping[tuple[Any, ...], Any]) -> Layout:
        oracles = []
        for role, getter in _ORACLE_GETTERS.items():
            answer = got[("pf", getter)]
            if _ok(answer):
                aggregator, staleness, decimals = answer
                oracles.append(Oracle(role, _addr(aggregator), int(staleness), int(decimals)))
        roles = {o.role for o in oracles}
        kind = (rules.PriceKind.WSTETH if "steth_usd" in roles else rules.PriceKind.RETH if "reth_eth" in roles
                else rules.PriceKind.WETH)
        rate = got[("pf", "rateProviderAddress")]
        rate_provider = _addr(rate[0]) if _ok(rate) and kind != rules.PriceKind.WETH else None
        symbol, decimals = got[("tok", "symbol")], got[("tok", "decimals")]
        return Layout(trove_nft=entry["troveNFT"], borrower_operations=entry["borrowerOperations"],
                      price_feed=entry["priceFeed"], active_pool=entry["activePool"],
                      default_pool=entry["defaultPool"], coll_token=entry["collToken"], bold_token=entry["boldToken"],
                      kind=kind, oracles=tuple(oracles), rate_provider=rate_provider,
                      symbol=str(symbol[0]) if _ok(symbol) else "COLL",
                      decimals=int(decimals[0]) if _ok(decimals) else 18)

    @staticmethod
    def _branch(got: Mapping[tuple[Any, ...], Any], ratios: tuple[int, int, int]) -> _Branch:
        shutdown_time, count, coll, debt = (int(got[("tm", name)][0]) for name in _BRANCH)
        flag = got[("bo", "hasBeenShutDown")]
        pending = got[("ap", "calcPendingAggInterest")]
        return _Branch(*ratios, coll=coll, debt=debt, trove_count=count, shutdown_time=shutdown_time,
                       shut_down=bool(flag[0]) if _ok(flag) else shutdown_time != 0,
                       pending_agg_interest=int(pending[0]) if _ok(pending) else None)

    def _prices(self, layout: Layout, got: Mapping[tuple[Any, ...], Any], feeds: ChainlinkFeeds,
                block: BlockRef) -> _Prices:
        readings: dict[str, FeedReading] = {}
        oracles: dict[str, rules.OracleRead] = {}
        for oracle in layout.oracles:
            results = [got[k] for k in sorted((k for k in got if k[:2] == ("feed", oracle.role)), key=lambda k: k[2])]
            asset = ETH if oracle.role == "eth_usd" else layout.coll_token
            reading = feeds.decode(oracle.aggregator, results, asset=asset, symbol=_READING_SYMBOL[oracle.role])
            readings[oracle.role] = reading
            ok = reading.error is None and reading.answer is not None
            oracles[oracle.role] = rules.OracleRead(staleness=oracle.staleness, decimals=oracle.decimals,
                                                    answer=reading.answer if ok else None,
                                                    updated_at=reading.updated_at if ok else None)
        rate_answer = got.get(("rate",))
        rate = int(rate_answer[0]) if rate_answer is not None and _ok(rate_answer) else None
        source, last_good = int(got[("pf", "priceSource")][0]), int(got[("pf", "lastGoodPrice")][0])
        used = rules.used_price(layout.kind, source, last_good, oracles, block.timestamp, rate)
        if used.key_oracle is None:
            priced_by, feed, round_id = layout.price_feed, None, None
        else:
            aggregator = next(o.aggregator for o in layout.oracles if o.role == used.key_oracle)
            priced_by, feed, round_id = aggregator, aggregator, readings[used.key_oracle].round_id
        if used.source != "primary" or used.oracle_failure or used.reverts:
            log.info("liquity_v2 price off its primary calculation market=%s block=%d price_source=%s onchain=%d "
                     "oracle_failure=%s reverts=%s", self.market.key, block.number, used.source, source,
                     used.oracle_failure, used.reverts)
        return _Prices(used, priced_by, feed, round_id, source, last_good, rate, readings, oracles)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, owner: Address, trove_id: int, got: Mapping[tuple[Any, ...], Any], block: BlockRef,
                  layout: Layout, branch: _Branch, prices: _Prices) -> PositionSnapshot | None:
        (debt, coll, stake, status, array_index, last_debt_update, last_rate_adj, rate, batch_manager,
         batch_shares) = got[("troves", trove_id)]
        latest = [int(v) for v in got[("latest", trove_id)]]
        snap_coll, snap_debt = got[("snap", trove_id)]
        if status not in rules.OPEN_STATUSES:
            log.warning("liquity_v2 an owned trove is not open market=%s trove=%d status=%d", self.market.key,
                        trove_id, status)
            return None
        view = rules.EntireTrove(debt=latest[0], coll=latest[1], redist_debt=latest[2], redist_coll=latest[3],
                                 accrued_interest=latest[4], batch_fee=latest[8])
        batched = _addr(batch_manager) != ZERO_ADDRESS
        if batched:  # a batch's shares are internal to the TroveManager: its view's figures are the only ones
            entire = view
        else:
            entire = rules.entire_trove(recorded_debt=debt, recorded_coll=coll, annual_rate=rate,
                                        last_debt_update=last_debt_update, now=block.timestamp,
                                        shutdown_time=branch.shutdown_time, redist_debt=view.redist_debt,
                                        redist_coll=view.redist_coll)
        account = f"{owner}:{trove_id}"
        used = prices.used
        terms = {"mcr": branch.mcr, "rate": used.model.rate, "market_rate": used.model.market_rate,
                 "cap": used.model.cap}
        legs = [Leg(asset=layout.coll_token, symbol=layout.symbol, decimals=layout.decimals, role=Role.COLLATERAL,
                    amount=entire.coll, price=used.key_price, price_decimals=PRICE_DECIMALS,
                    price_key=prices.priced_by, value=0, feed=prices.feed, round_id=prices.round_id, terms=terms),
                Leg(asset=layout.bold_token, symbol="BOLD", decimals=18, role=Role.DEBT, amount=entire.debt, price=1,
                    price_decimals=0, price_key=layout.bold_token, value=entire.debt)]
        detail: dict[str, Any] = {
            "branch": layout.symbol, "trove_id": str(trove_id), "owner": owner,
            "status": int(status), "status_name": rules.TroveStatus(status).name,
            "mcr": _big(branch.mcr), "ccr": _big(branch.ccr), "scr": _big(branch.scr),
            "branch_coll": _big(branch.coll), "branch_debt": _big(branch.debt), "trove_count": branch.trove_count,
            "pending_agg_interest": _big(branch.pending_agg_interest),
            "shutdown_time": branch.shutdown_time, "shut_down": branch.shut_down,
            "recorded_debt": _big(latest[5] if batched else debt),
            "recorded_coll": _big(coll), "stake": _big(stake), "array_index": int(array_index),
            "accrued_interest": _big(entire.accrued_interest), "redist_debt_gain": _big(entire.redist_debt),
            "redist_coll_gain": _big(entire.redist_coll), "annual_interest_rate": _big(int(latest[6])),
            "last_debt_update_time": int(last_debt_update), "last_interest_rate_adj_time": int(last_rate_adj),
            "reward_snapshot_coll": _big(int(snap_coll)), "reward_snapshot_debt": _big(int(snap_debt)),
            "interest_batch_manager": _addr(batch_manager) if batched else None,
            "batch_debt_shares": _big(int(batch_shares)) if batched else None,
            "accrued_batch_management_fee": _big(entire.batch_fee) if batched else None,
            "price_feed": layout.price_feed, "price_feed_kind": layout.kind,
            "price_source": used.source, "price_source_onchain": _source_name(prices.source_onchain),
            "last_good_price": _big(prices.last_good_price), "lst_rate": _big(prices.rate),
            "oracle_failure": used.oracle_failure, "price_reverts": used.reverts, "price_model": used.model.kind,
            "oracles": {role: {"feed": prices.readings[role].address, "answer": _big(o.answer),
                               "updated_at": o.updated_at, "decimals": o.decimals, "staleness": o.staleness,
                               "round_id": _big(prices.readings[role].round_id),
                               "good": not rules.oracle_verdict(o, block.timestamp).down}
                        for role, o in prices.oracles.items()},
        }
        if branch.trove_count <= 1:
            detail["liquidation_held"] = _HELD_LAST
        elif used.reverts:
            detail["liquidation_held"] = _HELD_REVERTS
        if entire[:5] != view[:5]:
            log.error("liquity_v2 self-check: the local trove figures differ from getLatestTroveData market=%s "
                      "trove=%d block=%d local=%s protocol=%s", self.market.key, trove_id, block.number, entire, view)
            detail["self_check"] = {"local": [str(v) for v in entire[:5]], "protocol": [str(v) for v in view[:5]]}
            detail["unverified"] = ("the local interest or entire debt/coll differ from "
                                    "TroveManager.getLatestTroveData; the protocol's figures are kept")
            legs = [dataclasses.replace(legs[0], amount=view.coll),
                    dataclasses.replace(legs[1], amount=view.debt, value=view.debt)]
            detail.update(accrued_interest=_big(view.accrued_interest), redist_debt_gain=_big(view.redist_debt),
                          redist_coll_gain=_big(view.redist_coll))
        detail.update(entire_debt=_big(legs[1].amount), entire_coll=_big(legs[0].amount))
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=account, owner=owner, block=block, legs=legs, margin_mode=MarginMode.ISOLATED,
            health=Health(raw=0, decimals=HEALTH_DECIMALS, health=None, equity=0, requirement=0, collateral=0, debt=0,
                          quote=QUOTE, quote_unit=QUOTE_UNIT),
            detail=detail)
        return _priced(snapshot, used.key_price)

    def _check_price(self, answer: Any, prices: _Prices, layout: Layout, snapshots: list[PositionSnapshot],
                     block: BlockRef) -> bool:
        """The PriceFeed's own fetchPrice() at the block against the local rule; on a disagreement every trove is
        repriced at the protocol's price (keyed by the PriceFeed: no feed answer is known to move it)."""
        used = prices.used
        if not _ok(answer):
            if used.reverts:
                return True
            log.error("liquity_v2 self-check: fetchPrice() reverted where the local rule priced %d market=%s "
                      "block=%d reason=%s", used.price, self.market.key, block.number, answer.reason)
            return False
        price, failure = int(answer[0]), bool(answer[1])
        if not used.reverts and (price, failure) == (used.price, used.oracle_failure):
            return True
        log.error("liquity_v2 self-check: fetchPrice() differs from the local price rule market=%s block=%d "
                  "local=%s protocol=%s", self.market.key, block.number, (used.price, used.oracle_failure),
                  (price, failure))
        for s in snapshots:
            coll_leg, debt_leg = _legs(s)
            s.legs = [dataclasses.replace(coll_leg, price=price, price_key=layout.price_feed, feed=None,
                                          round_id=None, terms={**coll_leg.terms, "rate": 0, "market_rate": 0,
                                                                "cap": 0}), debt_leg]
            s.detail.update(price_model="direct", price_source="fetchPrice", oracle_failure=failure,
                            price_reverts=False,
                            unverified="the local price rule differs from PriceFeed.fetchPrice(); its price is kept")
            if s.detail.get("liquidation_held") == _HELD_REVERTS:
                del s.detail["liquidation_held"]
            _priced(s, price)
        return False

    # -- questions about a position ------------------------------------------------------------
    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """The key behind the collateral's price (an oracle, or the PriceFeed on lastGoodPrice): BOLD is the quote."""
        return {leg.price_key for leg in snapshot.legs if leg.role is Role.COLLATERAL}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        """The trove at another price of its key (that oracle's answer scaled to 18 decimals), turned into Liquity's
        price as the position's price model says (rate, cap); amounts, MCR and the branch as read. Without a new price
        the figures are still recomputed from the legs' amounts at the key's price as read (the what-if of a changed
        amount: ``indexer.risk.safety``)."""
        coll_leg, _ = _legs(snapshot)
        copy = dataclasses.replace(snapshot, legs=list(snapshot.legs), detail=dict(snapshot.detail))
        return _priced(copy, prices.get(coll_leg.price_key, coll_leg.price))

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.reprice(snapshot, prices).health

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        coll_leg, debt_leg = _legs(snapshot)
        coll, debt, mcr = coll_leg.amount, debt_leg.amount, int(snapshot.detail["mcr"])
        model, held = _model(snapshot), bool(snapshot.detail.get("liquidation_held"))
        if key != coll_leg.price_key:
            fixed = not rules.liquidatable(coll, debt, rules.collateral_price(model, coll_leg.price), mcr, held=held)
            return lambda price: fixed
        return lambda price: not rules.liquidatable(coll, debt, rules.collateral_price(model, price), mcr, held=held)

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """The last price of the key (18 decimals, falling) at which batchLiquidateTroves would skip the trove: the
        smallest with ICR >= MCR after the price model. None for the branch's last trove (never liquidated), without
        debt, or when every price liquidates it (no collateral; a cap under the line)."""
        coll_leg, debt_leg = _legs(snapshot)
        wanted = self.price_dependencies(snapshot) if keys is None else self.price_dependencies(snapshot) & set(keys)
        if not wanted or snapshot.detail.get("liquidation_held"):
            return {}
        price = rules.liquidation_key_price(coll_leg.amount, debt_leg.amount, int(snapshot.detail["mcr"]),
                                            _model(snapshot))
        return {} if price is None else {coll_leg.price_key: LiquidationPoint(price, falling=True)}

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """The trove's entire BOLD debt after ``repayBold(troveId, -change)``, or its entire collateral after
        ``addColl(troveId, change)``, sent in a block at the read's own time, as liquity/bold books them
        (contracts/src/BorrowerOperations.sol ``_adjustTrove``, contracts/src/TroveManager.sol ``onAdjustTrove``).

        Exact, not an estimate: ``_adjustTrove`` starts from ``getLatestTroveData`` at ``block.timestamp`` — the
        recorded debt plus the interest accrued to that second at the trove's rate plus the redistribution gains,
        i.e. the legs' amounts, which are read (and checked against that view) at the snapshot's block — and books
        ``entireColl + collIncrease`` and ``entireDebt - debtDecrease`` with no fee (the upfront fee is charged on
        debt increases and premature rate changes only) and no rounding; ``onAdjustTrove`` stores them with the
        interest clock restarted and the gains applied, so in that block the entire figures are exactly those. A
        repayment beyond ``entireDebt - MIN_DEBT`` is capped there (``rules.debt_after_repayment``): the debt books
        MIN_DEBT and the excess is not taken, so any larger repayment reaches the same health.

        None where the book is not that or the adjustment reverts whatever the amount:

        - a batched trove: its debt is a share of its batch's (``_updateBatchShares`` rounds the shares, over batch
          totals the read does not hold);
        - a trove that is not active (a zombie: ``repayBold`` and ``addColl`` require an active trove), a branch
          shut down (``_requireIsNotShutDown``), a price feed that would newly detect an oracle failure
          (``_requireOraclesLive``) or revert at the block;
        - a repayment on a trove whose debt is at or under MIN_DEBT (capped to nothing: ``ZeroAdjustment``);
        - a deposit on the debt leg (a borrowing, with its upfront fee) or a repayment on the collateral leg.

        An adjustment leaving the ICR under MCR reverts too (``_requireICRisAboveMCR``); those amounts are still
        answered with the booked figure: they leave the trove under any health target of 1 or more, so they never
        decide the smallest amount that reaches one. The payer's BOLD balance is the payer's business."""
        coll_leg, debt_leg = _legs(snapshot)
        detail = snapshot.detail
        if (detail.get("interest_batch_manager") or detail.get("status") != rules.TroveStatus.active
                or detail.get("shut_down") or int(detail.get("shutdown_time") or 0) != 0
                or detail.get("oracle_failure")
                or detail.get("price_reverts", detail.get("liquidation_held") == _HELD_REVERTS)):
            return None
        if leg == debt_leg and change <= 0:
            return leg.amount if change == 0 else rules.debt_after_repayment(leg.amount, -change)
        if leg == coll_leg and change >= 0:
            return leg.amount + change
        return None

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """A new Chainlink answer as Liquity's PriceFeed scales it (``_scaleChainlinkPriceTo18decimals``), keyed by
        the feed; each position's price model turns it into its collateral price. None for an answer the feed would
        call bad (not positive) or a failed read."""
        if (reading.error is not None or reading.answer is None or reading.answer <= 0 or reading.decimals is None
                or reading.decimals > rules.TARGET_DIGITS):
            return None
        return reading.address, rules.scale_to_18(reading.answer, reading.decimals)


def _required(got: Mapping[tuple[Any, ...], Any], owners: Sequence[Address]) -> list[str]:
    """The branch calls that must answer (the price feed's state and ETH-USD oracle, the NFT balances) and did not."""
    keys = [("pf", "priceSource"), ("pf", "lastGoodPrice"), ("pf", "ethUsdOracle"), *(("bal", o) for o in owners)]
    return [f"{k[1]}" for k in keys if not _ok(got[k])]


def _source_name(source: int) -> str:
    try:
        return rules.PriceSource(source).name
    except ValueError:
        return str(source)


def _entry_of(layout: Layout, manager: Address) -> dict[str, Address]:
    return {"troveManager": _addr(manager), "troveNFT": layout.trove_nft,
            "borrowerOperations": layout.borrower_operations, "priceFeed": layout.price_feed,
            "activePool": layout.active_pool, "defaultPool": layout.default_pool, "collToken": layout.coll_token,
            "boldToken": layout.bold_token}


def _held(index: Mapping[int, Address], ids: Iterable[int], asked: set[Address]) -> dict[Address, list[int]]:
    """The troves among ``ids`` whose owner (by ``index``) is asked for, by owner."""
    held: dict[Address, list[int]] = {}
    for trove_id in ids:
        owner = index.get(trove_id)
        if owner in asked:
            held.setdefault(owner, []).append(trove_id)
    return held


def _legs(snapshot: PositionSnapshot) -> tuple[Leg, Leg]:
    coll = next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)
    debt = next(leg for leg in snapshot.legs if leg.role is Role.DEBT)
    return coll, debt


def _model(snapshot: PositionSnapshot) -> rules.Model:
    coll_leg, _ = _legs(snapshot)
    terms = coll_leg.terms
    return rules.Model(str(snapshot.detail.get("price_model", "direct")), rate=terms.get("rate", 0),
                       market_rate=terms.get("market_rate", 0), cap=terms.get("cap", 0))


def _keep_protocol_icr(snapshot: PositionSnapshot, icr: int) -> bool:
    """The self-check's ``getCurrentICR(troveId, price)`` against the local ICR; on a disagreement the protocol's is
    kept (health and ``detail.icr``). Returns whether they agreed."""
    local = snapshot.health.raw
    if local == icr:
        return True
    log.error("liquity_v2 self-check: getCurrentICR differs market=%s account=%s block=%d local=%d protocol=%d",
              snapshot.market, snapshot.account, snapshot.block.number, local, icr)
    mcr = int(snapshot.detail["mcr"])
    debt = snapshot.health.debt
    snapshot.health = dataclasses.replace(
        snapshot.health, raw=icr, health=scaled(rules.health_ratio(icr, mcr), HEALTH_DECIMALS) if debt else None)
    snapshot.detail.update(icr=str(icr), unverified="the local ICR differs from TroveManager.getCurrentICR; the "
                           "protocol's is kept", self_check_icr={"local": str(local), "protocol": str(icr)})
    return False


def _priced(snapshot: PositionSnapshot, key_price: int) -> PositionSnapshot:
    """The snapshot with its collateral key at ``key_price``: Liquity's price through the position's price model, the
    collateral's value, ICR, health, and the detail's price, ICR and TCR (in place; returned)."""
    coll_leg, debt_leg = _legs(snapshot)
    detail = snapshot.detail
    price = rules.collateral_price(_model(snapshot), key_price)
    mcr = int(detail["mcr"])
    coll, debt = coll_leg.amount, debt_leg.amount
    icr = rules.compute_cr(coll, debt, price)
    value = rules.usd_value(coll, price)
    snapshot.legs = [dataclasses.replace(coll_leg, price=key_price, value=value), debt_leg]
    snapshot.health = Health(
        raw=icr, decimals=HEALTH_DECIMALS,
        health=scaled(rules.health_ratio(icr, mcr), HEALTH_DECIMALS) if debt else None,
        equity=value, requirement=debt * mcr // rules.DECIMAL_PRECISION, collateral=value, debt=debt,
        quote=QUOTE, quote_unit=QUOTE_UNIT)
    total = rules.tcr(int(detail["branch_coll"]), int(detail["branch_debt"]), price)
    detail.update(price=str(price), icr=str(icr), tcr=str(total), below_ccr=total < int(detail["ccr"]),
                  below_scr=total < int(detail["scr"]))
    return snapshot
