"""A whole devnet: the chain's shared services and every protocol that has a devnet module, in registry order.

Each protocol's ``devnet`` module (:class:`indexer.protocols.base.DevnetModule`) deploys its own contracts and
returns a record; the record joins the deployment file (:class:`~indexer.devnet.deployment.Deployment`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import cast

from indexer.devnet import chain
from indexer.devnet.deployment import Deployment
from indexer.protocols.base import DevnetModule
from indexer.protocols.registry import all_sources, known_kinds, source_class


def devnet_module(kind: str) -> DevnetModule:
    source = source_class(kind)
    if source is None:
        raise KeyError(f"unknown protocol {kind!r} (known: {', '.join(known_kinds())})")
    if source.devnet is None:
        raise KeyError(f"protocol {kind!r} has no devnet deployment")
    return cast(DevnetModule, importlib.import_module(source.devnet))


def devnet_kinds() -> list[str]:
    """Every protocol with a devnet deployment, in registry order."""
    return [kind for kind, source in all_sources().items() if source.devnet is not None]


def deploy(rpc_url: str, protocols: Iterable[str] | None = None) -> Deployment:
    """Deploys ``protocols`` (default: every one with a devnet), then the shared services (Multicall3, Pyth
    publishing the reserves' prices, the sequencer feed) on the node at ``rpc_url``."""
    deployment = chain.start(rpc_url)
    for kind in devnet_kinds() if protocols is None else protocols:
        deployment.add(kind, devnet_module(kind).deploy_devnet(rpc_url))
    chain.deploy_services(rpc_url, deployment)
    return deployment


def seed(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    """About ``count`` positions on each deployed protocol; (account, label) of each, labelled ``kind:what``."""
    seeded: list[tuple[str, str]] = []
    for kind in deployment.protocols:
        seeded += [(address, f"{kind}:{label}")
                   for address, label in devnet_module(kind).seed_devnet(rpc_url, deployment, count)]  # fmt: skip
    return seeded
