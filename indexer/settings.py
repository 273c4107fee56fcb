"""One validated settings object, loaded from TOML; fails fast on anything it does not understand.

Secrets and RPC URLs come from the environment: any string may contain ``${VAR}``, and
``DATABASE_URL`` overrides ``[database].url``. Relative paths (a SQLite file, a devnet deployment file, feed tables)
are relative to the data directory (``indexer.paths``), never to the working directory.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from indexer.environ import environ
from indexer.errors import ConfigError, InvalidAddressError
from indexer.paths import data_path, shipped

log = logging.getLogger(__name__)
ENV_PREFIX = "INDEXER__"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEVNET_REF = "devnet:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///data/indexer.db"


class FeedSettings(_Strict):
    """A feed listed by hand: read on every pass, and/or overriding what the heartbeat tables say."""

    address: str  # "devnet:NAME" reads it from the devnet deployment
    kind: Literal["chainlink", "pyth"] = "chainlink"
    price_id: str | None = None  # Pyth feed id (bytes32 hex)
    asset: str | None = None
    symbol: str | None = None
    heartbeat: int | None = Field(default=None, gt=0)
    deviation: float | None = Field(default=None, ge=0)
    min_answer: int | None = None
    max_answer: int | None = None

    @model_validator(mode="after")
    def _pyth_has_id(self) -> FeedSettings:
        if (self.kind == "pyth") != (self.price_id is not None):
            raise ValueError("price_id is required for pyth feeds and only for them")
        return self


class OracleSettings(_Strict):
    feed_tables: str | None = None  # heartbeat/deviation tables, one TOML per chain (default: the shipped ones)
    default_heartbeat: int = Field(default=86_400, gt=0)  # for feeds in no table; logged once per feed
    grace: int = Field(default=0, ge=0)  # seconds past the heartbeat before a price counts as STALE


class BandSettings(_Strict):
    enter: Decimal  # the level is entered when health falls below this
    leave: Decimal  # and left when health is back at or above this

    @model_validator(mode="after")
    def _hysteresis(self) -> BandSettings:
        if not (self.enter.is_finite() and self.leave.is_finite() and 0 < self.enter <= self.leave):
            raise ValueError(f"needs 0 < enter ≤ leave (got enter={self.enter}, leave={self.leave})")
        return self


class AlertOverride(_Strict):
    warn: BandSettings | None = None
    critical: BandSettings | None = None
    liquidatable: BandSettings | None = None
    hold_blocks: int | None = Field(default=None, ge=0)


class AlertSettings(_Strict):
    warn: BandSettings = BandSettings(enter=Decimal("1.10"), leave=Decimal("1.15"))
    critical: BandSettings = BandSettings(enter=Decimal("1.03"), leave=Decimal("1.06"))
    liquidatable: BandSettings = BandSettings(enter=Decimal("1"), leave=Decimal("1.01"))
    hold_blocks: int = Field(default=0, ge=0)
    oracle: bool = True  # alert on positions with debt whose prices are STALE, INVALID or SEQUENCER_DOWN
    markets: dict[str, AlertOverride] = Field(default_factory=dict)  # per market key

    @model_validator(mode="after")
    def _ordered(self) -> AlertSettings:
        if not self.liquidatable.enter <= self.critical.enter <= self.warn.enter:
            raise ValueError("enter levels must satisfy liquidatable ≤ critical ≤ warn")
        return self


class ChainSettings(_Strict):
    chain_id: int
    rpc_urls: list[str] = Field(default_factory=list)
    devnet: str | None = None  # a devnet deployment file: supplies the RPC URL and contract addresses
    multicall3: str = "0xcA11bde05977b3631167028862bE2a173976CA11"
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    rpc_timeout: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=2.0, gt=0)  # seconds between head checks in `indexer run`
    # newHeads over WebSocket wakes `indexer run` the moment a block exists (polling stays underneath): these
    # endpoints, or for a devnet its node's own; `subscribe_heads = false` polls only
    ws_urls: list[str] = Field(default_factory=list)
    subscribe_heads: bool = True
    finality_depth: int = Field(default=64, ge=1)  # a reorg deeper than this stops the chain, loudly
    max_lag_blocks: int = Field(default=5, ge=0)  # an endpoint whose head lags the best by more is demoted
    sequencer_uptime_feed: str | None = None  # L2 sequencer-uptime feed; "devnet:NAME" allowed
    sequencer_grace: int = Field(default=3600, ge=0)
    feeds: list[FeedSettings] = Field(default_factory=list)
    # split the chain's markets over this many shards, each followed (and leased) as a chain of its own named
    # ``NAME.0`` … ``NAME.{shards-1}``: several `indexer run` workers share the chain (``shard_of``)
    shards: int = Field(default=1, ge=1, le=256)

    @field_validator("rpc_urls")
    @classmethod
    def _usable_urls(cls, urls: list[str]) -> list[str]:
        from indexer.chain.redact import check_url

        return [check_url(url) for url in urls]

    @field_validator("ws_urls")
    @classmethod
    def _usable_ws_urls(cls, urls: list[str]) -> list[str]:
        from indexer.chain.redact import check_url

        return [check_url(url, schemes=("ws", "wss")) for url in urls]

    @model_validator(mode="after")
    def _has_endpoint(self) -> ChainSettings:
        if not self.rpc_urls and not self.devnet:
            raise ValueError("needs rpc_urls (or a devnet deployment file)")
        return self


class VenueSettings(_Strict):
    """An HTTP venue (Hyperliquid): markets name it as their ``chain``."""

    url: str  # the API root; requests go to {url}/info
    timeout: float = Field(default=10.0, gt=0)
    poll_interval: float = Field(default=5.0, gt=0)  # seconds between polls in `indexer run`
    max_age: int = Field(default=60, gt=0)  # a position whose venue time is older than this is STALE
    weight_per_minute: int = Field(default=1200, ge=1)  # the venue's published request-weight budget

    @field_validator("url")
    @classmethod
    def _usable_url(cls, url: str) -> str:
        from indexer.chain.redact import check_url

        return check_url(url, schemes=("http", "https"))


class MarketSettings(_Strict):
    chain: str  # a configured chain, or a venue
    protocol: str
    address: str = ""  # e.g. Aave v3: the PoolAddressesProvider; "devnet:NAME" reads it from the deployment
    verify_onchain: bool = False  # read every account through the protocol's own view too (see self_check)
    self_check: int = Field(default=16, ge=0)  # accounts per block also read through the protocol's own view
    discover: bool = False  # find the market's accounts in its events (eth_getLogs), not only tracked wallets
    start_block: int = Field(default=0, ge=0)  # where discovery starts scanning (the market's deployment block)
    snapshot_every: int = Field(default=1, ge=1)  # full read every N blocks; between them the oracle fast path
    # every account read anew at least every N blocks; between, a protocol that can (``ChangeReads``) reads anew
    # only the accounts its contracts' logs name since its last read, the others rebuilt from what it kept
    # (1: every account read anew at every full read)
    reread_every: int = Field(default=100, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)  # the protocol's own settings (its ``options`` model)


class RetentionSettings(_Strict):
    history_blocks: int = Field(default=0, ge=0)  # keep history and oracle readings this many blocks; 0 = all
    interval: float = Field(default=300.0, gt=0)  # seconds between pruning passes in `indexer run`


class WritesSettings(_Strict):
    """Which read positions a block writes (``indexer.pipeline.changes``): the ``changed`` ones (the default;
    exactly, or within a relative ``epsilon``), each at least every ``heartbeat_blocks`` blocks (0: no such floor),
    ``accrued`` (as ``changed``, and every block its markets' states, from which history derives the figures of the
    positions not written exactly; a position whose own inputs changed is written whatever ``epsilon``), or ``all``
    of them. ``liquidation_points``: store every written snapshot's liquidation points with it (the
    default; off, readers compute them from the stored legs when asked)."""

    mode: Literal["changed", "accrued", "all"] = "changed"
    epsilon: Decimal = Field(default=Decimal(0), ge=0, lt=1)
    heartbeat_blocks: int = Field(default=0, ge=0)
    liquidation_points: bool = True


class RunSettings(_Strict):
    """`indexer run`'s own status endpoints (/healthz, /readyz, /metrics), on loopback by default."""

    listen: str = Field(default="127.0.0.1:9465", pattern=r"^[^:\s]+:\d{1,5}$")  # host:port; port 0 picks one
    ready_lag_blocks: int = Field(default=2, ge=0)  # /readyz is 503 while a chain is further behind its head
    lease_poll: float = Field(default=2.0, gt=0)  # a standby tries for a chain's lease this often (seconds)
    # at most this many chains (or shards) taken at start (0: every free one); a chain found free for
    # ``takeover_seconds`` (its holder gone) is taken whatever the count, so the workers' chains stay followed
    max_chains: int = Field(default=0, ge=0)
    takeover_seconds: float = Field(default=10.0, ge=0)
    progress_seconds: float = Field(default=10.0, ge=0)  # a chain's block line at INFO at most this often


class ApiSettings(_Strict):
    token_env: str = "INDEXER_API_TOKEN"  # environment variable holding the bearer token for mutating routes
    cors_origins: list[str] = Field(default_factory=list)  # empty: CORS off; "*": any origin
    max_lag_seconds: int = Field(default=300, ge=0)  # /healthz says `behind` past this
    dashboard_refresh_seconds: int = Field(default=30, ge=1)
    worker_threads: int = Field(default=8, ge=1, le=64)
    position_series: int = Field(default=0, ge=0, le=10_000)  # /metrics: health of up to N tracked positions


# Symbols that move together in a what-if: "ETH = -25%" moves every symbol of the ETH group (liquid staking and
# restaking tokens with it); a symbol may still take its own move on top (a depeg). Matched case-insensitively.
DEFAULT_GROUPS: dict[str, list[str]] = {
    "ETH": ["ETH", "WETH", "stETH", "wstETH", "weETH", "eETH", "cbETH", "rETH", "ezETH", "rsETH", "osETH", "ETHx"],
    "BTC": ["BTC", "WBTC", "cbBTC", "tBTC", "LBTC"],
    "USD": ["USD", "USDC", "USDC.e", "USDT", "DAI", "USDS", "sDAI", "LUSD", "BOLD", "GHO", "FRAX", "PYUSD", "USDe",
            "crvUSD", "snxUSD", "sUSD", "USDbC"],
}


class CurveSettings(_Strict):
    """Liquidation curves: the price steps (relative moves of one asset's group, 0 down to ``lowest``) and, for the
    cascade, each asset's market depth: how much of it (in USD) can be sold for a 1 % fall of its price."""

    lowest: Decimal = Field(default=Decimal("-0.60"), gt=-1, lt=0)
    step: Decimal = Field(default=Decimal("0.05"), gt=0, le=Decimal("0.5"))
    depth: dict[str, Decimal] = Field(default_factory=dict)  # symbol or group → USD per 1 % of price move


class VarSettings(_Strict):
    """Value at risk and expected shortfall from the stored oracle readings."""

    levels: list[Decimal] = Field(default_factory=lambda: [Decimal("0.95"), Decimal("0.99")])
    ewma_lambda: Decimal = Field(default=Decimal("0.94"), gt=0, lt=1)  # RiskMetrics' daily decay
    min_scenarios: int = Field(default=30, ge=2)  # fewer returns than this: the figure is not given
    max_scenarios: int = Field(default=2_000, ge=2, le=1_000_000)  # the most recent this many are used


class RiskSettings(_Strict):
    target_health: Decimal = Field(default=Decimal("1.5"), gt=1)  # "what it takes to be safe" aims here
    groups: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_GROUPS.items()})
    curve: CurveSettings = CurveSettings()
    var: VarSettings = VarSettings()

    @field_validator("groups", mode="before")
    @classmethod
    def _over_defaults(cls, groups: Any) -> Any:
        """A configured group adds to the defaults, or replaces the default of the same name."""
        return {**DEFAULT_GROUPS, **groups} if isinstance(groups, dict) else groups

    @field_validator("groups")
    @classmethod
    def _one_group_per_symbol(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for name, symbols in groups.items():
            for symbol in [name, *symbols]:
                other = seen.setdefault(symbol.lower(), name)
                if other != name:
                    raise ValueError(f"risk group {name!r}: {symbol!r} is already in group {other!r}")
        return groups


def shard_of(market: str, shards: int) -> int:
    """The shard of a sharded chain a market key belongs to: a stable hash (CRC-32) of the key, so adding a market
    moves no other (changing ``shards`` moves most: their positions are then read afresh under the new shard)."""
    import zlib

    return zlib.crc32(market.encode()) % shards


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    api: ApiSettings = ApiSettings()
    run: RunSettings = RunSettings()
    retention: RetentionSettings = RetentionSettings()
    writes: WritesSettings = WritesSettings()
    oracles: OracleSettings = OracleSettings()
    alerts: AlertSettings = AlertSettings()
    risk: RiskSettings = RiskSettings()
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)  # checked by indexer.alerts.registry
    chains: dict[str, ChainSettings] = Field(default_factory=dict)
    venues: dict[str, VenueSettings] = Field(default_factory=dict)
    markets: dict[str, MarketSettings] = Field(default_factory=dict)
    source: str = "<defaults>"

    @model_validator(mode="before")
    @classmethod
    def _sharded_chains(cls, data: Any) -> Any:
        """A chain with ``shards = N`` becomes N chains ``NAME.i`` (the same settings, one shard each), and each of
        its markets moves to its shard's (``shard_of``)."""
        if not isinstance(data, dict) or not isinstance(data.get("chains"), dict):
            return data
        chains: dict[str, Any] = {}
        moved: dict[str, str] = {}  # market key → its shard's chain
        for name, chain in data["chains"].items():
            raw = chain.model_dump() if isinstance(chain, BaseModel) else chain
            shards = raw.get("shards", 1) if isinstance(raw, dict) else 1
            if not isinstance(shards, int) or shards <= 1:
                chains[name] = chain
                continue
            for i in range(shards):
                chains[f"{name}.{i}"] = {**raw, "shards": 1}
            for key, market in (data.get("markets") or {}).items():
                on = market.chain if isinstance(market, MarketSettings) else (market or {}).get("chain")
                if on == name:
                    moved[key] = f"{name}.{shard_of(key, shards)}"
        if not moved and chains.keys() == data["chains"].keys():
            return data
        markets = {key: ((m.model_copy(update={"chain": moved[key]}) if isinstance(m, BaseModel)
                          else {**m, "chain": moved[key]}) if key in moved else m)
                   for key, m in (data.get("markets") or {}).items()}
        return {**data, "chains": chains, "markets": markets}

    @field_validator("markets")
    @classmethod
    def _known_protocols(cls, markets: dict[str, MarketSettings]) -> dict[str, MarketSettings]:
        from indexer.protocols.registry import known_kinds, protocol_spec

        checked = {}
        for key, market in markets.items():
            source = protocol_spec(market.protocol)  # that protocol's package and options model, not its adapter
            if source is None:
                known = ", ".join(sorted(known_kinds()))
                raise ValueError(f"market {key!r}: unknown protocol {market.protocol!r} (known: {known})")
            if source.options is None:
                if market.options:
                    raise ValueError(f"market {key!r}: protocol {market.protocol!r} takes no options")
                checked[key] = market
                continue
            try:
                options = source.options.model_validate(market.options).model_dump()
            except ValidationError as exc:
                raise ValueError(f"market {key!r}: options: {_first_error(exc)}") from None
            checked[key] = market.model_copy(update={"options": options})
        return checked

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from indexer.alerts.registry import build_channels

        build_channels(channels)  # raises on an unknown kind or key
        return channels

    @model_validator(mode="after")
    def _markets_on_known_chains(self) -> Settings:
        from indexer.protocols.registry import protocol_spec

        both = sorted(set(self.chains) & set(self.venues))
        if both:
            raise ValueError(f"{both[0]!r} is configured both as a chain and as a venue")
        for key, market in self.markets.items():
            source = protocol_spec(market.protocol)
            assert source is not None  # unknown protocols were refused by _known_protocols
            transport = source.transport
            if transport == "venue":
                if market.chain not in self.venues:
                    raise ValueError(f"market {key!r}: protocol {market.protocol!r} reads an HTTP venue, and "
                                     f"{market.chain!r} is not a configured venue ([venues.NAME] url = ...)")
                continue
            if market.chain not in self.chains:
                raise ValueError(f"market {key!r} names chain {market.chain!r}, which is not configured")
            if not market.address:
                raise ValueError(f"market {key!r}: protocol {market.protocol!r} needs the contract `address`")
            if not market.address.startswith(DEVNET_REF):
                try:
                    from indexer.address import parse_address  # eth-utils: only when there is an address

                    parse_address(market.address)
                except InvalidAddressError as exc:
                    raise ValueError(f"market {key!r}: address: {exc}") from None
        return self

    def is_venue(self, name: str) -> bool:
        return name in self.venues

    @property
    def all_chains(self) -> list[str]:
        """Every name positions are stored under: the chains and the HTTP venues."""
        return sorted({*self.chains, *self.venues})

    @property
    def database_url(self) -> str:
        return resolve_sqlite_url(environ().get("DATABASE_URL") or self.database.url)

    def rpc_urls(self, chain: str) -> list[str]:
        settings = self.chains[chain]
        if settings.rpc_urls:
            return settings.rpc_urls
        return [str(self.devnet_deployment(chain)["rpc_url"])]

    def ws_urls(self, chain: str) -> list[str]:
        """Where `indexer run` subscribes to new heads: the configured WebSocket endpoints, or a devnet node's own
        (anvil serves WebSockets on its HTTP port); none when ``subscribe_heads`` is off."""
        settings = self.chains[chain]
        if not settings.subscribe_heads:
            return []
        if settings.ws_urls or settings.rpc_urls:
            return settings.ws_urls
        from indexer.chain.newheads import ws_url_for

        return [ws_url_for(url) for url in self.rpc_urls(chain)]

    def devnet_deployment(self, chain: str) -> dict[str, Any]:
        path = self.devnet_file(chain)
        try:
            return json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"devnet deployment {path} not found: start one with `indexer devnet up`") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"devnet deployment {path} is unreadable: {exc}") from None

    def devnet_file(self, chain: str) -> Path:
        """The chain's devnet deployment file (a relative path is under the data directory)."""
        path = self.chains[chain].devnet
        if path is None:
            raise ConfigError(f"chain {chain!r} has no devnet deployment file configured")
        return data_path(path)

    def market_address(self, key: str) -> str:
        market = self.markets[key]
        if market.chain in self.venues:
            return market.address
        return self.resolve_address(market.chain, market.address, f"market {key!r}")

    def resolve_address(self, chain: str, address: str, where: str) -> str:
        """An address (or a market option such as an id) from config: literal, or ``devnet:NAME`` looked up in
        the chain's devnet deployment."""
        if not address.startswith(DEVNET_REF):
            return address
        name = address[len(DEVNET_REF):]
        contracts = self.devnet_deployment(chain).get("contracts", {})
        if name not in contracts:
            raise ConfigError(f"{where}: devnet deployment has no contract {name!r}")
        return str(contracts[name])

    def feed_tables_dir(self) -> Path:
        if self.oracles.feed_tables is None:
            return shipped("config") / "feeds"
        return data_path(self.oracles.feed_tables)


def resolve_sqlite_url(url: str) -> str:
    """A SQLite URL (or bare path) with a relative file made absolute under the data directory, logged once; any
    other URL as it is."""
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path, sep, query = url[len(prefix):].partition("?")
    elif "://" not in url and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", url):
        path, sep, query, prefix = url, "", "", ""
    else:
        return url
    if not path or path == ":memory:" or path.startswith("file:") or Path(path).expanduser().is_absolute():
        return url
    resolved = data_path(path)
    _log_resolved(path, str(resolved))
    return f"sqlite:///{resolved}{sep}{query}"


@functools.cache
def _log_resolved(given: str, resolved: str) -> None:
    log.info("database=sqlite relative_path=%s resolved=%s (relative paths are under the data directory: "
             "INDEXER_HOME)", given, resolved)


def _expand_env(value: Any, where: str, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{where}: environment variable {name} is not set (nor {name}_FILE)")
            return env[name]
        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [_expand_env(v, where, env) for v in value]
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}", env) for k, v in value.items()}
    return value


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``INDEXER__CHAINS__ETHEREUM__RPC_URLS='["https://…"]'`` → ``{"chains": {"ethereum": {"rpc_urls": [...]}}}``.

    Sections and keys are matched case-insensitively against the file's; a value starting with ``[`` or ``{`` is
    JSON, any other value a string that the settings model converts (``"1000"``, ``"true"``, ``"1.10"``). Any of
    them may come from a file: ``INDEXER__…_FILE=/run/secrets/x``."""
    tree: dict[str, Any] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name.endswith("_FILE"):
            continue
        path = name[len(ENV_PREFIX):].split("__")
        if any(not part for part in path):
            raise ConfigError(f"environment variable {name}: an empty key between '__' separators")
        raw = env[name]
        value: Any = raw
        if raw.lstrip().startswith(("[", "{")):
            try:
                value = json.loads(raw)
            except ValueError:
                raise ConfigError(f"environment variable {name}: not valid JSON (a value starting with [ or {{ "
                                  "is read as JSON)") from None
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {part} is set both as a value and as a section")
            node = child
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """``overrides`` laid over ``base``; keys match case-insensitively (environment names are upper case)."""
    merged = dict(base)
    by_lower = {key.lower(): key for key in base}
    for key, value in overrides.items():
        target = by_lower.get(key.lower(), key.lower())
        current = merged.get(target)
        if isinstance(value, dict) and (current is None or isinstance(current, dict)):
            merged[target] = _merge(current or {}, value, f"{where}.{target}")
        elif isinstance(value, dict) and current is not None:
            raise ConfigError(f"{where}.{target} is a value in the config file, not a section")
        else:
            merged[target] = value
    return merged


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    if path is not None:
        return Path(path)
    if env := os.environ.get("INDEXER_CONFIG"):
        return Path(env)
    return shipped("config") / "default.toml"


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    config_path = resolve_config_path(path)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {config_path} not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {config_path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                          f"offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"config file {config_path} cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
    env = environ()
    raw = _expand_env(raw, str(config_path), env)
    overrides = env_overrides(env)
    raw = _merge(raw, overrides, ENV_PREFIX.rstrip("_").lower())
    try:
        return Settings(**raw, source=str(config_path))
    except ValidationError as exc:
        loc = [str(part).lower() for part in exc.errors()[0]["loc"]]
        from_env = [name for name in _leaf_names(overrides) if loc[:len(name)] == name]
        where = f"{ENV_PREFIX}{'__'.join(from_env[0]).upper()}" if from_env else f"config file {config_path}"
        raise ConfigError(f"{where}: {_first_error(exc)}") from None


def _leaf_names(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[list[str]]:
    names: list[list[str]] = []
    for key, value in tree.items():
        path = (*prefix, key.lower())
        names.extend(_leaf_names(value, path) if isinstance(value, dict) else [list(path)])
    return names
