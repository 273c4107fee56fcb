"""Liquity v1 (LUSD against ETH, Ethereum mainnet): one configured market is one TroveManager, one position per
active trove.

Reads at the pinned block, in Multicall3 rounds: the TroveManager's entry points (``priceFeed``,
``stabilityPool``, ``lusdToken``), its constants (``MCR``, ``CCR``), the redistribution sums (``L_ETH``,
``L_LUSDDebt``), the system's entire coll and debt (``getEntireSystemColl/Debt``: active + default pool) and
trove count, and per account ``Troves`` and ``rewardSnapshots``; then the PriceFeed's ``lastGoodPrice``,
``status`` and ``priceAggregator`` and the Stability Pool's ``getTotalLUSDDeposits``; then the Chainlink
feed. A previous read's addresses (the hint: they never change once Liquity's ``setAddresses`` renounced
ownership) let all of it go in one round, every address confirmed at the block in that same round; the
self-check's ``getCurrentICR(account, price)`` needs the price, so it takes one more.

Health, exactly as TroveManager decides ``liquidate(borrower)`` (see ``rules.verdict``): the trove's entire
coll and debt (pending redistribution rewards included, ``getEntireDebtAndColl``) give
``ICR = coll * price / debt``; ``Health.raw`` is that ICR (1e18 = 100 %) and the normalized health is
``ICR / threshold`` where the threshold is the rule that applies at the block: MCR in normal mode; in
recovery mode (TCR < CCR) ``max(MCR, TCR)`` when the Stability Pool holds the trove's entire debt, else MCR.
``detail`` says which (``mode``, ``rule``, ``threshold``, ``tcr``, ...).

Price: what a liquidation would take from ``PriceFeed.fetchPrice()`` at this block, by a documented rule
(``rules.liquidation_price_source``): the Chainlink ETH/USD answer scaled to 18 decimals
(``_scaleChainlinkPriceByDigits``) when the PriceFeed follows Chainlink (status ``chainlinkWorking`` or
``usingChainlinkTellorUntrusted``) and the current round is neither broken nor frozen; otherwise
``lastGoodPrice`` (noted in ``detail.price_note``). Both figures are in ``detail`` beside the status.

Design choices: the quote is USD with 18 decimals — Liquity values collateral at the ETH:USD price and debt in
LUSD at face value (1 LUSD = 1 USD in every ratio it computes), so the LUSD debt leg is priced 1 and depends on
nothing. The collateral leg (ETH, at the sentinel address 0xEeee…EEeE) is keyed by the Chainlink feed
(``priceAggregator``), the only price that moves it; its price is Liquity's (18 decimals), not the feed's raw
8-decimal answer. When the PriceFeed does not follow Chainlink the price does not move with the feed:
``reprice``, ``healthy_at`` and ``liquidation_points`` keep ``lastGoodPrice`` then.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed, Plan
from indexer.hexutil import to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.liquity_v1 import rules
from indexer.types import (
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    PositionSnapshot,
    PriceKey,
    Role,
    scaled,
)

log = logging.getLogger(__name__)

ETH = "0xEeeeeEeeeEeEeEeEeEeeEEEeeeeEeeeeeeeEEeE"  # native ether, as many protocols name it
QUOTE = "USD"
QUOTE_UNIT = 10**18
HEALTH_DECIMALS = 18
PRICE_DECIMALS = 18

_TROVE_MANAGER = load("liquity_v1", "TroveManager")
_BORROWER_OPERATIONS = load("liquity_v1", "BorrowerOperations")
_PRICE_FEED = load("liquity_v1", "PriceFeed")
_STABILITY_POOL = load("liquity_v1", "StabilityPool")

_SYSTEM = ("priceFeed", "stabilityPool", "lusdToken", "MCR", "CCR", "L_ETH", "L_LUSDDebt", "getEntireSystemColl",
           "getEntireSystemDebt", "getTroveOwnersCount")
_TROVES = _TROVE_MANAGER.function("Troves")
_SNAPSHOTS = _TROVE_MANAGER.function("rewardSnapshots")
_ENTIRE = _TROVE_MANAGER.function("getEntireDebtAndColl")
_CURRENT_ICR = _TROVE_MANAGER.function("getCurrentICR")


class Layout(NamedTuple):
    """What never changes for a TroveManager (set once by Liquity's setAddresses): the next read's hint."""

    price_feed: Address
    stability_pool: Address
    lusd_token: Address
    aggregator: Address


class _Prices(NamedTuple):
    """The PriceFeed and the Chainlink feed at the block, and the price a liquidation would use."""

    last_good_price: int
    status: int
    reading: FeedReading
    chainlink_price: int | None
    used: rules.UsedPrice


def _addr(value: Any) -> Address:
    return to_checksum_address(value)


def _big(value: int | None) -> str | None:
    """uint256 figures go into ``detail`` as decimal strings (JSON readers lose integers above 2**53)."""
    return None if value is None else str(value)


class LiquityV1Adapter:
    kind: ClassVar[str] = "liquity_v1"
    options: ClassVar[type[BaseModel] | None] = None
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.liquity_v1.devnet"
    # TroveUpdated(address indexed _borrower, uint _debt, uint _coll, uint _stake, uint8 _operation): the
    # borrower is topic1. TroveManager and BorrowerOperations both declare it (their enums are both uint8, so
    # one topic0); discovery scans BorrowerOperations (TroveManager's borrowerOperationsAddress()), which emits
    # it for every open, adjustment and close: every trove is opened there. TroveManager's own (liquidations,
    # redemptions, applied rewards) only ever name troves opened before.
    _DISCOVERY: ClassVar[DiscoverySpec] = DiscoverySpec(
        account_topic={_BORROWER_OPERATIONS.topic("TroveUpdated"): 1},
        emitter_getter="borrowerOperationsAddress()")

    def __init__(self, market: MarketRef) -> None:
        self.market = market

    def discovery(self) -> DiscoverySpec:
        return self._DISCOVERY

    # -- reading -------------------------------------------------------------------------------
    def _price_calls(self, price_feed: Address, stability_pool: Address, *, allow_failure: bool) -> list[Call]:
        return [_PRICE_FEED.function("lastGoodPrice").call(price_feed, allow_failure=allow_failure),
                _PRICE_FEED.function("status").call(price_feed, allow_failure=allow_failure),
                _PRICE_FEED.function("priceAggregator").call(price_feed, allow_failure=allow_failure),
                _STABILITY_POOL.function("getTotalLUSDDeposits").call(stability_pool, allow_failure=allow_failure)]

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        manager = self.market.address
        checked = set(accounts) if self.market.verify_onchain else set(check)
        layout = hint if isinstance(hint, Layout) else None
        calls = [_TROVE_MANAGER.function(name).call(manager) for name in _SYSTEM]
        for account in accounts:
            calls += [_TROVES.call(manager, account), _SNAPSHOTS.call(manager, account)]
            if account in checked:
                calls.append(_ENTIRE.call(manager, account, allow_failure=True))
        own = len(calls)
        if layout is not None:  # speculate on the previous read's addresses: confirmed below, at this block
            calls += self._price_calls(layout.price_feed, layout.stability_pool, allow_failure=True)
            calls += feeds.calls(layout.aggregator)
        got = yield calls
        price_feed, stability_pool, lusd_token = (_addr(got[n][0]) for n in range(3))
        mcr, ccr, l_eth, l_lusd_debt, system_coll, system_debt, owners = (got[n][0] for n in range(3, len(_SYSTEM)))

        speculated = got[own:]
        if (layout is not None and (layout.price_feed, layout.stability_pool, layout.lusd_token)
                == (price_feed, stability_pool, lusd_token)
                and not any(isinstance(r, Failed) for r in speculated[:4])
                and _addr(speculated[2][0]) == layout.aggregator):
            feed_results = speculated[4:]
            price_reads = speculated[:4]
        else:
            if layout is not None:
                log.info("liquity_v1 entry points changed market=%s block=%d; reading them afresh",
                         self.market.key, block.number)
            price_reads = yield self._price_calls(price_feed, stability_pool, allow_failure=False)
            layout = Layout(price_feed, stability_pool, lusd_token, _addr(price_reads[2][0]))
            feed_results = yield feeds.calls(layout.aggregator)
        prices = self._prices(layout, price_reads, feed_results, feeds, block)
        system = rules.System(coll=system_coll, debt=system_debt, stability_pool=price_reads[3][0],
                              trove_owners=owners, mcr=mcr, ccr=ccr)

        snapshots: list[PositionSnapshot] = []
        protocol_entire: dict[Address, tuple[int, ...] | None] = {}
        at = len(_SYSTEM)
        for account in accounts:
            (debt, coll, stake, status, _), (snapshot_eth, snapshot_lusd_debt) = got[at], got[at + 1]
            at += 2
            if account in checked:
                protocol_entire[account] = None if isinstance(got[at], Failed) else tuple(got[at])
                at += 1
            if status != rules.TroveStatus.active:
                continue  # no trove (never opened, closed, liquidated or redeemed)
            entire = rules.entire_debt_and_coll(
                debt=debt, coll=coll, stake=stake, status=status, l_eth=l_eth, l_lusd_debt=l_lusd_debt,
                snapshot_eth=snapshot_eth, snapshot_lusd_debt=snapshot_lusd_debt)
            stored = {"stored_debt": _big(debt), "stored_coll": _big(coll), "stake": _big(stake),
                      "reward_snapshot_eth": _big(snapshot_eth), "reward_snapshot_lusd_debt": _big(snapshot_lusd_debt),
                      "l_eth": _big(l_eth), "l_lusd_debt": _big(l_lusd_debt)}
            snapshots.append(self._snapshot(account, block, layout, prices, system, entire, stored))

        compared, mismatched = 0, []
        looked = [s for s in snapshots if s.account in checked]
        if looked:
            price = prices.used.price
            icrs = yield [_CURRENT_ICR.call(manager, s.account, price, allow_failure=True) for s in looked]
            for snapshot, icr in zip(looked, icrs, strict=True):
                entire_onchain = protocol_entire.get(snapshot.account)
                if entire_onchain is None or isinstance(icr, Failed):
                    log.warning("liquity_v1 self-check view reverted market=%s account=%s block=%d",
                                self.market.key, snapshot.account, block.number)
                    continue
                compared += 1
                if not self._keep_protocol_figures(snapshot, (*entire_onchain, icr[0]), system):
                    mismatched.append(snapshot.account)
        log.debug("liquity_v1 read market=%s block=%d accounts=%d troves=%d mode=%s price_source=%s",
                  self.market.key, block.number, len(accounts), len(snapshots),
                  "recovery" if rules.is_recovery_mode(rules.tcr(system.coll, system.debt, prices.used.price), ccr)
                  else "normal", prices.used.source)
        return MarketRead(snapshots, [prices.reading], [], hint=layout, checked=compared, mismatched=mismatched)

    def _prices(self, layout: Layout, price_reads: Sequence[Any], feed_results: list[Any], feeds: ChainlinkFeeds,
                block: BlockRef) -> _Prices:
        (last_good_price,), (status,) = price_reads[0], price_reads[1]
        reading = feeds.decode(layout.aggregator, feed_results, asset=ETH, symbol="ETH")
        # PriceFeed._getCurrentChainlinkResponse fails when decimals() reverts: ChainlinkFeeds keeps a feed's
        # decimals only once that call succeeded
        decimals_known = layout.aggregator in feeds.known
        chainlink_price = None
        usable = False
        if decimals_known and reading.error is None and reading.answer is not None and reading.answer > 0:
            chainlink_price = rules.scale_chainlink_price(reading.answer, reading.decimals or 0)
            usable = rules.chainlink_answer_usable(round_id=reading.round_id or 0, answer=reading.answer,
                                                   updated_at=reading.updated_at or 0, now=block.timestamp)
        used = rules.liquidation_price_source(status=status, last_good_price=last_good_price,
                                              chainlink_price=chainlink_price, chainlink_usable=usable)
        if used.source != "chainlink":
            log.info("liquity_v1 priced on lastGoodPrice market=%s block=%d status=%d chainlink_usable=%s",
                     self.market.key, block.number, status, usable)
        return _Prices(last_good_price, status, reading, chainlink_price, used)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, account: Address, block: BlockRef, layout: Layout, prices: _Prices, system: rules.System,
                  entire: rules.EntireTrove, stored: dict[str, str | None]) -> PositionSnapshot:
        reading = prices.reading
        legs = [Leg(asset=ETH, symbol="ETH", decimals=18, role=Role.COLLATERAL, amount=entire.coll, price=0,
                    price_decimals=PRICE_DECIMALS, price_key=layout.aggregator, value=0, feed=layout.aggregator,
                    round_id=reading.round_id, terms={"mcr": system.mcr, "ccr": system.ccr}),
                Leg(asset=layout.lusd_token, symbol="LUSD", decimals=18, role=Role.DEBT, amount=entire.debt, price=1,
                    price_decimals=0, price_key=layout.lusd_token, value=entire.debt)]
        status = prices.status
        detail: dict[str, Any] = {
            **stored,
            "pending_coll": _big(entire.pending_coll), "pending_debt": _big(entire.pending_debt),
            "system_coll": _big(system.coll), "system_debt": _big(system.debt),
            "stability_pool_lusd": _big(system.stability_pool), "trove_owners": system.trove_owners,
            "mcr": _big(system.mcr), "ccr": _big(system.ccr),
            "price_feed": layout.price_feed, "price_feed_status": status,
            "price_feed_status_name": _status_name(status),
            "last_good_price": _big(prices.last_good_price), "chainlink_feed": layout.aggregator,
            "chainlink_answer": _big(reading.answer), "chainlink_decimals": reading.decimals,
            "chainlink_round_id": _big(reading.round_id), "chainlink_updated_at": reading.updated_at,
            "chainlink_price": _big(prices.chainlink_price),
        }
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=account, block=block, legs=legs,
            health=Health(raw=0, decimals=HEALTH_DECIMALS, health=None, equity=0, requirement=0, collateral=0, debt=0,
                          quote=QUOTE, quote_unit=QUOTE_UNIT),
            detail=detail)
        return _priced(snapshot, prices.used.price, prices.used.source)

    def _keep_protocol_figures(self, snapshot: PositionSnapshot, onchain: tuple[int, ...],
                               system: rules.System) -> bool:
        """The self-check: the local entire debt, coll, pending rewards and ICR against the TroveManager's own
        ``getEntireDebtAndColl`` and ``getCurrentICR(account, price)``. On a disagreement the protocol's figures
        are kept (with both in ``detail.self_check``); returns whether they agreed."""
        coll_leg, debt_leg = _legs(snapshot)
        local = (debt_leg.amount, coll_leg.amount, int(snapshot.detail["pending_debt"]),
                 int(snapshot.detail["pending_coll"]), snapshot.health.raw)
        if local == onchain:
            return True
        log.error("liquity_v1 self-check: local figures differ from the TroveManager's market=%s account=%s "
                  "block=%d local=%s protocol=%s", snapshot.market, snapshot.account, snapshot.block.number, local,
                  onchain)
        debt, coll, pending_debt, pending_coll, icr = onchain
        snapshot.legs = [dataclasses.replace(coll_leg, amount=coll), dataclasses.replace(debt_leg, amount=debt,
                                                                                           value=debt)]
        snapshot.detail.update(pending_debt=str(pending_debt), pending_coll=str(pending_coll),
                               self_check={"local": [str(v) for v in local], "protocol": [str(v) for v in onchain]})
        repriced = _priced(snapshot, coll_leg.price, str(snapshot.detail["price_source"]))
        if repriced.health.raw != icr:  # ICR is coll * price / debt: only a different formula gets here
            threshold = int(repriced.detail["threshold"])
            repriced.health = dataclasses.replace(
                repriced.health, raw=icr, health=scaled(rules.health_ratio(icr, threshold), HEALTH_DECIMALS))
            repriced.detail["icr"] = str(icr)
        snapshot.legs, snapshot.health, snapshot.detail = repriced.legs, repriced.health, repriced.detail
        return False

    # -- questions about a position ------------------------------------------------------------
    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """The Chainlink feed behind the collateral: LUSD debt is the quote at face value."""
        return {leg.price_key for leg in snapshot.legs if leg.role is Role.COLLATERAL}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        """The trove at another price of its feed (Liquity's 18-decimal price), everything else as read: ICR, the
        TCR (the system's coll and debt as read), the mode and the rule recomputed. When the PriceFeed does not
        follow Chainlink (``rules.follows_chainlink``) the price stays ``lastGoodPrice`` whatever the feed says.
        Without a new price the figures are still recomputed from the legs' amounts at the price as read (the
        what-if of a changed amount: ``indexer.risk.safety``)."""
        coll_leg, _ = _legs(snapshot)
        copy = dataclasses.replace(snapshot, legs=list(snapshot.legs), detail=dict(snapshot.detail))
        if coll_leg.price_key not in prices or not rules.follows_chainlink(int(snapshot.detail["price_feed_status"])):
            return _priced(copy, coll_leg.price, str(snapshot.detail["price_source"]))
        return _priced(copy, prices[coll_leg.price_key], "chainlink")

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.reprice(snapshot, prices).health

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        coll, debt, system = _terms(snapshot)
        coll_leg, _ = _legs(snapshot)
        if key != coll_leg.price_key or not rules.follows_chainlink(int(snapshot.detail["price_feed_status"])):
            fixed = not rules.liquidatable(coll, debt, coll_leg.price, system)
            return lambda price: fixed
        return lambda price: not rules.liquidatable(coll, debt, price, system)

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """The last price of the feed (Liquity's 18 decimals) at which ``liquidate`` would fail, prices falling;
        in recovery mode the TCR falls with the price too (``rules.liquidation_price``). None while the
        PriceFeed does not follow Chainlink: no feed answer moves the price then."""
        coll, debt, system = _terms(snapshot)
        coll_leg, _ = _legs(snapshot)
        wanted = self.price_dependencies(snapshot) if keys is None else self.price_dependencies(snapshot) & set(keys)
        if not wanted or not rules.follows_chainlink(int(snapshot.detail["price_feed_status"])):
            return {}
        price = rules.liquidation_price(coll, debt, system)
        return {} if price is None else {coll_leg.price_key: LiquidationPoint(price, falling=True)}

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """The trove's entire LUSD debt after ``repayLUSD(-change)``, or its entire ETH after ``addColl`` with
        ``change`` wei, as BorrowerOperations books it (``BorrowerOperations._adjustTrove`` of liquity/dev v1.0,
        packages/contracts/contracts/BorrowerOperations.sol; the devnet stand-in's contracts/BorrowerOperations.sol
        does the same).

        Exact, not an estimate: ``_adjustTrove`` calls ``TroveManager.applyPendingRewards`` before anything else,
        which moves the pending redistribution rewards into the trove's recorded coll and debt with the very
        floored ``stake * (L - snapshot) / 1e18`` that ``getEntireDebtAndColl`` (the legs' amounts) adds, and takes
        a new reward snapshot; then ``decreaseTroveDebt`` / ``increaseTroveColl`` move the recorded figure by
        exactly the amount (no fee on a repayment or a deposit, no rounding). So the debt leg becomes ``amount - x``
        and the collateral leg ``amount + x``, and the other leg stays as read (``rules.debt_after_repayment``).

        None where the book is not that or cannot be told from the read:

        - a repayment that would leave less than 2,000 LUSD of entire debt: BorrowerOperations refuses it (net
          debt under MIN_NET_DEBT). When the smallest repayment that reaches a target is such an amount, no
          repayment alone gets the trove there (only closing it, or adding collateral);
        - the trove's ETH snapshot already at ``L_ETH`` while its LUSD-debt snapshot is behind ``L_LUSDDebt``:
          ``hasPendingRewards`` looks at ``L_ETH`` only, so the pending debt reward is left pending and
          ``updateStakeAndTotalStakes`` re-stakes the trove at the totals of the last liquidation, which the read
          does not hold: the debt after the adjustment is not known to the unit;
        - in recovery mode, where the Stability Pool covers (or a repayment could make it cover) the trove's entire
          debt: the amount is booked as above, but the trove's threshold is then the TCR, which the same adjustment
          moves (a repayment lowers the system's debt, a deposit raises its coll); health computed from the changed
          leg against the TCR as read would be off, so nothing exact is claimed. Where the pool cannot cover the
          trove after the change (a deposit on a trove owing more than the pool holds; a repayment while the pool
          holds less than the 2,000 LUSD a trove keeps at least) the threshold stays MCR and the amount is exact;
        - a deposit on the debt leg (a borrowing: it pays a fee) or a repayment on the collateral leg.

        A repayment or deposit that leaves the ICR under MCR in normal mode is refused on chain too; those are
        still answered with the booked figure, as they leave the trove under any health target of 1 or more and
        so never decide the smallest amount that reaches one."""
        coll_leg, debt_leg = _legs(snapshot)
        detail = snapshot.detail
        if (detail.get("l_eth") is not None and detail["l_eth"] == detail.get("reward_snapshot_eth")
                and detail.get("l_lusd_debt") != detail.get("reward_snapshot_lusd_debt")):
            return None
        recovery, pool = detail.get("mode") == "recovery", int(detail["stability_pool_lusd"])
        if leg == debt_leg and change <= 0:
            if recovery and pool >= rules.MIN_NET_DEBT + rules.LUSD_GAS_COMPENSATION:
                return None
            return leg.amount if change == 0 else rules.debt_after_repayment(leg.amount, -change)
        if leg == coll_leg and change >= 0:
            if recovery and pool >= debt_leg.amount:
                return None
            return leg.amount + change
        return None

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """The price Liquity's PriceFeed makes of a new Chainlink answer (``_scaleChainlinkPriceByDigits``), keyed
        by the feed; None for an answer it would call broken (not positive) or a failed read. Whether the
        position's PriceFeed follows Chainlink at all is the position's own (``reprice`` keeps ``lastGoodPrice``
        when it does not)."""
        if reading.error is not None or reading.answer is None or reading.answer <= 0 or not reading.decimals:
            return None
        return reading.address, rules.scale_chainlink_price(reading.answer, reading.decimals)


def _status_name(status: int) -> str:
    try:
        return rules.PriceFeedStatus(status).name
    except ValueError:
        return str(status)


def _legs(snapshot: PositionSnapshot) -> tuple[Leg, Leg]:
    coll = next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)
    debt = next(leg for leg in snapshot.legs if leg.role is Role.DEBT)
    return coll, debt


def _system(detail: Mapping[str, Any]) -> rules.System:
    return rules.System(coll=int(detail["system_coll"]), debt=int(detail["system_debt"]),
                        stability_pool=int(detail["stability_pool_lusd"]), trove_owners=int(detail["trove_owners"]),
                        mcr=int(detail["mcr"]), ccr=int(detail["ccr"]))


def _terms(snapshot: PositionSnapshot) -> tuple[int, int, rules.System]:
    coll_leg, debt_leg = _legs(snapshot)
    return coll_leg.amount, debt_leg.amount, _system(snapshot.detail)


def _priced(snapshot: PositionSnapshot, price: int, source: str) -> PositionSnapshot:
    """The snapshot's collateral at ``price`` (Liquity's, 18 decimals), with the verdict of that price: legs'
    values, health and the detail's mode, rule, threshold, ICR and TCR (in place; returned)."""
    coll_leg, debt_leg = _legs(snapshot)
    detail = snapshot.detail
    v = rules.verdict(coll_leg.amount, debt_leg.amount, price, _system(detail))
    value = rules.usd_value(coll_leg.amount, price)
    snapshot.legs = [dataclasses.replace(coll_leg, price=price, value=value), debt_leg]
    debt = debt_leg.amount
    snapshot.health = Health(
        raw=v.icr, decimals=HEALTH_DECIMALS,
        health=None if not debt else scaled(rules.health_ratio(v.icr, v.threshold), HEALTH_DECIMALS),
        equity=value, requirement=debt * v.threshold // rules.DECIMAL_PRECISION, collateral=value, debt=debt,
        quote=QUOTE, quote_unit=QUOTE_UNIT)
    detail.update(icr=str(v.icr), tcr=str(v.tcr), mode="recovery" if v.recovery_mode else "normal", rule=v.rule,
                  threshold=str(v.threshold), stability_pool_covers=v.stability_pool_covers, price=str(price),
                  price_source=source)
    if source == "chainlink":
        detail.pop("price_note", None)
    else:
        detail["price_note"] = ("priced on PriceFeed.lastGoodPrice: the PriceFeed does not follow Chainlink in its "
                                "status, or Chainlink's current round is broken or frozen (Liquity would then "
                                "consult Tellor, which the indexer does not read)")
    if v.held is not None:
        detail["liquidation_held"] = v.held
    else:
        detail.pop("liquidation_held", None)
    return snapshot
