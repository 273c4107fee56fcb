"""The Aave v2 devnet market's listing: reserves, their prices in ETH and their risk parameters.

The market is quoted in ETH, as Aave v2's mainnet and Polygon markets are: AaveOracle returns one whole
token's price in wei (18 decimals) and WETH's price is 1 ether by definition (AaveOracle.sol: ``if (asset ==
WETH) return 1 ether``). Each other reserve's source is a DevPriceFeed with 18 decimals ("SYM / ETH") behind
a DevFeedProxy, which AaveOracle reads through ``latestAnswer()``.

Risk parameters are basis points (PercentageMath): 8000 = 80 %, a liquidation bonus of 10500 = 105 %.
LendingPoolConfigurator.configureReserveAsCollateral requires ``ltv <= lt`` and ``percentMul(lt, bonus) <=
10000`` when ``lt != 0``, and a bonus of 0 when ``lt == 0`` (a borrow-only reserve, like GUSD on mainnet).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

MARKET_ID = "Aave v2 Devnet Market"
QUOTE = "ETH"
QUOTE_DECIMALS = 18
WAD = 10**18
RAY = 10**27
FEED_DECIMALS = 18  # the DevPriceFeeds answer in wei per whole token


@dataclass(frozen=True)
class ReserveSpec:
    symbol: str
    name: str
    decimals: int
    eth: Fraction  # price of one whole token in ETH
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    reserve_factor: int
    stable_borrowing: bool
    rate_strategy: str  # a key of RATE_STRATEGIES
    market_borrow_rate: int  # LendingRateOracle's rate (ray): the base of the stable borrow rate

    @property
    def price(self) -> int:
        """AaveOracle's answer: wei per whole token."""
        return int(self.eth * WAD)


def _pct(value: Fraction | int) -> int:
    return int(Fraction(value) * RAY // 100)


RESERVES: tuple[ReserveSpec, ...] = (
    ReserveSpec("WETH", "Wrapped Ether", 18, Fraction(1), 8000, 8250, 10500, 1000, True, "volatile", _pct(3)),
    ReserveSpec("DAI", "Dai Stablecoin", 18, Fraction(1, 2_000), 7500, 8000, 10500, 1000, True, "stable",
                _pct(Fraction(7, 2))),
    ReserveSpec("USDC", "USD Coin", 6, Fraction(1, 2_010), 8000, 8500, 10500, 1000, True, "stable",
                _pct(Fraction(7, 2))),
    ReserveSpec("WBTC", "Wrapped BTC", 8, Fraction(30), 7000, 7500, 11000, 2000, True, "volatile", _pct(3)),
    ReserveSpec("LINK", "ChainLink Token", 18, Fraction(3, 400), 7000, 7500, 11000, 2000, True, "volatile", _pct(3)),
    ReserveSpec("GUSD", "Gemini dollar", 2, Fraction(1, 1_990), 0, 0, 0, 1000, True, "stable", _pct(Fraction(7, 2))),
)  # fmt: skip

# DefaultReserveInterestRateStrategy constructor arguments after the provider, in ray (protocol-v2 1.0.1):
# optimalUtilizationRate, baseVariableBorrowRate, variableRateSlope1, variableRateSlope2, stableRateSlope1,
# stableRateSlope2
RATE_STRATEGIES: dict[str, tuple[int, ...]] = {
    "volatile": (_pct(45), 0, _pct(7), _pct(300), _pct(10), _pct(300)),
    "stable": (_pct(80), 0, _pct(4), _pct(75), _pct(2), _pct(75)),
}


def reserve_spec(symbol: str) -> ReserveSpec:
    for spec in RESERVES:
        if spec.symbol == symbol:
            return spec
    raise KeyError(f"no Aave v2 devnet reserve {symbol!r}; known: {[s.symbol for s in RESERVES]}")
