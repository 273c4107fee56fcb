"""The oracle fast path moves a position only with the feeds that priced it: two Aave markets on one chain
(say Core and Prime) can price the same asset through different feeds, and a new answer of one market's feed
must not reprice the other market's positions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indexer.fastpath import PositionCache, moved_positions
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


FEEDS = [CORE_FEED, PRIME_FEED, USDC_FEED, "0x" + "c4" * 20]
op_st = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(["core", "prime"]), st.integers(0, 5),
              st.lists(st.sampled_from(FEEDS), max_size=3)),
    st.tuples(st.just("drop"), st.lists(st.sampled_from(["core", "prime"]), max_size=2)),
    st.tuples(st.just("replace"), st.lists(st.sampled_from(["core", "prime"]), max_size=2),
              st.lists(st.tuples(st.sampled_from(["core", "prime"]), st.integers(0, 5),
                                 st.lists(st.sampled_from(FEEDS), max_size=3)), max_size=4),
              # dormant positions of the block (found, not assembled): cached as they were, or as given if not cached
              st.lists(st.tuples(st.sampled_from(["core", "prime"]), st.integers(0, 5),
                                 st.lists(st.sampled_from(FEEDS), max_size=3)), max_size=3)))


def _held(market: str, account: int, feeds: list[str]) -> PositionSnapshot:
    legs = [Leg(asset="0x" + f"{i:02x}" * 20, symbol=f"T{i}", decimals=18, role=Role.COLLATERAL, amount=1, price=1,
                price_decimals=8, price_key=f"k{i}", value=1, feed=feed) for i, feed in enumerate(feeds)]
    legs.append(Leg(asset=USDC, symbol="USDC", decimals=6, role=Role.DEBT, amount=1, price=1, price_decimals=8,
                    price_key=USDC, value=1))  # a leg priced by no feed
    blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
                   quote_unit=10**8)
    return PositionSnapshot(chain="eth", protocol="aave_v3", market=market, market_address="0x" + "dd" * 20,
                            account=f"0x{account:040x}", block=BlockRef(1, "0x1", 1), legs=legs, health=blank)


@given(st.lists(op_st, max_size=40))
def test_the_feed_index_answers_what_a_scan_of_every_cached_position_does(ops):
    cache, plain = PositionCache(), {}
    for op in ops:
        if op[0] == "put":
            snapshot = _held(op[1], op[2], op[3])
            cache.put(snapshot)
            plain[(snapshot.market, snapshot.account)] = snapshot
        elif op[0] == "drop":
            cache.replace(set(op[1]), [])  # a full read that found none of them
            plain = {k: s for k, s in plain.items() if k[0] not in op[1]}
        else:  # a full read of op[1]'s markets (and fast-path positions of others) replaces them
            snapshots, resting = [_held(*args) for args in op[2]], [_held(*args) for args in op[3]]
            cache.replace(set(op[1]), snapshots, resting)
            before = plain
            plain = {k: s for k, s in plain.items() if k[0] not in op[1]}
            plain.update({(s.market, s.account): s for s in snapshots})
            for s in resting:
                key = (s.market, s.account)
                plain[key] = plain.get(key) or before.get(key) or s
        assert len(cache) == len(plain) and cache.markets() == {k[0] for k in plain}
        for market in ("core", "prime"):
            assert set(cache.used(market)) == {leg.feed for k, s in plain.items() if k[0] == market
                                               for leg in s.legs if leg.feed}
        for feeds in ([], FEEDS[:1], FEEDS[1:3], FEEDS):
            for markets in (None, ["prime"]):
                got = cache.holding(feeds, markets)
                want = [s for k, s in plain.items() if any(leg.feed in feeds for leg in s.legs)
                        and (markets is None or k[0] in markets)]
                assert len(got) == len({id(s) for s in got})  # each once
                assert {id(s) for s in got} == {id(s) for s in want}
