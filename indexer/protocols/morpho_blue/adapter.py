"""Morpho Blue: one configured market is one Morpho market (the Morpho contract's address and the market id).

Reads, at the pinned block, in two Multicall3 rounds: the market's parameters (``idToMarketParams``; fixed
for an id, so later reads take them from the hint), its stored totals (``market``) and every account's
``position``, with the oracle's ``price()`` and the tokens' decimals and symbols once the parameters are
known; then the IRM's ``borrowRateView`` on the stored market. Interest is accrued to the block's timestamp
exactly as ``MorphoBalancesLib.expectedMarketBalances`` does, borrow shares become assets rounding up, and
health is ``maxBorrow / borrowed`` (``Morpho._isHealthy``: healthy iff ``maxBorrow >= borrowed``); see
``rules``. Morpho has no health figure of its own: the one stored is that ratio in WAD, floored, which keeps
the protocol's healthy/unhealthy verdict exactly.

The quote currency is the market's loan token: collateral is valued at the oracle price in loan-token
units, debt is what the borrow shares are worth.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed, Plan
from indexer.errors import MarketMismatchError
from indexer.hexutil import to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.morpho_blue import rules
from indexer.protocols.morpho_blue.options import MorphoOptions
from indexer.types import (
    UINT256_MAX,
    ZERO_ADDRESS,
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

HEALTH_DECIMALS = 18
_MORPHO = load("morpho_blue", "Morpho")
_IRM = load("morpho_blue", "Irm")
_ORACLE = load("morpho_blue", "Oracle")
_ERC20 = load("morpho_blue", "ERC20")
_POSITION = _MORPHO.function("position")


class Token(NamedTuple):
    address: Address
    symbol: str
    decimals: int


class Layout(NamedTuple):
    """What never changes for a market id: its parameters and tokens; the next read's hint."""

    loan: Token
    collateral: Token
    oracle: Address
    irm: Address
    lltv: int


def _token_calls(address: Address) -> list[Call]:
    return [_ERC20.function("symbol").call(address, allow_failure=True),
            _ERC20.function("decimals").call(address, allow_failure=True)]


class MorphoBlueAdapter:
    kind: ClassVar[str] = "morpho_blue"
    options: ClassVar[type[BaseModel] | None] = MorphoOptions
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.morpho_blue.devnet"
    # EventsLib (morpho-blue 1.0.0): the market id is topic1 of every event; the account is `onBehalf`
    # (Borrow, WithdrawCollateral: topic2; SupplyCollateral, Repay: topic3) or the Liquidate `borrower` (topic3).
    _ACCOUNT_TOPIC: ClassVar[dict[str, int]] = {
        _MORPHO.topic("Borrow"): 2,
        _MORPHO.topic("WithdrawCollateral"): 2,
        _MORPHO.topic("SupplyCollateral"): 3,
        _MORPHO.topic("Repay"): 3,
        _MORPHO.topic("Liquidate"): 3,
    }

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        self.market_id = str(market.options.get("market_id", ""))
        self._id = bytes.fromhex(self.market_id[2:]) if self.market_id else b""

    def discovery(self) -> DiscoverySpec:
        return DiscoverySpec(account_topic=self._ACCOUNT_TOPIC, match=(self.market_id.lower(),),
                             emitter=self.market.address)

    # -- reading -------------------------------------------------------------------------------
    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"has no Morpho Blue market {self.market_id} ({what})")

    def _layout(self, params: Any, tokens: list[Any]) -> Layout:
        loan, collateral, oracle, irm, lltv = params
        if loan == ZERO_ADDRESS:
            raise self._mismatch("idToMarketParams is empty")
        made = []
        for address, (symbol, decimals) in zip((loan, collateral), (tokens[:2], tokens[2:]), strict=True):
            checksummed = to_checksum_address(address)
            if isinstance(decimals, Failed):
                log.warning("morpho_blue token without decimals() market=%s token=%s; shown with 18",
                            self.market.key, checksummed)
            made.append(Token(checksummed, checksummed[:8] if isinstance(symbol, Failed) else symbol[0],
                              18 if isinstance(decimals, Failed) else decimals[0]))
        return Layout(made[0], made[1], to_checksum_address(oracle), to_checksum_address(irm), lltv)

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        # Morpho Blue has no health view of its own to check against (``check`` is not used)
        morpho = self.market.address
        layout = hint if isinstance(hint, Layout) else None
        head = [_MORPHO.function("market").call(morpho, self._id)]
        if layout is None:
            head.append(_MORPHO.function("idToMarketParams").call(morpho, self._id))
        else:  # the parameters of an id never change: the oracle is known, price it in this round
            head.append(_ORACLE.function("price").call(layout.oracle, allow_failure=True))
        got = yield [*head, *(_POSITION.call(morpho, self._id, account) for account in accounts)]
        stored, second, positions = got[0], got[1], got[2:]
        if layout is None:
            params = second
            calls = [_ORACLE.function("price").call(params[2], allow_failure=True),
                     *_token_calls(params[0]), *_token_calls(params[1])]
        else:
            params = (layout.loan.address, layout.collateral.address, layout.oracle, layout.irm, layout.lltv)
            calls = []
        accrue = params[3] != ZERO_ADDRESS and stored[4] != block.timestamp and stored[2] > 0
        if accrue:
            calls.append(_IRM.function("borrowRateView").call(params[3], tuple(params), tuple(stored)))
        more = (yield calls) if calls else []
        if layout is None:
            price, layout = more[0], self._layout(params, more[1:5])
            rate = more[5][0] if accrue else 0
        else:
            price = second
            rate = more[0][0] if accrue else 0
        total_borrow_assets, total_borrow_shares = self._accrued(stored, rate, block.timestamp)
        snapshots, unpriced = [], []
        for account, (_, borrow_shares, collateral) in zip(accounts, positions, strict=True):
            if not borrow_shares and not collateral:
                continue
            if isinstance(price, Failed):
                unpriced.append(account)
                continue
            borrowed = rules.to_assets_up(borrow_shares, total_borrow_assets, total_borrow_shares)
            snapshots.append(self._snapshot(account, block, layout, price[0], collateral, borrowed, borrow_shares,
                                            (total_borrow_assets, total_borrow_shares)))
        if unpriced:
            log.warning("morpho_blue oracle reverted market=%s block=%d accounts=%d", self.market.key, block.number,
                        len(unpriced))
        log.debug("morpho_blue read market=%s block=%d accounts=%d positions=%d", self.market.key, block.number,
                  len(accounts), len(snapshots))
        state = {"layout": [list(layout.loan), list(layout.collateral), layout.oracle, layout.irm, layout.lltv],
                 "price": None if isinstance(price, Failed) else price[0],
                 "totals": [total_borrow_assets, total_borrow_shares]}
        return MarketRead(snapshots, [], unpriced, hint=layout, state=state)

    @staticmethod
    def _accrued(stored: Sequence[int], rate: int, now: int) -> tuple[int, int]:
        """The market's borrow totals accrued to ``now`` (``MorphoBalancesLib.expectedMarketBalances``)."""
        supply_assets, supply_shares, borrow_assets, borrow_shares, last_update, fee = stored
        if not rate:
            return borrow_assets, borrow_shares
        balances = rules.expected_market_balances(
            total_supply_assets=supply_assets, total_supply_shares=supply_shares, total_borrow_assets=borrow_assets,
            total_borrow_shares=borrow_shares, last_update=last_update, fee=fee, borrow_rate_per_second=rate,
            now=now)
        return balances.total_borrow_assets, balances.total_borrow_shares

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, account: Address, block: BlockRef, layout: Layout, price: int, collateral: int,
                  borrowed: int, borrow_shares: int, totals: tuple[int, int]) -> PositionSnapshot:
        loan, coll = layout.loan, layout.collateral
        legs = [Leg(asset=coll.address, symbol=coll.symbol, decimals=coll.decimals, role=Role.COLLATERAL,
                    amount=collateral, price=price, price_decimals=36 + loan.decimals - coll.decimals,
                    price_key=layout.oracle, value=rules.mul_div_down(collateral, price, rules.ORACLE_PRICE_SCALE),
                    terms={"lltv": layout.lltv})]
        if borrow_shares:
            # the loan token is the quote: one unit is worth exactly one, whatever any oracle says
            # the shares and the market's borrow totals (accrued to the block): what a repayment is booked against
            legs.append(Leg(asset=loan.address, symbol=loan.symbol, decimals=loan.decimals, role=Role.DEBT,
                            amount=borrowed, price=1, price_decimals=0, price_key=loan.address, value=borrowed,
                            terms={"shares": borrow_shares, "total_assets": totals[0], "total_shares": totals[1]}))
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key,
            market_address=self.market.address, account=account, block=block, legs=legs,
            health=_health(legs, layout.lltv, loan.symbol, 10**loan.decimals), detail={
                "market_id": self.market_id, "lltv": layout.lltv, "borrow_shares": borrow_shares,
                "oracle": layout.oracle, "irm": layout.irm})
        return snapshot

    # -- accruing (``Accrues``) --------------------------------------------------------------------
    @staticmethod
    def inputs(snapshot: PositionSnapshot) -> Hashable | None:
        """The account's collateral and borrow shares: only its own supplies, withdrawals, borrows, repayments
        and liquidations move them; interest moves the market's totals."""
        return snapshot.legs[0].amount if snapshot.legs else 0, snapshot.detail.get("borrow_shares", 0)

    def advance(self, snapshot: PositionSnapshot, state: Any, block: BlockRef) -> PositionSnapshot | None:
        """The snapshot's collateral and shares at the market's state at ``block`` (``read``'s ``state``: the
        market's parameters, the oracle's price, the borrow totals accrued to the block), assembled as a read does;
        None when the oracle reverted there."""
        if state["price"] is None or not snapshot.legs:
            return None
        loan, collateral, oracle, irm, lltv = state["layout"]
        layout = Layout(Token(*loan), Token(*collateral), oracle, irm, lltv)
        total_assets, total_shares = state["totals"]
        shares = snapshot.detail.get("borrow_shares", 0)
        borrowed = rules.to_assets_up(shares, total_assets, total_shares)
        return self._snapshot(snapshot.account, block, layout, state["price"], snapshot.legs[0].amount, borrowed,
                              shares, (total_assets, total_shares))

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """Only the market's oracle: the loan token is the quote currency."""
        return {leg.price_key for leg in snapshot.legs if leg.role is Role.COLLATERAL}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        legs = [dataclasses.replace(leg, price=(p := prices[leg.price_key]),
                                    value=rules.mul_div_down(leg.amount, p, rules.ORACLE_PRICE_SCALE))
                if leg.role is Role.COLLATERAL and leg.price_key in prices else leg for leg in snapshot.legs]
        health = _health(legs, int(snapshot.detail["lltv"]), snapshot.health.quote, snapshot.health.quote_unit)
        return dataclasses.replace(snapshot, legs=legs, health=health, detail=dict(snapshot.detail))

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        collateral, borrowed, lltv = _terms(snapshot)
        return lambda price: borrowed == 0 or rules.max_borrow(collateral, price, lltv) >= borrowed

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        lltv, value, borrowed = int(snapshot.detail["lltv"]), 0, 0
        for leg in snapshot.legs:
            if leg.role is Role.COLLATERAL:
                price = prices.get(leg.price_key, leg.price)
                value += rules.mul_div_down(leg.amount, price, rules.ORACLE_PRICE_SCALE)
            else:
                borrowed += leg.amount
        return _figures(value, borrowed, lltv, snapshot.health.quote, snapshot.health.quote_unit)

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        collateral, borrowed, lltv = _terms(snapshot)
        price = rules.liquidation_price(collateral, borrowed, lltv)
        wanted = self.price_dependencies(snapshot) if keys is None else self.price_dependencies(snapshot) & set(keys)
        return {} if price is None else {key: LiquidationPoint(price, falling=True) for key in wanted}

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """Collateral is held as is (``supplyCollateral`` adds the assets). A repayment of ``x`` assets burns
        ``x.toSharesDown(totalBorrowAssets, totalBorrowShares)`` shares and takes ``x`` off the total assets and the
        shares off the total shares (``Morpho.repay``, morpho-blue 1.0.0 src/Morpho.sol); the debt is then the shares
        left ``toAssetsUp`` at the new totals (``SharesMathLib``). Burning more shares than held reverts on chain:
        it books as nothing owed."""
        if leg.role is Role.COLLATERAL and change >= 0:
            return leg.amount + change
        shares, total_assets, total_shares = (leg.terms.get(k) for k in ("shares", "total_assets", "total_shares"))
        if leg.role is not Role.DEBT or change > 0 or shares is None or total_assets is None or total_shares is None:
            return None
        burnt = rules.to_shares_down(-change, total_assets, total_shares)
        if burnt >= shares:
            return 0
        return rules.to_assets_up(shares - burnt, max(total_assets + change, 0), total_shares - burnt)

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """A Morpho oracle combines feeds and scales them its own way: only a full read knows its price."""
        return None


def _terms(snapshot: PositionSnapshot) -> tuple[int, int, int]:
    collateral = sum(leg.amount for leg in snapshot.legs if leg.role is Role.COLLATERAL)
    borrowed = sum(leg.amount for leg in snapshot.legs if leg.role is Role.DEBT)
    return collateral, borrowed, int(snapshot.detail["lltv"])


def _health(legs: Sequence[Leg], lltv: int, quote: str, quote_unit: int) -> Health:
    value = sum(leg.value for leg in legs if leg.role is Role.COLLATERAL)
    borrowed = sum(leg.amount for leg in legs if leg.role is Role.DEBT)
    return _figures(value, borrowed, lltv, quote, quote_unit)


def _figures(value: int, borrowed: int, lltv: int, quote: str, quote_unit: int) -> Health:
    """``maxBorrow / borrowed`` as Morpho decides it (``_isHealthy``), every figure in loan-token units."""
    max_borrow = rules.w_mul_down(value, lltv)
    raw = UINT256_MAX if not borrowed else rules.w_div_down(max_borrow, borrowed)
    return Health(raw=raw, decimals=HEALTH_DECIMALS, health=None if not borrowed else scaled(raw, HEALTH_DECIMALS),
                  equity=max_borrow, requirement=borrowed, collateral=value, debt=borrowed, quote=quote,
                  quote_unit=quote_unit)
