"""The devnet market's listing: which reserves, at what price, with which risk parameters.

Risk parameters are in basis points (Aave's PercentageMath): 8000 = 80%, a bonus of 10500 = 105%.
Prices are 8-decimal USD answers, what the DevPriceFeed behind each reserve reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.devnet.oracles import PRICE_DECIMALS

MARKET_ID = "Aave Devnet Market"
BASE_CURRENCY_UNIT = 10**PRICE_DECIMALS  # AaveOracle base currency: USD with 8 decimals
RAY = 10**27


@dataclass(frozen=True)
class ReserveSpec:
    symbol: str
    name: str
    decimals: int
    price: int  # USD, 8 decimals
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    reserve_factor: int
    emode_category: int  # 0 = none
    rate_strategy: str  # a key of RATE_STRATEGIES


@dataclass(frozen=True)
class EModeSpec:
    category_id: int
    label: str
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    price_source: str = "0x0000000000000000000000000000000000000000"


def usd(amount: float) -> int:
    return round(amount * BASE_CURRENCY_UNIT)


RESERVES: tuple[ReserveSpec, ...] = (
    ReserveSpec("WETH", "Wrapped Ether", 18, usd(2_000), 8000, 8250, 10500, 1500, 1, "volatile"),
    ReserveSpec("wstETH", "Wrapped liquid staked Ether 2.0", 18, usd(2_300), 7000, 7900, 10750, 1500, 1, "volatile"),
    ReserveSpec("WBTC", "Wrapped BTC", 8, usd(60_000), 7300, 7800, 10500, 2000, 0, "volatile"),
    ReserveSpec("USDC", "USD Coin", 6, usd(1), 7700, 8000, 10450, 1000, 2, "stable"),
    ReserveSpec("DAI", "Dai Stablecoin", 18, usd(1), 7500, 8000, 10500, 1000, 2, "stable"),
    ReserveSpec("EURS", "STASIS EURO", 2, usd(1.08), 6500, 7000, 10500, 1000, 0, "stable"),
)  # fmt: skip

EMODE_CATEGORIES: tuple[EModeSpec, ...] = (
    EModeSpec(1, "ETH correlated", 9000, 9300, 10100),
    EModeSpec(2, "USD stables", 9300, 9500, 10100),
)

# DefaultReserveInterestRateStrategy constructor arguments after the provider, all in ray:
# optimalUsageRatio, baseVariableBorrowRate, variableRateSlope1, variableRateSlope2, stableRateSlope1,
# stableRateSlope2, baseStableRateOffset, stableRateExcessOffset, optimalStableToTotalDebtRatio
RATE_STRATEGIES: dict[str, tuple[int, ...]] = {
    "volatile": (
        45 * RAY // 100, 0, 4 * RAY // 100, 300 * RAY // 100, 0, 0, 2 * RAY // 100, 5 * RAY // 100, 20 * RAY // 100,
    ),
    "stable": (
        90 * RAY // 100, 0, 4 * RAY // 100, 60 * RAY // 100, 0, 0, 1 * RAY // 100, 8 * RAY // 100, 20 * RAY // 100,
    ),
}  # fmt: skip


def reserve_spec(symbol: str) -> ReserveSpec:
    for spec in RESERVES:
        if spec.symbol == symbol:
            return spec
    raise KeyError(f"no devnet reserve {symbol!r}; known: {[s.symbol for s in RESERVES]}")
