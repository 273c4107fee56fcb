"""The ``[markets.NAME.options]`` of an Euler v2 market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EulerOptions(BaseModel):
    """``[markets.NAME.options]`` of an Euler v2 market."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sub_accounts: bool = Field(default=False, description="read every account as its owner's 256 sub-accounts "
                               "(those with this vault as controller); for tracked wallets without discovery")
