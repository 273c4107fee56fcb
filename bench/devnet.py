"""A fresh devnet per size: anvil, a real Aave v3 market, N seeded borrowers tracked in a scratch SQLite."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from indexer.devnet import Anvil, Deployment, stack
from indexer.protocols.aave_v3.devnet import SeededAccount, seed_borrowers
from indexer.settings import ChainSettings, DatabaseSettings, MarketSettings, Settings
from indexer.store.db import make_engine, upgrade
from indexer.store.models import Wallet
from indexer.store.types import utc_now

CHAIN = "devnet"
MARKET = "devnet-aave-v3"


@dataclass
class BenchDevnet:
    url: str
    deployment: Deployment
    accounts: list[SeededAccount]
    settings: Settings
    engine: Engine  # the indexer's database: the tracked wallets, and what each refresh stores
    deploy_seconds: float
    seed_seconds: float


def _track(engine: Engine, accounts: list[SeededAccount]) -> None:
    """Track every account in one statement (``add_wallet`` is one transaction per wallet: set-up only)."""
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(Wallet.__table__.insert(),  # type: ignore[attr-defined]
                           [{"address": a.address, "label": a.kind, "created_at": now} for a in accounts])


@contextmanager
def bench_devnet(accounts: int, directory: Path, *, batch_size: int | None = None,
                 database: str | None = None) -> Iterator[BenchDevnet]:
    """A devnet with ``accounts`` seeded borrowers and a migrated store tracking them: a SQLite file in
    ``directory``, or ``database`` (an empty database's URL, e.g. a scratch one on a Postgres server)."""
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, ["aave_v3"])
        deployed = time.perf_counter()
        seeded = seed_borrowers(node.url, deployment, accounts)
        seed_seconds = time.perf_counter() - deployed
        deployment_file = directory / "devnet.json"
        deployment.to_json(deployment_file)
        url = database or f"sqlite:///{directory / 'indexer.db'}"
        upgrade(url)
        chain = ChainSettings(chain_id=node.chain_id, devnet=str(deployment_file),
                              **({"batch_size": batch_size} if batch_size else {}))
        settings = Settings(
            database=DatabaseSettings(url=url), chains={CHAIN: chain},
            markets={MARKET: MarketSettings(chain=CHAIN, protocol="aave_v3", address="devnet:PoolAddressesProvider")},
            source="<bench>")
        engine = make_engine(url)
        try:
            _track(engine, seeded)
            yield BenchDevnet(node.url, deployment, seeded, settings, engine, deployed - started, seed_seconds)
        finally:
            engine.dispose()
