"""The ``[markets.NAME.options]`` of a Morpho Blue market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MorphoOptions(BaseModel):
    """``[markets.NAME.options]`` of a Morpho Blue market: which market of the Morpho contract it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    market_id: str = Field(pattern=r"^(0x[0-9a-fA-F]{64}|devnet:.+)$",
                           description="the market's Id (bytes32), or devnet:NAME from the devnet deployment")
