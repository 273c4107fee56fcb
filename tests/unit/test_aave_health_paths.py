"""The adapter's two fast paths (``health`` with what-if prices, ``healthy_at`` for the liquidation-price
search) against the plain reference ``account_data``, over random positions: same six figures, same verdict."""

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.protocols.aave_v3.rules import AaveAssetInput, account_data
from indexer.health.liquidation import largest_collateral, linear_estimate, liquidation_price
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.types import AssetPosition, BlockRef, Health, PositionSnapshot

WAD = 10**18
ASSETS = [("0x" + f"{n:02x}" * 20, f"T{n}") for n in range(1, 5)]
SOURCE = "0x" + "ee" * 20  # an eMode price source shared by two assets

asset_st = st.tuples(
    st.sampled_from([6, 8, 18]), st.integers(0, 10**24), st.integers(0, 10**22), st.integers(1, 10**13),
    st.booleans(), st.sampled_from([0, 5000, 7800, 8250, 9700]), st.sampled_from([0, 7000, 8000, 9300]),
    st.booleans())


def positions(rows):
    out = []
    for (name, symbol), (decimals, coll, debt, price, is_coll, lt, ltv, emode) in zip(ASSETS, rows, strict=False):
        unit, coll = 10**decimals, coll if is_coll else 0
        out.append(AssetPosition(name, symbol, decimals, coll, debt, price, coll * price // unit if lt else 0,
                                 debt * price // unit, is_coll, lt, ltv, price_source=SOURCE if emode else None))
    return out


def reference(assets, prices):
    return account_data(AaveAssetInput(
        a.collateral, a.debt, prices.get(a.price_source or a.asset, a.price), 10**a.decimals, a.ltv,
        a.liquidation_threshold, a.is_collateral, a.debt > 0) for a in assets)


def snapshot(assets):
    return PositionSnapshot(chain="c", protocol="aave_v3", market="m", market_address=ASSETS[0][0], account="a",
                            block=BlockRef(1, "0x", 1), assets=assets, health=Health(0, 18, None, 0, 0, 10**8))


adapter = AaveV3Adapter(MarketRef("m", "c", ASSETS[0][0]))


@settings(max_examples=400)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 3), st.integers(0, 10**14), st.booleans())
def test_what_if_health_equals_the_reference(rows, moved, price, by_source):
    assets = positions(rows)
    key = SOURCE if by_source else assets[min(moved, len(assets) - 1)].asset
    got = adapter.health(snapshot(assets), {key: price})
    want = reference(assets, {key: price})
    assert (got.collateral_base, got.debt_base, got.available_borrows_base, got.liquidation_threshold, got.ltv,
            got.native_raw) == (want.total_collateral_base, want.total_debt_base, want.available_borrows_base,
                                want.current_liquidation_threshold, want.ltv, want.health_factor)
    assert (got.health is None) == (want.health_factor == 2**256 - 1)


@settings(max_examples=400)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 3), st.lists(st.integers(0, 10**14), max_size=8),
       st.booleans())
def test_healthy_at_agrees_with_the_reference(rows, moved, prices, by_source):
    assets = positions(rows)
    key = SOURCE if by_source else assets[min(moved, len(assets) - 1)].asset
    healthy = adapter.healthy_at(snapshot(assets), key)
    for price in prices:
        assert healthy(price) == (reference(assets, {key: price}).health_factor >= WAD)


@settings(max_examples=200)
@given(st.integers(10**15, 10**24), st.sampled_from([5000, 8250, 9700]), st.integers(10**6, 10**14),
       st.lists(asset_st, max_size=2))
def test_liquidation_price_is_the_crossing_of_the_protocol_health(collateral, lt, debt, extra):
    # A collateral asset (18 decimals, $2,000) and a debt asset ($1, 6 decimals), plus random others.
    assets = positions([(18, collateral, 0, 2000 * 10**8, True, lt, 8000, False),
                        (6, 0, debt, 10**8, False, 0, 0, False), *extra])
    biggest = largest_collateral(assets)
    key = biggest.price_source or biggest.asset
    price = liquidation_price(assets, biggest, adapter.healthy_at(snapshot(assets), key))
    if price is None:  # healthy even at price 0, or (debt moving with the same key) not even at a huge price
        at_zero, at_huge = (reference(assets, {key: p}).health_factor >= WAD for p in (0, 10**40))
        assert at_zero or not at_huge or linear_estimate(assets, biggest) is None
        return
    assert reference(assets, {key: price}).health_factor >= WAD > reference(assets, {key: price - 1}).health_factor

