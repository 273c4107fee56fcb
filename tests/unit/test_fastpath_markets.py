"""The oracle fast path moves a position only with the feeds that priced it: two Aave markets on one chain
(say Core and Prime) can price the same asset through different feeds, and a new answer of one market's feed
must not reprice the other market's positions."""

from __future__ import annotations

from indexer.fastpath import moved_positions
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

WSTETH, USDC = "0x" + "a1" * 20, "0x" + "b2" * 20
CORE_FEED, PRIME_FEED, USDC_FEED = "0x" + "c1" * 20, "0x" + "c2" * 20, "0x" + "c3" * 20


def _position(market: str, feed: str) -> PositionSnapshot:
    legs = [Leg(asset=WSTETH, symbol="wstETH", decimals=18, role=Role.COLLATERAL, amount=10**18, price=4_000 * 10**8,
                price_decimals=8, price_key=WSTETH, value=4_000 * 10**8, feed=feed,
                terms={"liquidation_threshold": 8_000, "ltv": 7_500}),
            Leg(asset=USDC, symbol="USDC", decimals=6, role=Role.DEBT, amount=3_000 * 10**6, price=10**8,
                price_decimals=8, price_key=USDC, value=3_000 * 10**8, feed=USDC_FEED)]
    blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
                   quote_unit=10**8)
    snapshot = PositionSnapshot(chain="eth", protocol="aave_v3", market=market, market_address="0x" + "dd" * 20,
                                account="0x" + "ee" * 20, block=BlockRef(1, "0x1", 1), legs=legs, health=blank)
    return AaveV3Adapter(MarketRef(market, "eth", "0x" + "dd" * 20)).reprice(snapshot, {})


def _reading(feed: str, answer: int) -> FeedReading:
    return FeedReading(address=feed, kind=FeedKind.CHAINLINK, round_id=1, answer=answer, asset=WSTETH)


def test_a_feed_moves_only_the_market_it_priced():
    sources = {m: AaveV3Adapter(MarketRef(m, "eth", "0x" + "dd" * 20)) for m in ("core", "prime")}
    cached = [_position("core", CORE_FEED), _position("prime", PRIME_FEED)]
    before = [_reading(CORE_FEED, 4_000 * 10**8), _reading(PRIME_FEED, 4_000 * 10**8)]
    # Core's wstETH feed falls 30 %; Prime's (another feed for the same asset) does not move
    now = [_reading(CORE_FEED, 2_800 * 10**8), _reading(PRIME_FEED, 4_000 * 10**8)]
    moved = moved_positions(sources, cached, before, now, BlockRef(2, "0x2", 2))
    assert [s.market for s in moved] == ["core"]
    assert moved[0].legs[0].price == 2_800 * 10**8
    assert moved[0].health.raw < cached[0].health.raw
