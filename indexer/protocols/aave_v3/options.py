"""The ``[markets.NAME.options]`` of an Aave v3 market, apart from the adapter: settings validate them without
importing it (the registry reads them from this package)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class AaveV3Options(BaseModel):
    """A fork that numbers its Pool revisions its own way names the Aave release whose rules it follows."""

    model_config = {"extra": "forbid"}
    rules: Literal["v3.0", "v3.1", "v3.2", "v3.3", "v3.4", "v3.5", "v3.6", "v3.7"] | None = None
