"""Maker (dss) integer rules, against values worked out by hand from the makerdao sources (the arithmetic is in the
comments). Units: ink and art wad (1e18), rate, spot, mat and par ray (1e27), dust, hole and DAI rad (1e45), OSM
values and chop wad."""

from __future__ import annotations

from decimal import Decimal

from eth_abi import encode
from hypothesis import given
from hypothesis import strategies as st

from indexer.chain.abi import load
from indexer.chain.multicall import Failed
from indexer.health.liquidation import crossing_price
from indexer.protocols.base import MarketRef
from indexer.protocols.maker import rules
from indexer.protocols.maker.adapter import (
    FORK_TOPIC,
    FROB_TOPIC,
    Layout,
    MakerAdapter,
    MakerOptions,
    _Osm,
    _Urn,
    ilk_bytes,
    revert_reason,
)
from indexer.protocols.maker.rules import RAD, RAY, WAD, DogIlk
from indexer.types import BlockRef, Role

# ETH at 3000 USD with mat 150 % and par 1: spot = rdiv(rdiv(3000e18 * 1e9, 1e27), 1.5e27)
#   = rdiv(3000e27, 1.5e27) = 3000e27 * 1e27 / 1.5e27 = 2000e27, exact.
VAL = 3_000 * WAD
MAT = 15 * RAY // 10
PAR = RAY
SPOT = 2_000 * RAY
RATE = 125 * RAY // 100  # 1.25: the stability fee so far has added 25 %
INK = 10 * WAD  # ink * spot = 10e18 * 2000e27 = 2e49 (20,000 DAI in rad)
ART_AT_LINE = 16_000 * WAD  # art * rate = 16,000e18 * 1.25e27 = 2e49: exactly on the line
DUST = 5_000 * RAD
BIG = 10**9 * RAD


def _dog(**changes: int) -> DogIlk:
    base = {"chop": 113 * WAD // 100, "hole": BIG, "dirt": 0, "hole_all": BIG, "dirt_all": 0, "live": 1,
            "clip_stopped": 0}
    base.update(changes)
    return DogIlk(clip="0x" + "cc" * 20, **base)  # type: ignore[arg-type]


def test_spotter_poke_and_the_price_it_implies():
    assert rules.poke_spot(VAL, PAR, MAT) == SPOT
    # ETH-A on the devnet: 2500 at mat 1.45: 2500e27 * 1e27 / 1.45e27 = 1724.1379310344827586206896551724...e27, floored
    assert rules.poke_spot(2_500 * WAD, RAY, 145 * RAY // 100) == 1_724_137_931_034_482_758_620_689_655_172
    # par 1.01 (a DAI worth more than its target): 3000e27 * 1e27 / 1.01e27 = 2970.297029702970297029702970297...e27,
    # floored, then / 1.5: 1980.198019801980198019801980198 -> floored again
    assert rules.poke_spot(VAL, 101 * RAY // 100, MAT) == 1_980_198_019_801_980_198_019_801_980_198
    # the least value poking to a spot: ceil(1724137931034482758620689655172 * 1.45) = 2500e27 (from
    # 2499999999999999999999999999999.4), then ceil(2500e27 * 1e27 / 1e36) = 2500e18
    assert rules.least_val_for_spot(1_724_137_931_034_482_758_620_689_655_172, RAY, 145 * RAY // 100) == 2_500 * WAD
    assert rules.least_val_for_spot(SPOT, PAR, MAT) == VAL
    assert rules.least_val_for_spot(0, PAR, MAT) == 0


@given(val=st.integers(1, 10**30), par=st.integers(RAY // 2, 2 * RAY), mat=st.integers(RAY, 5 * RAY))
def test_the_least_value_for_a_poked_spot_is_exact(val, par, mat):
    spot = rules.poke_spot(val, par, mat)
    least = rules.least_val_for_spot(spot, par, mat)
    assert least <= val and rules.poke_spot(least, par, mat) == spot
    assert least == 0 or rules.poke_spot(least - 1, par, mat) < spot


def test_an_urn_below_at_and_above_the_line():
    # at: 16,000 art * 1.25 = 20,000 DAI = 10 ETH * 2000: ink * spot == art * rate is safe (Dog wants <)
    assert rules.safe(INK, ART_AT_LINE, SPOT, RATE) and not rules.unsafe_for_dog(INK, ART_AT_LINE, SPOT, RATE)
    assert rules.health_raw(INK, ART_AT_LINE, SPOT, RATE) == WAD
    assert rules.bark(INK, ART_AT_LINE, rate=RATE, spot=SPOT, dust=DUST, dog=_dog()).reason == "Dog/not-unsafe"
    # one unit of art more: art * rate = 2e49 + 1.25e27 > 2e49; 2e67 / (2e49 + 1.25e27) = 1e18 - 6.25e-5 -> floored
    below = ART_AT_LINE + 1
    assert rules.unsafe_for_dog(INK, below, SPOT, RATE)
    assert rules.health_raw(INK, below, SPOT, RATE) == WAD - 1
    assert rules.bark(INK, below, rate=RATE, spot=SPOT, dust=DUST, dog=_dog()).ok
    # 15,000 art: 18,750 DAI owed; 20,000 / 18,750 = 1.0666...
    assert rules.health_raw(INK, 15_000 * WAD, SPOT, RATE) == 1_066_666_666_666_666_666
    # no debt: no health figure, never unsafe; a spot of 0 protects every urn from the Dog
    assert rules.health_raw(INK, 0, SPOT, RATE) is None and not rules.unsafe_for_dog(INK, 0, SPOT, RATE)
    assert not rules.unsafe_for_dog(INK, below, 0, RATE)


def test_liquidation_price_by_hand():
    # need spot >= ceil(2e49 / 10e18) = 2000e27; ceil(2000e27 * 1.5e27 / 1e27) = 3000e27; ceil(3000e27 * 1e27 /
    # 1e36) = 3000e18: at 3000 USD safe, at 3000e18 - 1 the spot is (3000e27 - 1e9) / 1.5 floored = 2000e27 -
    # 666,666,667 and the urn unsafe
    price = rules.liquidation_price(INK, ART_AT_LINE, RATE, PAR, MAT)
    assert price == VAL
    assert rules.safe(INK, ART_AT_LINE, rules.poke_spot(price, PAR, MAT), RATE)
    assert rules.poke_spot(price - 1, PAR, MAT) == SPOT - 666_666_667
    assert not rules.safe(INK, ART_AT_LINE, rules.poke_spot(price - 1, PAR, MAT), RATE)
    # a WBTC urn (8 decimals): 0.5 BTC joined is ink = 0.5e8 * 1e10 = 5e17 wad; 20,000 art at rate 1.02 owes
    # 20,400 DAI; mat 1.75: need 0.5 * v / 1.75 >= 20,400, v >= 71,400 USD exactly
    assert rules.liquidation_price(5 * 10**17, 20_000 * WAD, 102 * RAY // 100, RAY, 175 * RAY // 100) == 71_400 * WAD
    assert rules.liquidation_price(INK, 0, RATE, PAR, MAT) is None
    assert rules.liquidation_price(0, ART_AT_LINE, RATE, PAR, MAT) is None


@given(ink=st.integers(1, 10**24), art=st.integers(1, 10**24), rate=st.integers(RAY, 3 * RAY),
       par=st.integers(RAY // 2, 2 * RAY), mat=st.integers(RAY, 4 * RAY))
def test_the_liquidation_price_is_the_exact_boundary(ink, art, rate, par, mat):
    price = rules.liquidation_price(ink, art, rate, par, mat)
    assert price is not None and price >= 1
    assert rules.safe(ink, art, rules.poke_spot(price, par, mat), rate)
    assert not rules.safe(ink, art, rules.poke_spot(price - 1, par, mat), rate)
    assert rules.safe(ink, art, rules.poke_spot(2 * price + 7, par, mat), rate)


def test_rpow_rounds_each_product_half_up():
    # base 10: 1.5^2 = 2.25 -> (225 + 5) // 10 = 23; 1.5^3: z = 15, x = 23, z = (15 * 23 + 5) // 10 = 35
    assert rules.rpow(15, 2, 10) == 23
    assert rules.rpow(15, 3, 10) == 35
    assert rules.rpow(2 * RAY, 3, RAY) == 8 * RAY
    assert rules.rpow(0, 0, RAY) == RAY and rules.rpow(0, 5, RAY) == 0 and rules.rpow(7 * RAY, 0, RAY) == RAY


def test_drip_by_hand():
    # duty 1 + 1e-9 per second, two seconds: (1e27 + 1e18)^2 = 1e54 + 2e45 + 1e36; + 5e26, / 1e27 =
    # 1e27 + 2e18 + 1e9 (+ 0.5 floored away); times 1.25e27 / 1e27 = 1.25e27 + 2.5e18 + 1.25e9
    duty = RAY + 10**18
    assert rules.drip_rate(RATE, duty=duty, base=0, rho=100, now=102) == 1_250_000_002_500_000_001_250_000_000
    assert rules.drip_rate(RATE, duty=duty, base=0, rho=100, now=100) == RATE  # nothing elapsed
    # base adds to duty: 1 + 0 + base 1e-9 is the same factor
    assert rules.drip_rate(RATE, duty=RAY, base=10**18, rho=100, now=102) == 1_250_000_002_500_000_001_250_000_000
    try:
        rules.drip_rate(RATE, duty=duty, base=0, rho=100, now=99)
    except ValueError as exc:
        assert "Jug/invalid-now" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("drip before rho must fail")


def test_debt_value_and_dust():
    # DssProxyActions._getWipeAllWad: 1 art at 1.5 owes 1.5e27 rad -> 2 wei to wipe (rounded up)
    assert rules.debt_wad(1, 15 * RAY // 10) == 2
    assert rules.debt_wad(ART_AT_LINE, RATE) == 20_000 * WAD
    assert rules.value_at_par(INK, VAL, PAR) == 30_000 * RAD  # 10 ETH at 3000
    # a dust vault: 4,000 art * 1.25 = 5,000 DAI, exactly the floor; governance raises it to 6,000: below dust
    assert not rules.below_dust(4_000 * WAD, RATE, DUST)
    assert rules.below_dust(4_000 * WAD, RATE, 6_000 * RAD)
    assert not rules.below_dust(0, RATE, 6_000 * RAD)


def test_dog_takes_a_dusty_urn_whole_and_cuts_large_ones_to_the_room():
    # a dust vault (4,000 art * 1.25 = 5,000 DAI, under a raised dust of 6,000) holding 3 ETH, at 2,400 USD: spot =
    # 2400e27 / 1.5 = 1600e27, 3 * 1600 = 4,800 < 5,000: unsafe. Room is ample: dart = art, dink = ink, due =
    # 5,000 DAI, tab = 5,000 * 1.13 = 5,650 DAI
    spot = rules.poke_spot(2_400 * WAD, PAR, MAT)
    assert spot == 1_600 * RAY
    whole = rules.bark(3 * WAD, 4_000 * WAD, rate=RATE, spot=spot, dust=6_000 * RAD, dog=_dog())
    assert whole == rules.Bark(None, 4_000 * WAD, 3 * WAD, 5_000 * RAD, 5_650 * RAD, False)
    # room 11,300 DAI: dart = 11,300e45 * 1e18 / 1.25e27 / 1.13e18 = 8,000e18 of the 16,000e18 + 1; the rest owes
    # 10,000 DAI >= dust and the auction's 10,000 too: partial. dink = 10e18 * 8000e18 / (16000e18 + 1) =
    # 4.99999999999999999999968...e18 -> 4,999,999,999,999,999,999; tab = 1e49 * 1.13 = 11,300 DAI: the room
    room = 11_300 * RAD
    partial = rules.bark(INK, ART_AT_LINE + 1, rate=RATE, spot=SPOT, dust=DUST, dog=_dog(hole=room))
    assert partial == rules.Bark(None, 8_000 * WAD, 4_999_999_999_999_999_999, 10_000 * RAD, room, True)
    # Hole (all ilks) binds the same way when it is the smaller room
    assert rules.bark(INK, ART_AT_LINE + 1, rate=RATE, spot=SPOT, dust=DUST,
                      dog=_dog(hole_all=room + 5 * RAD, dirt_all=5 * RAD)).dart == 8_000 * WAD
    # 7 ETH against 12,000 art (15,000 DAI > 14,000): the same room leaves 4,000 art = 5,000 DAI; with dust 6,000
    # that leftover would be dusty, so the Dog takes everything (dart = art)
    assert rules.bark(7 * WAD, 12_000 * WAD, rate=RATE, spot=SPOT, dust=6_000 * RAD, dog=_dog(hole=room)).dart == (
        12_000 * WAD)
    # room 5,650 DAI: dart = 4,000e18 (5,000 DAI) < dust 6,000 while 12,000 art stay: the auction would be dusty
    refused = rules.bark(INK, 16_000 * WAD + 1, rate=RATE, spot=SPOT, dust=6_000 * RAD, dog=_dog(hole=5_650 * RAD))
    assert refused.reason == "Dog/dusty-auction-from-partial-liquidation" and refused.dart == 4_000 * WAD


def test_dog_refusals_in_order():
    unsafe = {"rate": RATE, "spot": SPOT, "dust": DUST}
    assert rules.bark(INK, ART_AT_LINE + 1, **unsafe, dog=_dog(live=0)).reason == "Dog/not-live"
    assert rules.bark(INK, ART_AT_LINE + 1, **unsafe, dog=_dog(dirt=BIG)).reason == "Dog/liquidation-limit-hit"
    assert rules.bark(INK, ART_AT_LINE + 1, **unsafe,
                      dog=_dog(dirt_all=BIG)).reason == "Dog/liquidation-limit-hit"
    # a room of 1 (a 1e-45 DAI) with dust 0: dart = 1 * 1e18 / 1.25e27 / 1.13e18 = 0, a partial auction of nothing
    # (0 * rate >= dust 0), dink = 0: null
    assert rules.bark(INK, ART_AT_LINE + 1, rate=RATE, spot=SPOT, dust=0, dog=_dog(hole=1)).reason == (
        "Dog/null-auction")
    assert rules.bark(INK, ART_AT_LINE + 1, **unsafe, dog=_dog(clip_stopped=1)).reason == "Clipper/stopped-incorrect"
    assert rules.bark(INK, ART_AT_LINE + 1, **unsafe, dog=_dog(), osm_has=False).reason == "Clipper/invalid-price"
    assert rules.explain("Dog/not-unsafe").startswith("Dog/not-unsafe (the urn is safe")


def test_abi_selectors_and_the_lognote_topics():
    vat, target = load("maker", "Vat"), "0x" + "11" * 20
    ilk = ilk_bytes("ETH-A")
    assert ilk == b"ETH-A" + b"\0" * 27
    assert vat.function("urns").call(target, ilk, target).data[:4].hex() == "2424be5c"
    assert vat.function("ilks").call(target, ilk).data[:4].hex() == "d9638d36"
    assert vat.function("ilks").outputs == ("uint256",) * 5
    assert load("maker", "Dog").function("bark").call(target, ilk, target, target).data[:4].hex() == "ed998908"
    assert load("maker", "OSM").function("peep").call(target).data[:4].hex() == "0e5a6c70"
    # vat.sol note: log4 topic0 = shl(224, shr(224, calldataload(0))): the selector, then 28 zero bytes
    assert FROB_TOPIC == "0x76088703" + "00" * 28
    assert FORK_TOPIC == "0x870c616d" + "00" * 28
    adapter = MakerAdapter(_market())
    spec = adapter.discovery()
    assert spec.account_topic == {FROB_TOPIC: 2, FORK_TOPIC: 3}
    assert spec.match == ("0x4554482d41" + "00" * 27,) and spec.emitter == adapter.market.address


def test_revert_reasons_are_decoded():
    payload = "reverted 0x08c379a0" + encode(["string"], ["Dog/not-unsafe"]).hex()
    assert revert_reason(Failed(payload)) == "Dog/not-unsafe"
    assert revert_reason(Failed("reverted")) == "reverted"


def test_options_model():
    opts = MakerOptions.model_validate({"ilk": "ETH-A", "spotter": "devnet:Maker.Spotter", "join": "0x" + "12" * 20})
    assert opts.jug is None and opts.dog is None
    for bad in ({"ilk": "x" * 33, "spotter": "0x" + "12" * 20, "join": "0x" + "12" * 20},
                {"ilk": "ETH-A", "spotter": "nope", "join": "0x" + "12" * 20}):
        try:
            MakerOptions.model_validate(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} must be refused")


# --- the adapter's health, the OSM's next price and the what-ifs, on a hand-built snapshot

VAT = "0x" + "aa" * 20
PIP = "0x" + "bb" * 20
GEM = "0x" + "cc" * 20
URN = "0x" + "dd" * 20
BLOCK = BlockRef(100, "0x01", 1_800_000_000)


def _market() -> MarketRef:
    return MarketRef(key="eth-a", chain="devnet", address=VAT,
                     options={"ilk": "ETH-A", "spotter": "0x" + "01" * 20, "join": "0x" + "02" * 20,
                              "dog": "0x" + "03" * 20})


def _snapshot(art: int = ART_AT_LINE, current: int | None = VAL, following: int | None = VAL,
              spot: int = SPOT, dog: DogIlk | None = None):
    adapter = MakerAdapter(_market())
    osm = _Osm(PIP, current, None if current is None else True, following, None if following is None else True,
               1_799_998_200, 3_600, None if current is not None else "peek() OSM/contract-not-whitelisted")
    ilk_state = (10**24, RATE, spot, BIG, DUST)
    layout = Layout(PIP, GEM, "WETH", 18, "0x" + "cc" * 20)
    return adapter, adapter._snapshot(_Urn(URN, URN, "vat", None, None), INK, art, BLOCK, layout, ilk_state, PAR,
                                      MAT, osm, None, dog or _dog())


def test_health_in_the_protocols_units():
    _, s = _snapshot(15_000 * WAD)
    assert s.health.raw == 1_066_666_666_666_666_666 and s.health.health == Decimal("1.066666666666666666")
    assert (s.health.equity, s.health.requirement) == (INK * SPOT, 15_000 * WAD * RATE)  # rad: 2e49 and 1.875e49
    assert s.health.quote == "DAI" and s.health.quote_unit == RAD and s.health.collateral == 30_000 * RAD
    coll = next(g for g in s.legs if g.role is Role.COLLATERAL)
    debt = next(g for g in s.legs if g.role is Role.DEBT)
    assert (coll.amount, coll.price, coll.price_key, coll.value) == (INK, VAL, PIP, 30_000 * RAD)
    assert (debt.amount, debt.value) == (18_750 * WAD, 15_000 * WAD * RATE)
    assert s.detail["liquidation_price"] == str(rules.liquidation_price(INK, 15_000 * WAD, RATE, PAR, MAT))
    assert s.detail["bark"] == "Dog/not-unsafe" and "liquidation_held" not in s.detail


def test_a_worse_next_price_lowers_health_and_holds_the_liquidation():
    # safe now at 3000 (raw 1.0666), the OSM's next value 2700: spot 1800e27, 18,000 / 18,750 = 0.96
    _, s = _snapshot(15_000 * WAD, following=2_700 * WAD)
    assert s.health.raw == 1_066_666_666_666_666_666
    assert s.health.health == Decimal("0.96") and s.health.liquidatable
    assert s.health.equity == INK * 1_800 * RAY and s.detail["health_basis"] == "next"
    # zzz + hop = 1,799,998,200 + 3,600 = 1,800,001,800 = 2027-01-15T08:30:00Z, after the block's time
    assert s.detail["liquidation_held"] == "liquidatable at the OSM's next price from 2027-01-15T08:30:00Z"
    assert s.detail["bark"] == "Dog/not-unsafe"
    # a next price that is better changes nothing
    _, better = _snapshot(15_000 * WAD, following=3_300 * WAD)
    assert better.health.health == Decimal("1.066666666666666666") and "liquidation_held" not in better.detail


def test_an_unpoked_current_price_and_an_unreadable_osm():
    # the Vat still has 2000e27 but the OSM's current value is 2700: a Spotter.poke makes the urn unsafe now
    _, s = _snapshot(15_000 * WAD, current=2_700 * WAD, following=2_700 * WAD)
    assert s.health.liquidatable and s.detail["health_basis"] == "current"
    assert s.detail["liquidation_held"].startswith("liquidatable once the Spotter is poked")
    # OSM not readable: the price the Vat's spot implies, health at the Vat alone
    _, blind = _snapshot(15_000 * WAD, current=None, following=None)
    coll = next(g for g in blind.legs if g.role is Role.COLLATERAL)
    assert coll.price == VAL and blind.detail["price_source"] == "implied_by_spot"
    assert blind.health.health == Decimal("1.066666666666666666") and blind.detail["health_basis"] == "vat"


def test_an_unsafe_urn_the_dog_refuses_is_held():
    _, s = _snapshot(ART_AT_LINE + 1, dog=_dog(dirt=BIG))
    assert s.health.raw == WAD - 1 and s.health.liquidatable
    assert s.detail["liquidation_held"].startswith("Dog.bark reverts at this block: Dog/liquidation-limit-hit")
    _, ok = _snapshot(ART_AT_LINE + 1)
    assert "liquidation_held" not in ok.detail and ok.detail["bark"] is None
    assert ok.detail["bark_take"]["dart"] == str(ART_AT_LINE + 1)


def test_reprice_healthy_at_and_liquidation_points_agree():
    adapter, s = _snapshot(15_000 * WAD, following=2_700 * WAD)
    [(key, point)] = adapter.liquidation_points(s).items()
    # 18,750 DAI needs spot >= 1875e27, i.e. a value of 1875 * 1.5 = 2812.5 USD
    assert key == PIP and point.falling and point.price == 2_812_500_000_000_000_000_000
    healthy = adapter.healthy_at(s, PIP)
    assert healthy(point.price) and not healthy(point.price - 1)
    assert not adapter.health_at(s, {PIP: point.price}).liquidatable
    assert adapter.health_at(s, {PIP: point.price - 1}).liquidatable
    assert crossing_price(healthy, Decimal(2_800 * WAD), falling=True) == point.price
    # what-if at 6000: both OSM values and the Vat's spot move; health 40,000 / 18,750
    at = adapter.reprice(s, {PIP: 6_000 * WAD})
    assert at.health.raw == at.health.health * WAD == 2_133_333_333_333_333_333
    assert at.detail["spot"] == str(4_000 * RAY) and "liquidation_held" not in at.detail
    assert s.detail["spot"] == str(SPOT)  # the original is untouched
    assert adapter.price_dependencies(s) == {PIP}
    assert MakerAdapter.price_from_feed(None) is None  # type: ignore[arg-type]
