"""The ``[markets.NAME.options]`` of a Liquity v2 market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_ADDRESS = r"^(0x[0-9a-fA-F]{40}|devnet:.+)$"


class LiquityV2Options(BaseModel):
    """``[markets.NAME.options]`` of a Liquity v2 market (its ``address`` is the branch's TroveManager)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    addresses_registry: str = Field(pattern=_ADDRESS, description="the branch's AddressesRegistry: its PriceFeed, "
                                    "pools, TroveNFT and MCR / CCR / SCR")
