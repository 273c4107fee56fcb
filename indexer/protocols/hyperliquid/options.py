"""The ``[markets.NAME.options]`` of a Hyperliquid market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HyperliquidOptions(BaseModel):
    """``[markets.NAME.options]`` of a Hyperliquid market: which perp dex (``""``: the main one; ``"*"``: every
    dex ``perpDexs`` lists, builder-deployed ones included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dex: str = Field(default="", max_length=64, pattern=r"^(\*|[A-Za-z0-9_-]*)$")
