"""The Aave source's fast paths (``reprice`` with what-if prices, ``healthy_at`` for the liquidation-point
search, ``liquidation_points`` in both directions) against the plain reference ``account_data``, over random
positions: same six figures, same verdict, exact crossings."""

import dataclasses
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from indexer.protocols.aave_math import AaveAssetInput, account_data
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.risk.safety import _MAX_ADD, _first_true  # _first_true: a plain bisection, the reference
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

WAD = 10**18
ASSETS = [("0x" + f"{n:02x}" * 20, f"T{n}") for n in range(1, 5)]
SOURCE = "0x" + "ee" * 20  # an eMode price source shared by two assets

asset_st = st.tuples(
    st.sampled_from([6, 8, 18]), st.integers(0, 10**24), st.integers(0, 10**22), st.integers(1, 10**13),
    st.booleans(), st.sampled_from([0, 5000, 7800, 8250, 9700]), st.sampled_from([0, 7000, 8000, 9300]),
    st.booleans())


def positions(rows):
    """Legs of up to four reserves: (decimals, collateral, debt, price, collateral on, LT, LTV, in eMode)."""
    legs, inputs = [], []
    for (name, symbol), (decimals, coll, debt, price, is_coll, lt, ltv, emode) in zip(ASSETS, rows, strict=False):
        unit = 10**decimals
        common = {"asset": name, "symbol": symbol, "decimals": decimals, "price": price, "price_decimals": 8,
                  "price_key": SOURCE if emode else name}
        if is_coll:
            legs.append(Leg(role=Role.COLLATERAL, amount=coll, value=coll * price // unit if lt else 0,
                            terms={"liquidation_threshold": lt, "ltv": ltv}, **common))
        if debt:
            legs.append(Leg(role=Role.DEBT, amount=debt, value=debt * price // unit, **common))
        inputs.append((common["price_key"], AaveAssetInput(coll if is_coll else 0, debt, price, unit, ltv, lt,
                                                           is_coll, debt > 0)))
    return legs, inputs


def reference(inputs, prices):
    return account_data(AaveAssetInput(a.amount_collateral, a.amount_debt, prices.get(key, a.price), a.unit, a.ltv,
                                       a.liquidation_threshold, a.is_collateral, a.is_borrowing)
                        for key, a in inputs)


adapter = AaveV3Adapter(MarketRef("m", "c", ASSETS[0][0]))


def snapshot(legs):
    blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
                   quote_unit=10**8)
    return adapter.reprice(PositionSnapshot(chain="c", protocol="aave_v3", market="m", market_address=ASSETS[0][0],
                                            account="a", block=BlockRef(1, "0x", 1), legs=legs, health=blank), {})


def pick_key(inputs, moved, by_source):
    return SOURCE if by_source else inputs[min(moved, len(inputs) - 1)][0]


@settings(max_examples=400)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 3), st.integers(0, 10**14), st.booleans())
def test_what_if_health_equals_the_reference(rows, moved, price, by_source):
    legs, inputs = positions(rows)
    key = pick_key(inputs, moved, by_source)
    got = adapter.reprice(snapshot(legs), {key: price})
    want = reference(inputs, {key: price})
    assert (got.health.collateral, got.health.debt, got.detail["available_borrows"],
            got.detail["liquidation_threshold"], got.detail["ltv"], got.health.raw) == (
        want.total_collateral_base, want.total_debt_base, want.available_borrows_base,
        want.current_liquidation_threshold, want.ltv, want.health_factor)
    assert (got.health.health is None) == (want.health_factor == 2**256 - 1)
    assert sum(leg.value for leg in got.legs if leg.role is Role.DEBT) == want.total_debt_base


@settings(max_examples=400)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 3), st.lists(st.integers(0, 10**14), max_size=8),
       st.booleans())
def test_healthy_at_agrees_with_the_reference(rows, moved, prices, by_source):
    legs, inputs = positions(rows)
    key = pick_key(inputs, moved, by_source)
    healthy = adapter.healthy_at(snapshot(legs), key)
    for price in prices:
        assert healthy(price) == (reference(inputs, {key: price}).health_factor >= WAD)


@settings(max_examples=300)
@given(st.integers(10**15, 10**24), st.sampled_from([5000, 8250, 9700]), st.integers(10**6, 10**14),
       st.lists(asset_st, max_size=2))
def test_liquidation_points_are_exact_crossings_in_both_directions(collateral, lt, debt, extra):
    # A collateral asset (18 decimals, $2,000) and a debt asset ($1, 6 decimals), plus random others: every
    # point is healthy at its price and liquidatable one unit further in its direction.
    legs, inputs = positions([(18, collateral, 0, 2000 * 10**8, True, lt, 8000, False),
                              (6, 0, debt, 10**8, False, 0, 0, False), *extra])
    snap = snapshot(legs)
    points = adapter.liquidation_points(snap)
    for key, point in points.items():
        beyond = point.price - 1 if point.falling else point.price + 1
        assert reference(inputs, {key: point.price}).health_factor >= WAD > reference(
            inputs, {key: beyond}).health_factor
    debt_key = ASSETS[1][0]
    if snap.health.health is not None and snap.health.health >= 1 and not any(e[2] for e in extra):
        # the debt asset only owes: its point is a rise, and it exists (the debt can always grow past the rest)
        assert points[debt_key].falling is False and points[debt_key].price >= 10**8


@settings(max_examples=300)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 3), st.integers(0, 10**14), st.booleans())
def test_health_at_is_reprice_without_the_new_position(rows, moved, price, by_source):
    legs, inputs = positions(rows)
    key = pick_key(inputs, moved, by_source)
    snap = snapshot(legs)
    assert adapter.health_at(snap, {key: price}) == adapter.reprice(snap, {key: price}).health


@settings(max_examples=300)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 7), st.integers(0, 10**25))
def test_health_at_an_amount_is_health_at_with_that_amount(rows, which, amount):
    # what-it-takes' fast figure: one leg's amount changed, the rest held, equals health_at of the snapshot with it
    legs, _ = positions(rows)
    assume(legs)  # rows that hold and owe nothing give no leg
    snap = snapshot(legs)
    index = which % len(snap.legs)
    changed = list(snap.legs)
    changed[index] = dataclasses.replace(changed[index], amount=amount)
    want = adapter.health_at(dataclasses.replace(snap, legs=changed), {}).health
    assert adapter.health_at_amount(snap, index)(amount) == want


TARGETS = st.sampled_from([Decimal("1"), Decimal("1.05"), Decimal("1.5"), Decimal("2.000000000000000001")])


def _reaching(snap, index, target):
    """(the solved amount, the bisection's, health_at_amount's test of an amount): the smallest collateral amount
    whose health reaches ``target``, or the largest debt amount whose health stays there; None where none does."""
    health = adapter.health_at_amount(snap, index)
    ok = lambda amount: (h := health(amount)) is None or h >= target  # noqa: E731
    high = _MAX_ADD  # what-it-takes looks no further either
    if snap.legs[index].role is Role.COLLATERAL:
        want = None if not ok(high) or health(high) == health(0) else _first_true(ok, 0, high)
    else:
        want = _first_true(lambda amount: not ok(amount), 0, high) - 1 if ok(0) else None
    return adapter.amount_reaching(snap, index, target), want, ok


@settings(max_examples=400)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 7), TARGETS)
def test_the_amount_reaching_a_health_is_the_bisections_answer(rows, which, target):
    # what-it-takes' starting point, where the health is monotone in the amount (the collaterals counted share one
    # LT, so the average LT is not truncated between them): exactly the plain bisection's answer
    legs, _ = positions(rows)
    assume(legs and len({leg.terms["liquidation_threshold"] for leg in legs if leg.role is Role.COLLATERAL
                and leg.terms["liquidation_threshold"]}) <= 1)
    snap = snapshot(legs)
    got, want, ok = _reaching(snap, which % len(snap.legs), target)
    if snap.legs[which % len(snap.legs)].role is Role.COLLATERAL and want == 0:
        assert got is None or ok(got)  # reached already: any amount does
    else:
        assert got == want


@settings(max_examples=400)
@given(st.lists(asset_st, min_size=1, max_size=4), st.integers(0, 7), TARGETS)
def test_the_amount_reaching_a_health_is_where_the_health_crosses_it(rows, which, target):
    # with collaterals of different LTs the truncated average LT makes the health wobble by ~1e-17 around a value
    # as the amount moves: the answer is then a crossing (reached there, not a unit before), as the search's is
    legs, _ = positions(rows)
    assume(legs)
    snap = snapshot(legs)
    index = which % len(snap.legs)
    got, want, ok = _reaching(snap, index, target)
    assert (got is None) == (want is None) or (want == 0 and snap.legs[index].role is Role.COLLATERAL)
    if got is not None and want != 0:
        step = -1 if snap.legs[index].role is Role.COLLATERAL else 1
        assert ok(got) and not ok(got + step), (got, want)
