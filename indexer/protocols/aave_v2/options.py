"""The ``[markets.NAME.options]`` of an Aave v2 market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AaveV2Options(BaseModel):
    """``[markets.NAME.options]`` of an Aave v2 market: the currency its AaveOracle quotes prices in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    quote: str = Field("ETH", pattern=r"^[A-Za-z][A-Za-z0-9.]{0,15}$",
                       description="the oracle's quote currency: ETH on mainnet/Polygon, USD on Avalanche")
    quote_decimals: int = Field(18, ge=0, le=36,
                                description="decimals of one quote unit: 18 for ETH (wei), 8 for USD")
