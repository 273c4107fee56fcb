"""The shipped live-market configs (config/markets/*.toml) load through the project's own settings loader, name
checksummed addresses only, put every market on a configured chain with its real chain id, share no market
key across files (so any two can be merged into one config), state the quote currency of every Compound v3
market as its base feed prices it, name the ilk of every Maker market, in its key too, and name the
AddressesRegistry of every Liquity v2 market (a contract other than its TroveManager)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address

from indexer.paths import shipped
from indexer.settings import Settings, load_settings

MARKETS_DIR = shipped("config") / "markets"
CHAIN_IDS = {"ethereum": 1, "arbitrum": 42161, "optimism": 10, "base": 8453, "polygon": 137, "avalanche": 43114,
             "gnosis": 100}
L2_WITH_SEQUENCER = {"arbitrum", "optimism", "base"}
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
# Compound v3: the currency of each Comet's base price feed, by the base named at the end of the market key
# (compound-v3-<chain>-<base>). The WETH Comets' base feed is a constant 1e8 in ETH, cwstETHv3's a constant 1e8 in
# wstETH; every other base is priced by a USD feed.
COMET_QUOTE_BY_BASE = {"weth": "ETH", "wsteth": "wstETH"}
COMET_QUOTES = {"USD", "ETH", "wstETH"}
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ADDRESS = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
FILES = sorted(MARKETS_DIR.glob("*.toml"))


def _raw(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _load(path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ENV_REF.findall(path.read_text(encoding="utf-8")):
        monkeypatch.setenv(name, "http://127.0.0.1:8545")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return load_settings(path)


def test_one_file_per_chain() -> None:
    assert [path.stem for path in FILES] == sorted(CHAIN_IDS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_loads_and_validates_through_settings(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(path, monkeypatch)
    assert settings.markets, path
    assert set(settings.chains) == {path.stem}
    for key, market in settings.markets.items():
        assert market.chain in settings.chains, key
        assert market.start_block > 0, key
        assert market.protocol in {"aave_v3", "aave_v2", "compound_v3", "liquity_v1", "liquity_v2", "maker",
                                   "euler_v2"}, key


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_chain_ids_rpc_from_environment_and_feeds(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(path, monkeypatch)
    raw_chains = _raw(path)["chains"]
    for name, chain in settings.chains.items():
        assert chain.chain_id == CHAIN_IDS[name], name
        assert chain.multicall3 == MULTICALL3
        assert raw_chains[name]["rpc_urls"] and all(ENV_REF.fullmatch(url) for url in raw_chains[name]["rpc_urls"])
        assert (chain.sequencer_uptime_feed is not None) == (name in L2_WITH_SEQUENCER), name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_address_is_checksummed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = ADDRESS.findall(text)
    assert found, path
    wrong = [address for address in found if to_checksum_address(address) != address]
    assert not wrong, f"{path.name}: not checksummed: {wrong}"
    for market in _raw(path)["markets"].values():
        assert to_checksum_address(market["address"]) == market["address"]


def test_no_two_markets_share_a_key() -> None:
    seen: dict[str, str] = {}
    for path in FILES:
        for key in _raw(path)["markets"]:
            assert key not in seen, f"market {key!r} is in both {seen[key]} and {path.name}"
            seen[key] = path.name


def test_every_compound_v3_market_states_its_quote() -> None:
    comets = {key: (path.stem, market) for path in FILES for key, market in _raw(path)["markets"].items()
              if market["protocol"] == "compound_v3"}
    assert comets, "no compound_v3 market ships"
    for base in COMET_QUOTE_BY_BASE:  # every non-USD rule is exercised by a shipped market
        assert any(key.endswith(f"-{base}") for key in comets), base
    for key, (chain, market) in comets.items():
        prefix = f"compound-v3-{chain}-"
        assert key.startswith(prefix), key
        base = key.removeprefix(prefix)
        quote = market.get("options", {}).get("quote")
        assert quote in COMET_QUOTES, f"{key}: quote {quote!r}"
        assert quote == COMET_QUOTE_BY_BASE.get(base, "USD"), f"{key}: base {base!r} is quoted in {quote!r}"


def test_the_weth_comets_are_eth_quoted() -> None:
    weth = [(key, market) for path in FILES for key, market in _raw(path)["markets"].items()
            if market["protocol"] == "compound_v3" and key.endswith("-weth")]
    assert {key.split("-")[2] for key, _ in weth} == {"ethereum", "arbitrum", "optimism", "base"}
    assert all(market["options"]["quote"] == "ETH" for _, market in weth), weth


def test_every_maker_market_names_its_ilk() -> None:
    makers = {key: (path.stem, market) for path in FILES for key, market in _raw(path)["markets"].items()
              if market["protocol"] == "maker"}
    assert makers, "no maker market ships"
    for key, (chain, market) in makers.items():
        ilk = market.get("options", {}).get("ilk")
        assert isinstance(ilk, str) and ilk, f"{key}: no ilk"
        assert key == f"maker-{chain}-{ilk.lower()}", f"{key}: ilk {ilk!r}"


def test_every_liquity_v2_market_names_its_addresses_registry() -> None:
    branches = {key: market for path in FILES for key, market in _raw(path)["markets"].items()
                if market["protocol"] == "liquity_v2"}
    assert branches, "no liquity_v2 market ships"
    for key, market in branches.items():
        registry = market.get("options", {}).get("addresses_registry")
        assert isinstance(registry, str) and ADDRESS.fullmatch(registry), f"{key}: addresses_registry {registry!r}"
        assert to_checksum_address(registry) == registry, f"{key}: not checksummed: {registry}"
        assert registry.lower() != market["address"].lower(), f"{key}: the registry is the TroveManager itself"
