"""The ``[markets.NAME.options]`` of a Compound v3 market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CometOptions(BaseModel):
    """``[markets.NAME.options]`` of a Compound v3 market."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    quote: str = Field(default="USD", min_length=1, max_length=16,
                       description="the currency of the market's base price feed (USD; ETH for the WETH markets)")
