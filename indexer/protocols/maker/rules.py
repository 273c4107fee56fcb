"""Maker (dss, "Sky" since 2024) vault arithmetic in exact integers, as the deployed contracts compute it.

Every value is a uint256 held in a plain int; Solidity's ``/`` on uints floors, as ``//`` does here. Each function
names the source it mirrors, all in makerdao repositories: ``dss/src/vat.sol`` (the deployed MCD_VAT),
``dss/src/spot.sol``, ``dss/src/jug.sol``, ``dss/src/dog.sol``, ``dss/src/clip.sol``, ``osm/src/osm.sol``,
``dss-proxy-actions/src/DssProxyActions.sol``, ``dss-gem-joins/src/join-5.sol``.

Units (vat.sol's comments): ``ink``, ``art``, ``Art`` and gem balances are wad (1e18); ``rate``, ``spot``, ``mat``
and ``par`` are ray (1e27); ``dust``, ``line``, ``hole``, ``dirt``, ``Hole``, ``Dirt`` and Vat DAI are rad (1e45 =
wad * ray); the OSM's value and ``chop`` are wad. The Vat keeps collateral in wad whatever the token's decimals:
a GemJoin credits ``amt * 10**(18 - dec)`` (join-5.sol).

The liquidation line is the Vat's: an urn is unsafe when ``ink * spot < art * rate`` with the Vat's *stored*
spot and rate (dog.sol ``bark``: ``require(spot > 0 && ink * spot < art * rate, "Dog/not-unsafe")``; vat.sol
``frob`` refuses to make an urn riskier unless ``art * rate <= ink * spot``). Neither moves by itself: ``spot``
only when someone calls ``Spotter.poke`` (with the OSM's *current* value), ``rate`` only when someone calls
``Jug.drip``; both are permissionless, and Dog.bark calls neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

WAD = 10**18
RAY = 10**27
RAD = 10**45
BLN = 10**9
UINT128_MAX = 2**128 - 1
UINT256_MAX = 2**256 - 1
INT256_MAX = 2**255  # dog.sol's overflow guard: dart <= 2**255 && dink <= 2**255


def _ceil_div(x: int, y: int) -> int:
    return -(-x // y)


# --- dss/src/spot.sol


def rdiv(x: int, y: int) -> int:
    """spot.sol ``rdiv``: ``x * ONE / y`` floored (ONE = 1e27)."""
    return x * RAY // y


def poke_spot(val: int, par: int, mat: int) -> int:
    """spot.sol ``poke``: the spot a poke files for an OSM value ``val`` [wad]:
    ``rdiv(rdiv(val * 10**9, par), mat)`` [ray] — the price in DAI at ``par`` divided by the liquidation ratio,
    each division floored. (A feed without a value gives 0; callers pass only valid values.)"""
    if par <= 0 or mat <= 0:
        raise ValueError(f"Spotter.poke divides by par={par} and mat={mat}: both must be positive")
    return rdiv(rdiv(val * BLN, par), mat)


def least_val_for_spot(spot: int, par: int, mat: int) -> int:
    """The smallest OSM value whose poke files a spot of at least ``spot``. Exact: ``floor(floor(v * 1e36 / par) *
    1e27 / mat) >= s`` holds iff ``floor(v * 1e36 / par) >= ceil(s * mat / 1e27)`` iff ``v * 1e36 >= that * par``
    (floor(x / d) >= k iff x >= k * d). For a spot that a poke produced it is the least value poking to exactly
    that spot (the price the Vat's spot implies when the OSM cannot be read)."""
    if spot <= 0:
        return 0
    if par <= 0 or mat <= 0:
        raise ValueError(f"Spotter.poke divides by par={par} and mat={mat}: both must be positive")
    scaled = _ceil_div(spot * mat, RAY)  # the least rdiv(val * 1e9, par) that still gives spot
    return _ceil_div(scaled * par, BLN * RAY)


def value_at_par(ink: int, val: int, par: int) -> int:
    """Collateral worth in DAI at par [rad]: ``ink * rdiv(val * 10**9, par)`` — the unit price clip.sol's
    ``getFeedPrice`` computes (``rdiv(mul(val, BLN), par)``, a ray) times the locked wad."""
    return ink * rdiv(val * BLN, par)


# --- dss/src/vat.sol


def tab(art: int, rate: int) -> int:
    """The urn's debt in DAI [rad]: ``art * rate`` (vat.sol ``frob``'s ``tab``)."""
    return art * rate


def safe(ink: int, art: int, spot: int, rate: int) -> bool:
    """vat.sol ``frob``'s safety line: ``art * rate <= ink * spot``."""
    return art * rate <= ink * spot


def unsafe_for_dog(ink: int, art: int, spot: int, rate: int) -> bool:
    """dog.sol ``bark``'s first test: ``spot > 0 && ink * spot < art * rate`` (a spot of 0 — an OSM without a
    value — protects every urn)."""
    return spot > 0 and ink * spot < art * rate


def health_raw(ink: int, art: int, spot: int, rate: int) -> int | None:
    """``ink * spot / (art * rate)`` in wad, floored; None without debt. Below 1e18 exactly when ``ink * spot <
    art * rate`` (floor(x * W / y) >= W iff x >= y), so the Vat's line is kept to the unit."""
    owed = art * rate
    if owed == 0:
        return None
    return ink * spot * WAD // owed


def below_dust(art: int, rate: int, dust: int) -> bool:
    """An urn with debt under the ilk's floor (vat.sol ``frob``: ``urn.art == 0 || tab >= ilk.dust``): possible
    when governance raised ``dust`` after the urn drew; frob then refuses any change that leaves it so."""
    return art > 0 and art * rate < dust


def debt_wad(art: int, rate: int) -> int:
    """DAI needed to repay everything [wad]: ``art * rate / RAY`` rounded up (DssProxyActions ``_getWipeAllWad``:
    one more wei when the rad has a remainder)."""
    return _ceil_div(art * rate, RAY)


def art_for_debt(amount: int, rate: int) -> int:
    """The normalized debt [wad] behind a DAI debt of ``amount`` [wad]: ``amount * RAY / rate`` floored, the largest
    ``art`` with ``debt_wad(art, rate) <= amount``. With ``rate >= RAY`` one more art adds at least a whole wad of
    DAI, so ``debt_wad`` takes each art to its own amount and this returns that art exactly
    (``art_for_debt(debt_wad(art, rate), rate) == art``); an amount ``debt_wad`` never yields (a debt shortened by
    hand) gets the most art that owes no more than it."""
    if rate <= 0:
        raise ValueError(f"an ilk's rate is positive once Vat.init ran, not {rate}")
    return amount * RAY // rate


def liquidation_price(ink: int, art: int, rate: int, par: int, mat: int) -> int | None:
    """The last OSM value [wad] at which the urn is safe once poked: the least ``val`` with ``ink *
    poke_spot(val) >= art * rate``; one unit lower it is unsafe. ``poke_spot`` is non-decreasing in ``val``,
    and ``ink * spot >= art * rate`` iff ``spot >= ceil(art * rate / ink)``, so the answer is
    ``least_val_for_spot(ceil(art * rate / ink))``. None without debt (never unsafe) or without collateral (no
    price makes it safe). An answer above 2**128 - 1 (the OSM's uint128) means no OSM value makes it safe."""
    owed = art * rate
    if owed == 0 or ink == 0:
        return None
    return least_val_for_spot(_ceil_div(owed, ink), par, mat)


# --- dss-proxy-actions/src/DssProxyActions.sol, with vat.sol frob's dust rule


def wipe_dart(wad: int, art: int, rate: int) -> int:
    """How much normalized debt a repayment of ``wad`` DAI takes off an urn owing ``art`` (the magnitude of the
    negative dart): DssProxyActions ``wipe`` joins ``wad`` DAI into the Vat (``wad * ONE`` rad) and
    ``_getWipeDart`` turns it into ``dai / rate``, floored, capped at ``art``. Floor is also the most a direct
    ``Vat.frob`` can take for that DAI: one more art would cost more rad than ``wad * RAY``."""
    return min(wad * RAY // rate, art)


def least_art_at_dust(rate: int, dust: int) -> int:
    """The smallest art whose debt is not dusty: ``art * rate >= dust``, i.e. ``ceil(dust / rate)``."""
    return _ceil_div(dust, rate)


def art_after_repay(art: int, rate: int, dust: int, wad: int) -> int:
    """The urn's art once its holder repays up to ``wad`` DAI in one frob the Vat accepts.

    The wipe takes ``wipe_dart(wad, art, rate)`` off ``art``. vat.sol ``frob`` then requires ``urn.art == 0 ||
    tab >= ilk.dust``, so a repayment that would leave a debt under the dust reverts ("Vat/dust"). Such a ``wad``
    is booked as the largest repayment within it that the Vat does take: the one leaving exactly the least
    non-dusty art, or nothing when the urn is already under the dust (no partial repayment of it goes through).
    That keeps the result non-increasing in ``wad``, and the smallest ``wad`` reaching a given art is always one
    the Vat would accept: a repayment that leaves at least the dust, or the whole debt."""
    left = art - wipe_dart(wad, art, rate)
    if left == 0 or left * rate >= dust:
        return left
    return min(art, least_art_at_dust(rate, dust))


# --- dss/src/join.sol GemJoin, dss-gem-joins/src/join-5.sol (tokens of fewer than 18 decimals)


def ink_after_lock(ink: int, wad: int, dec: int) -> int:
    """The urn's ink once its holder locks up to ``wad`` [wad] more of a token of ``dec`` decimals: a GemJoin
    takes whole token units and credits ``amt * 10**(18 - dec)`` (DssProxyActions ``lockGem`` frobs that
    ``convertTo18`` figure), so only the whole units within ``wad`` are locked."""
    if not 0 <= dec <= 18:
        raise ValueError(f"a GemJoin takes tokens of at most 18 decimals, not {dec}")
    unit = 10 ** (18 - dec)
    return ink + wad // unit * unit


# --- dss/src/jug.sol


def rpow(x: int, n: int, b: int) -> int:
    """jug.sol ``rpow``: ``x**n`` in base ``b`` by squaring, every product rounded half up (``(p + b/2) / b``);
    ``0**0 = b``, ``0**n = 0``. (The assembly reverts on overflow; Python's ints do not overflow.)"""
    if x == 0:
        return b if n == 0 else 0
    z = b if n % 2 == 0 else x
    half = b // 2
    n //= 2
    while n:
        x = (x * x + half) // b
        if n % 2:
            z = (z * x + half) // b
        n //= 2
    return z


def drip_rate(prev: int, *, duty: int, base: int, rho: int, now: int) -> int:
    """The rate ``Jug.drip`` would store at time ``now`` (jug.sol: ``rmul(rpow(add(base, duty), now - rho, ONE),
    prev)``, rmul floored); ``prev`` is the Vat's stored rate. Raises ValueError where drip reverts
    ("Jug/invalid-now": ``now < rho``)."""
    if now < rho:
        raise ValueError(f"Jug/invalid-now: now={now} < rho={rho}")
    return rpow(base + duty, now - rho, RAY) * prev // RAY


# --- dss/src/dog.sol and dss/src/clip.sol


@dataclass(frozen=True, slots=True)
class DogIlk:
    """``Dog.ilks(ilk)`` with the Dog's globals and the ilk's Clipper breaker."""

    clip: str
    chop: int  # liquidation penalty [wad], >= 1e18
    hole: int  # the ilk's limit of DAI in active auctions [rad]
    dirt: int  # the ilk's DAI in active auctions [rad]
    hole_all: int  # Dog.Hole [rad]
    dirt_all: int  # Dog.Dirt [rad]
    live: int  # Dog.live
    clip_stopped: int | None = None  # Clipper.stopped (kick needs < 1); None: not read


@dataclass(frozen=True, slots=True)
class Bark:
    """What ``Dog.bark`` would do to one urn: ``reason`` is the revert (None: it goes through), ``dart`` and ``dink``
    what it takes, ``due = dart * rate`` [rad], ``tab = due * chop / WAD`` [rad] the auction's target, ``partial``
    whether the room limits cut it short of the whole urn."""

    reason: str | None
    dart: int = 0
    dink: int = 0
    due: int = 0
    tab: int = 0
    partial: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is None


def bark(ink: int, art: int, *, rate: int, spot: int, dust: int, dog: DogIlk, osm_has: bool | None = None) -> Bark:
    """``Dog.bark(ilk, urn, kpr)`` at the Vat's stored figures (dog.sol, in its order), then the checks of
    ``Clipper.kick`` (clip.sol) that can fail: the breaker (``stopped < 1``, "Clipper/stopped-incorrect") and the
    OSM's current value (``getFeedPrice``: ``has``, "Clipper/invalid-price"; ``osm_has`` None: not known).

    dog.sol: live; ``spot > 0 && ink * spot < art * rate``; ``Hole > Dirt && hole > dirt``; ``room = min(Hole -
    Dirt, hole - dirt)``; ``dart = min(art, room * WAD / rate / chop)``; if that leaves ``art - dart`` with
    ``(art - dart) * rate < dust`` it takes all of ``art``, else a partial auction needs ``dart * rate >= dust``;
    ``dink = ink * dart / art > 0``; ``due = dart * rate``; ``tab = due * chop / WAD``. A Solidity revert without a
    reason (overflow of ``room * WAD``, a chop of 0) is reported as "revert (no reason: ...)"."""
    if dog.live != 1:
        return Bark("Dog/not-live")
    if not unsafe_for_dog(ink, art, spot, rate):
        return Bark("Dog/not-unsafe")
    if not (dog.hole_all > dog.dirt_all and dog.hole > dog.dirt):
        return Bark("Dog/liquidation-limit-hit")
    room = min(dog.hole_all - dog.dirt_all, dog.hole - dog.dirt)
    if room * WAD > UINT256_MAX:
        return Bark("revert (no reason: room * WAD overflows)")
    if dog.chop == 0:
        return Bark("revert (no reason: chop is 0, division by zero)")
    dart = min(art, room * WAD // rate // dog.chop)
    partial = False
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art  # the leftover would be dusty: the whole urn goes
        elif dart * rate < dust:
            return Bark("Dog/dusty-auction-from-partial-liquidation", dart=dart)
        else:
            partial = True
    dink = ink * dart // art
    if dink == 0:
        return Bark("Dog/null-auction", dart=dart)
    if dart > INT256_MAX or dink > INT256_MAX:
        return Bark("Dog/overflow", dart=dart, dink=dink)
    due = dart * rate
    auction_tab = due * dog.chop // WAD
    if dog.clip_stopped is not None and dog.clip_stopped >= 1:
        return Bark("Clipper/stopped-incorrect", dart, dink, due, auction_tab, partial)
    if osm_has is False:
        return Bark("Clipper/invalid-price", dart, dink, due, auction_tab, partial)
    return Bark(None, dart, dink, due, auction_tab, partial)


BARK_REASONS = {
    "Dog/not-live": "the Dog is caged",
    "Dog/not-unsafe": "the urn is safe at the Vat's stored spot and rate",
    "Dog/liquidation-limit-hit": "no room under the Dog's limits (Hole > Dirt and the ilk's hole > dirt)",
    "Dog/dusty-auction-from-partial-liquidation":
        "the room left under the limits allows only an auction below the ilk's dust",
    "Dog/null-auction": "the collateral share of the debt taken rounds to 0",
    "Clipper/stopped-incorrect": "the ilk's Clipper breaker stops new auctions",
    "Clipper/invalid-price": "the OSM has no current value for the auction's starting price",
}


def explain(reason: str) -> str:
    """A revert reason with what it means for a liquidation."""
    meaning = BARK_REASONS.get(reason)
    return f"{reason} ({meaning})" if meaning else reason
