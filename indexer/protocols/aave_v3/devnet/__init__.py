"""The devnet's Aave v3.0 market: the real @aave/core-v3 artifacts, six reserves, two eMode categories and
seeded borrowers of every kind (see :mod:`.market`, :mod:`.deploy`, :mod:`.seed`).

``deploy_devnet`` and ``seed_devnet`` are what :mod:`indexer.devnet.stack` calls
(:class:`indexer.protocols.base.DevnetModule`).
"""

from __future__ import annotations

from typing import Any

from indexer.devnet.deployment import Deployment
from indexer.protocols.aave_v3.devnet.deploy import deploy_aave_v3
from indexer.protocols.aave_v3.devnet.record import KIND, aave_record, emode_categories
from indexer.protocols.aave_v3.devnet.seed import KINDS, SeededAccount, plan_accounts, seed_borrowers

__all__ = [
    "KIND",
    "KINDS",
    "SeededAccount",
    "aave_record",
    "deploy_aave_v3",
    "deploy_devnet",
    "emode_categories",
    "plan_accounts",
    "seed_borrowers",
    "seed_devnet",
]


def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    return deploy_aave_v3(rpc_url)


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    return [(a.address, a.kind) for a in seed_borrowers(rpc_url, deployment, count)]
