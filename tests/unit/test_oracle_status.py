import pytest

from indexer.oracles.reading import FeedKind, FeedReading
from indexer.oracles.status import Previous, PriceStatus, judge_price, judge_sequencer, worst

NOW = 1_700_000_000
AGG = "0x00000000000000000000000000000000000000a1"


def price(answer=2000_00000000, updated=NOW - 10, round_id=(1 << 64) | 7, aggregator=AGG, error=None):
    if error:
        return FeedReading("0xfeed", FeedKind.CHAINLINK, error=error)
    return FeedReading("0xfeed", FeedKind.CHAINLINK, round_id=round_id, answer=answer, started_at=updated,
                       updated_at=updated, decimals=8, aggregator=aggregator)


def judge(reading, **kw):
    return judge_price(reading, block_timestamp=NOW, heartbeat=kw.pop("heartbeat", 3600), **kw)


def test_fresh_up_to_heartbeat_plus_grace_then_stale():
    assert judge(price(updated=NOW - 3600)).status == PriceStatus.FRESH
    assert judge(price(updated=NOW - 3601)).status == PriceStatus.STALE
    assert judge(price(updated=NOW - 3700), grace=100).status == PriceStatus.FRESH
    verdict = judge(price(updated=NOW - 3701), grace=100)
    assert verdict.status == PriceStatus.STALE and verdict.age == 3701 and "3701s" in verdict.reason


@pytest.mark.parametrize("reading,why", [
    (price(answer=0), "not positive"),
    (price(answer=-1), "not positive"),
    (price(updated=0), "updatedAt is zero"),
    (price(updated=NOW + 1), "after the block"),
    (price(error="reverted"), "read failed"),
])
def test_invalid(reading, why):
    verdict = judge(reading)
    assert verdict.status == PriceStatus.INVALID and why in verdict.reason


def test_round_going_backwards_is_invalid_unless_the_aggregator_changed():
    prev = Previous(round_id=(1 << 64) | 9, aggregator=AGG)
    assert "backwards" in judge(price(), previous=prev).reason
    assert judge(price(round_id=(1 << 64) | 9), previous=prev).status == PriceStatus.FRESH
    swapped = price(round_id=7, aggregator="0x00000000000000000000000000000000000000b2")
    assert judge(swapped, previous=prev).status == PriceStatus.FRESH


def test_bounds():
    assert judge(price(answer=5), bounds=(10, None)).status == PriceStatus.INVALID
    assert judge(price(answer=50), bounds=(None, 40)).status == PriceStatus.INVALID
    assert judge(price(answer=20), bounds=(10, 40)).status == PriceStatus.FRESH


def sequencer(answer, started):
    return FeedReading("0xseq", FeedKind.SEQUENCER, round_id=1, answer=answer, started_at=started, updated_at=started)


def test_sequencer_states():
    grace = 3600
    assert judge_sequencer(sequencer(1, NOW - 99999), block_timestamp=NOW, grace_period=grace).status \
        == PriceStatus.SEQUENCER_DOWN
    assert judge_sequencer(sequencer(0, NOW - 3600), block_timestamp=NOW, grace_period=grace).status \
        == PriceStatus.SEQUENCER_GRACE
    assert judge_sequencer(sequencer(0, NOW - 3601), block_timestamp=NOW, grace_period=grace).status \
        == PriceStatus.FRESH
    assert judge_sequencer(sequencer(2, NOW), block_timestamp=NOW, grace_period=grace).status == PriceStatus.INVALID


def test_worst_orders_by_trust():
    assert worst([]) == PriceStatus.FRESH
    assert worst([PriceStatus.FRESH, PriceStatus.SEQUENCER_GRACE]) == PriceStatus.SEQUENCER_GRACE
    assert worst([PriceStatus.STALE, PriceStatus.SEQUENCER_GRACE]) == PriceStatus.STALE
    assert worst([PriceStatus.STALE, PriceStatus.UNKNOWN, PriceStatus.FRESH]) == PriceStatus.UNKNOWN
    assert worst([PriceStatus.SEQUENCER_DOWN, PriceStatus.INVALID]) == PriceStatus.INVALID


def test_a_position_is_judged_on_the_prices_its_health_rests_on():
    """A Morpho-style debt leg priced by the quote currency itself (no feed) leaves the status to the
    collateral's feed when the source's price dependencies are given; without them every leg counts."""
    from indexer.oracles.monitor import mark_positions
    from indexer.oracles.reading import FeedReading
    from indexer.oracles.status import FeedStatus, PriceStatus, Verdict
    from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

    feed, oracle, loan = "0x" + "fe" * 20, "0x" + "0c" * 20, "0x" + "1a" * 20
    legs = [Leg(asset="0x" + "c0" * 20, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=1, price=1,
                price_decimals=36, price_key=oracle, value=1, feed=feed),
            Leg(asset=loan, symbol="USDC", decimals=6, role=Role.DEBT, amount=1, price=1, price_decimals=0,
                price_key=loan, value=1)]
    health = Health(raw=1, decimals=18, health=None, equity=1, requirement=1, collateral=1, debt=1, quote="USDC",
                    quote_unit=10**6)
    statuses = {feed: FeedStatus(FeedReading(address=feed, kind="chainlink"), Verdict(PriceStatus.FRESH, "ok"),
                                 3600, "table", None, False)}

    def position():
        return PositionSnapshot(chain="c", protocol="p", market="m", market_address=oracle, account="a",
                                block=BlockRef(1, "0x", 1), legs=legs, health=health)

    judged, unscoped = position(), position()
    mark_positions([judged], statuses, PriceStatus.FRESH, lambda s: {oracle})
    mark_positions([unscoped], statuses, PriceStatus.FRESH)
    assert (judged.price_status, unscoped.price_status) == (PriceStatus.FRESH, PriceStatus.UNKNOWN)


def test_a_protocols_own_price_verdict_judges_the_legs_no_feed_prices():
    """A perp whose price the protocol read itself (no feed behind the leg): its ``detail.price_verdict`` judges that
    leg (FRESH, or STALE when the protocol refused its price), while a feed-backed leg keeps its feed's verdict, the
    worst of both winning; without a verdict the leg stays UNKNOWN."""
    from indexer.oracles.monitor import mark_positions
    from indexer.oracles.reading import FeedReading
    from indexer.oracles.status import FeedStatus, PriceStatus, Verdict
    from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

    feed = "0x" + "fe" * 20
    perp = Leg(asset="ETH", symbol="ETH", decimals=18, role=Role.LONG, amount=1, price=1, price_decimals=18,
               price_key="perps:ETH", value=1)
    collateral = Leg(asset="0x" + "c0" * 20, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=1, price=1,
                     price_decimals=8, price_key="0x" + "c0" * 20, value=1, feed=feed)
    health = Health(raw=1, decimals=18, health=None, equity=1, requirement=1, collateral=1, debt=1, quote="USD",
                    quote_unit=10**18)

    def position(legs, verdict=None):
        return PositionSnapshot(chain="c", protocol="p", market="m", market_address=feed, account="a",
                                block=BlockRef(1, "0x", 1), legs=legs, health=health,
                                detail={} if verdict is None else {"price_verdict": verdict})

    def statuses(status):
        return {feed: FeedStatus(FeedReading(address=feed, kind="chainlink"), Verdict(status, "-"), 3600, "table",
                                 None, False)}

    cases = [(position([perp], "FRESH"), statuses(PriceStatus.FRESH), PriceStatus.FRESH),
             (position([perp], "STALE"), statuses(PriceStatus.FRESH), PriceStatus.STALE),
             (position([perp]), statuses(PriceStatus.FRESH), PriceStatus.UNKNOWN),
             (position([perp], "bogus"), statuses(PriceStatus.FRESH), PriceStatus.UNKNOWN),
             (position([perp, collateral], "FRESH"), statuses(PriceStatus.STALE), PriceStatus.STALE),
             (position([perp, collateral], "STALE"), statuses(PriceStatus.FRESH), PriceStatus.STALE),
             (position([perp, collateral], "FRESH"), statuses(PriceStatus.FRESH), PriceStatus.FRESH)]
    for snapshot, judged, expected in cases:
        mark_positions([snapshot], judged, PriceStatus.FRESH)
        assert snapshot.price_status == expected, (snapshot.legs, snapshot.detail)
    down = position([perp], "FRESH")
    mark_positions([down], statuses(PriceStatus.FRESH), PriceStatus.SEQUENCER_DOWN)
    assert down.price_status == PriceStatus.SEQUENCER_DOWN  # the chain's sequencer still overrides
