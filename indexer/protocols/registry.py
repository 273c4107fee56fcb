"""Every protocol adapter, one line each. Settings validate protocol names against this table."""

from __future__ import annotations

from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import ProtocolAdapter

ADAPTERS: dict[str, type[ProtocolAdapter]] = {
    AaveV3Adapter.kind: AaveV3Adapter,
}
