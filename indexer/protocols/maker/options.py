"""The ``[markets.NAME.options]`` of a Maker market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_ADDRESS = r"^(0x[0-9a-fA-F]{40}|devnet:.+)$"


class MakerOptions(BaseModel):
    """``[markets.NAME.options]`` of a Maker market: the ilk and the dss contracts around the Vat."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ilk: str = Field(min_length=1, max_length=32, pattern=r"^[\x20-\x7e]+$",
                     description='the collateral type, e.g. "ETH-A"')
    spotter: str = Field(pattern=_ADDRESS, description="the Spotter (MCD_SPOT): the ilk's pip and mat, par")
    join: str = Field(pattern=_ADDRESS, description="the ilk's GemJoin: the collateral token and its decimals")
    jug: str | None = Field(None, pattern=_ADDRESS, description="the Jug (MCD_JUG): the rate a drip would set")
    dog: str | None = Field(None, pattern=_ADDRESS,
                            description="the Dog (MCD_DOG): liquidation limits and the self-check's bark")
    cdp_manager: str | None = Field(None, pattern=_ADDRESS, description="the DssCdpManager (CDP_MANAGER)")
    proxy_registry: str | None = Field(None, pattern=_ADDRESS, description="the ProxyRegistry (PROXY_REGISTRY)")
