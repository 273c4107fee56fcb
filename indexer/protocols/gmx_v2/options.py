"""The ``[markets.NAME.options]`` of a GMX v2 market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GmxV2Options(BaseModel):
    """``[markets.NAME.options]`` of a GMX v2 market (addresses, or ``devnet:NAME``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    data_store: str = Field(min_length=1, description="the DataStore the Reader reads")
    referral_storage: str = Field(min_length=1, description="the ReferralStorage (trader discounts)")
    markets: list[str] | None = Field(default=None, description="market tokens to read (default: every market)")
    event_emitter: str | None = Field(default=None, description="the EventEmitter, for discovery")
