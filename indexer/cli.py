"""The `indexer` command line. Every failure ends as one readable line on stderr and a non-zero exit."""

from __future__ import annotations

import decimal
import json
import logging
import os
import re
import signal
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import click

from indexer import __version__
from indexer.display import distance_text, health_text, money_text, plain_text, price_text, printable, short_address
from indexer.errors import IndexerError
from indexer.oracles.status import PriceStatus
from indexer.settings import Settings, load_settings
from indexer.types import scaled

if TYPE_CHECKING:  # the store, rich and asyncio are imported lazily: the CLI starts fast
    from collections.abc import Coroutine

    from rich.console import Console

    from indexer.health.nearest import NearestLiquidation
    from indexer.store.views import PositionView

log = logging.getLogger(__name__)
EXIT_ERROR = 1
T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, asyncio imported on first use (a twentieth of a second the short commands do without)."""
    import asyncio

    return asyncio.run(coroutine)

def parse_address(text: str) -> str:
    """``indexer.address.parse_address``, imported on first use (it loads eth-utils: a fifth of a second)."""
    from indexer.address import parse_address as parse

    return parse(text)


LONG_RUNNING = frozenset({"run", "serve"})  # commands that log at INFO by default (and `alerts dispatch`)


class Context:
    def __init__(self, config: str | None) -> None:
        self.config_path = config
        self._settings: Settings | None = None
        self._engine: Any = None
        self.verbose = 0
        self.quiet = False
        self.log_format = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
        self.long_running = False

    def set_option(self, name: str, value: Any) -> None:
        """A global option, given before or after the subcommand."""
        if name == "config":
            if self._settings is not None and value != self.config_path:
                raise click.UsageError("--config was given twice with different files")
            self.config_path = value
            return
        setattr(self, name, value)
        self.configure_logging()

    def configure_logging(self) -> None:
        """The indexer's loggers at INFO for long-running commands (ERROR for the others, whose output says what
        happened), third-party ones at WARNING; LOG_LEVEL, -v (INFO), -vv (DEBUG) and -q (WARNING, or ERROR)."""
        from indexer import logs

        if self.log_format not in logs.FORMATS:
            raise click.BadParameter(f"{self.log_format!r} is not one of {', '.join(logs.FORMATS)}",
                                     param_hint="--log-format / LOG_FORMAT")
        try:
            level = logs.level_for(verbose=self.verbose, quiet=self.quiet, long_running=self.long_running)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="LOG_LEVEL") from None
        logs.setup(level, self.log_format, verbose=self.verbose)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def engine(self, *, upgrade: bool = False) -> Any:
        """The database, at the schema this indexer needs; ``upgrade`` applies pending migrations (the devnet's
        commands do, on their own database) instead of refusing an older schema."""
        if self._engine is None:
            from indexer.store.db import ensure_schema, make_engine
            from indexer.store.db import upgrade as apply_migrations

            self._engine = make_engine(self.settings.database_url)
            if upgrade:
                apply_migrations(self._engine)
            ensure_schema(self._engine)
        return self._engine


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="indexer", message="%(prog)s %(version)s")
@click.option("--config", "-c", type=click.Path(dir_okay=False), default=None,
              help="TOML config (default: $INDEXER_CONFIG, else the shipped config/default.toml); any key can "
                   "be set from the environment too: INDEXER__SECTION__KEY=value.")
@click.option("--verbose", "-v", count=True, help="-v for info logs, -vv for debug (also $LOG_LEVEL).")
@click.option("--quiet", "-q", is_flag=True, help="Warnings and errors only.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Log lines as text or one JSON object per line (default: $LOG_FORMAT, else text).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int, quiet: bool, log_format: str | None) -> None:
    """On-chain DeFi position health indexer.

    The options above may also follow the subcommand (`indexer positions -v`). Long-running commands (run, serve,
    dispatch) log at INFO by default; the others print their results and log errors only.
    """
    obj = Context(config)
    obj.verbose, obj.quiet = verbose, quiet
    obj.log_format = log_format or obj.log_format
    obj.long_running = ctx.invoked_subcommand in LONG_RUNNING
    obj.configure_logging()
    ctx.obj = obj


# -- config ------------------------------------------------------------------------------------------
@cli.group("config")
def config_group() -> None:
    """The configuration: file, environment overrides, and where the indexer keeps its data."""


@config_group.command("check")
@click.option("--online", is_flag=True, help="Also reach each RPC endpoint and venue once and read each market once.")
@click.option("--brief", "quiet", is_flag=True, help="Print nothing but failures (the exit status says it all).")
@pass_ctx
def config_check(obj: Context, online: bool, quiet: bool) -> None:
    """Validate the configuration and print it as the indexer will use it (JSON, secrets masked); exit 1 on the
    first problem, or with --online on any endpoint or market that fails."""
    from indexer.config_check import check_online, effective_config
    from indexer.paths import data_home

    settings = obj.settings
    if not quiet:
        click.echo(json.dumps(effective_config(settings), indent=2, ensure_ascii=False))
        click.echo(f"config ok: {settings.source} ({len(settings.chains)} chains, {len(settings.venues)} venues, "
                   f"{len(settings.markets)} markets, {len(settings.channels)} alert channels); data directory "
                   f"{data_home()}", err=True)
    if not online:
        return
    probes = _run(check_online(settings))
    for probe in probes:
        if not quiet or not probe.ok:
            click.echo(f"{'ok  ' if probe.ok else 'FAIL'} {probe.what}: {probe.detail}", err=True)
    failed = [p for p in probes if not p.ok]
    if failed:
        raise IndexerError(f"{len(failed)} of {len(probes)} online checks failed (first: {failed[0].what})")


# -- db ----------------------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: Context) -> None:
    """Apply every Alembic migration up to head."""
    from indexer.store.db import current_revision, make_engine, upgrade

    engine = make_engine(obj.settings.database_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


def _parse_health(_: click.Context, __: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not parsed.is_finite() or parsed < 0:
        raise click.BadParameter(f"{value!r} must be a finite number ≥ 0")
    return parsed


def _parse_level(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    """An alert level: above 0, below 1,000,000, at most 18 decimal places (what the store keeps exactly; the
    API's rule too), so ``1e-999999`` is refused rather than stored as 0."""
    from indexer.store.wallet_store import level_problem

    parsed = _parse_health(ctx, param, value)
    if parsed is None:
        return None
    if (problem := level_problem(parsed)) is not None:
        raise click.BadParameter(f"{value!r} {problem}")
    return parsed


def _parse_label(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    from indexer.store.wallet_store import label_problem

    if value is not None and (problem := label_problem(value)) is not None:
        raise click.BadParameter(problem)
    return value


# -- wallets -----------------------------------------------------------------------------------------
@cli.group()
def wallets() -> None:
    """Tracked wallet addresses."""


@wallets.command("add")
@click.argument("address")
@click.option("--label", "-l", default=None, callback=_parse_label, help="A name to show beside the address.")
@click.option("--warn", type=str, default=None, callback=_parse_level, help="This wallet's WARN level (health below).")
@click.option("--critical", type=str, default=None, callback=_parse_level, help="This wallet's CRITICAL level.")
@pass_ctx
def wallets_add(obj: Context, address: str, label: str | None, warn: Decimal | None,
                critical: Decimal | None) -> None:
    """Track ADDRESS on every configured market (optionally with its own alert levels)."""
    from indexer.store.wallet_store import add_wallet

    checksummed = parse_address(address)
    if warn is not None and critical is not None and critical > warn:
        raise click.BadParameter("--critical must not be above --warn", param_hint="--critical")
    add_wallet(obj.engine(), address=checksummed, label=label, warn_health=warn, critical_health=critical)
    click.echo(f"tracking {checksummed}" + (f" ({printable(label)})" if label else ""))


@wallets.command("remove")
@click.argument("address")
@pass_ctx
def wallets_remove(obj: Context, address: str) -> None:
    """Stop tracking ADDRESS."""
    from indexer.store.wallet_store import remove_wallet

    checksummed = parse_address(address)
    if not remove_wallet(obj.engine(), address=checksummed):
        raise IndexerError(f"{checksummed} is not tracked")
    click.echo(f"no longer tracking {checksummed}")


@wallets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def wallets_list(obj: Context, as_json: bool) -> None:
    """List tracked wallets."""
    from indexer.store.wallet_store import list_wallets

    rows = list_wallets(obj.engine())
    if as_json:
        click.echo(json.dumps([{"address": w.address, "label": w.label} for w in rows], indent=2))
        return
    for w in rows:
        click.echo(f"{w.address}  {printable(w.label or '')}".rstrip())
    if not rows:
        click.echo("no wallets tracked: add one with `indexer wallets add ADDRESS`", err=True)


@wallets.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_ctx
def wallets_import(obj: Context, file: Any) -> None:
    """Track every wallet of FILE ('-' for stdin): CSV with a header naming address and any of label, warn,
    critical (or no header: address, label), or JSON (a list of addresses or of such objects). Every row is checked
    first; one bad row imports nothing. Wallets already tracked get the label and levels given."""
    from indexer.store.wallet_store import add_wallets
    from indexer.wallet_files import parse_wallets

    wallets = parse_wallets(file.read(), name=file.name)
    before = {w.address for w in _tracked(obj)}
    add_wallets(obj.engine(), wallets)
    new = sum(1 for w in wallets if w.address not in before)
    click.echo(f"imported {len(wallets)} wallets ({new} new, {len(wallets) - new} updated)")


@wallets.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@pass_ctx
def wallets_export(obj: Context, fmt: str) -> None:
    """Print every tracked wallet with its label and levels, in the form `wallets import` reads."""
    from indexer.wallet_files import format_wallets

    click.echo(format_wallets(_tracked(obj), fmt), nl=False)


def _tracked(obj: Context) -> list[Any]:
    from indexer.store.wallet_store import list_wallets

    return list_wallets(obj.engine())


_WALLET_PART = re.compile(r"(0x[0-9a-fA-F]{1,39})(?:(?:…|\.\.\.)([0-9a-fA-F]{1,39}))?")


@overload
def _resolve_wallet(obj: Context, text: str) -> str: ...
@overload
def _resolve_wallet(obj: Context, text: None) -> None: ...
def _resolve_wallet(obj: Context, text: str | None) -> str | None:
    """A full address (checked), or the start of one — ``0xc4e2``, or ``0xc4e2…161a`` as the tables print it —
    matched against the stored and tracked wallets; it must match exactly one."""
    if text is None:
        return None
    value = text.strip()
    if re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        return parse_address(value)
    match = _WALLET_PART.fullmatch(value)
    if match is None:
        raise IndexerError(f"{text!r} is not an address or the start of one (0xc4e2… and 0xc4e2…161a work too)")
    from indexer.store.position_store import position_owners

    prefix, suffix = match.group(1).lower(), (match.group(2) or "").lower()
    known = sorted({*position_owners(obj.engine()), *(w.address for w in _tracked(obj))})
    found = [a for a in known if a.lower().startswith(prefix) and a.lower().endswith(suffix)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise IndexerError(f"no stored or tracked wallet matches {value}")
    raise IndexerError(f"{value} matches {len(found)} wallets ({', '.join(found[:3])}"
                       f"{', …' if len(found) > 3 else ''}): give more of the address")


# -- sync and positions ------------------------------------------------------------------------------
@cli.command()
@click.option("--block", type=int, default=None, help="Pin to this block instead of the head.")
@click.option("--chain", "chains", multiple=True, help="Only these chains (repeatable).")
@pass_ctx
def sync(obj: Context, block: int | None, chains: tuple[str, ...]) -> None:
    """Read every tracked wallet on every configured market once, at one block per chain, and store it."""
    from indexer.sync import sync_once

    for name in chains:
        if name not in obj.settings.all_chains:
            raise IndexerError(f"unknown chain {name!r} (configured: {', '.join(obj.settings.all_chains)})")
    reads = _run(sync_once(obj.settings, obj.engine(), block=block, chains=chains or None))
    for read in reads:
        what = "venue snapshot" if obj.settings.is_venue(read.chain) else "block"
        asked = "venue requests" if obj.settings.is_venue(read.chain) else "RPC requests"
        click.echo(f"{read.chain}: {what} {read.block.number} · {len(read.snapshots)} positions · "
                   f"{read.stats.requests} {asked} · {sum(read.timings.values()):.2f}s")


@cli.command()
@click.option("--wallet", "-w", default=None, help="Only this account.")
@click.option("--max-health", type=str, default=None, callback=_parse_health, help="Only health ≤ H.")
@click.option("--price-status", type=click.Choice([s.value for s in PriceStatus], case_sensitive=False),
              default=None, help="Only positions whose prices have this status.")
@click.option("--chain", default=None, help="Only this chain or venue (config name).")
@click.option("--protocol", default=None, help="Only this protocol (e.g. aave_v3, hyperliquid).")
@click.option("--market", default=None, help="Only this market (config key).")
@click.option("--margin-mode", type=click.Choice(["cross", "isolated"]), default=None,
              help="Only this margin mode.")
@click.option("--side", type=click.Choice(["long", "short"]), default=None,
              help="Only positions holding a perp of this side.")
@click.option("--min-debt", type=str, default=None, callback=_parse_health,
              help="Only positions owing at least this much (in their quote currency).")
@click.option("--sort", type=click.Choice(["health", "debt"]), default="health", show_default=True,
              help="Riskiest first, or largest debt first.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N rows.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per position (exact figures as strings).")
@click.option("--at", "at_block", type=click.IntRange(min=0), default=None, metavar="BLOCK",
              help="The positions' figures at BLOCK: the row stored at or before it, or (storing what accrues) "
                   "derived from it with the market's state at BLOCK. The filters select on the latest figures.")
@pass_ctx
def positions(obj: Context, wallet: str | None, max_health: Decimal | None, price_status: str | None,
              chain: str | None, protocol: str | None, market: str | None, margin_mode: str | None,
              side: str | None, min_debt: Decimal | None, sort: str, limit: int | None, as_json: bool,
              at_block: int | None) -> None:
    """Latest stored positions, riskiest first; perps also one line each (side, size, entry, mark, PnL, leverage,
    margin mode, liquidation price). With --at BLOCK, their figures at that block."""

    filters: dict[str, Any] = {
        "wallet": _resolve_wallet(obj, wallet), "max_health": max_health,
        "price_status": price_status and price_status.upper(), "chain": chain, "protocol": protocol,
        "market": market, "margin_mode": margin_mode, "side": side, "limit": limit, "min_debt": min_debt,
        "sort": sort}
    if at_block is not None:
        _print_positions_at(obj, at_block, as_json, **filters)
        return
    if as_json:
        rows = _query_positions(obj, **filters)
        from indexer.api.shapes import position
        from indexer.health.nearest import stored_liquidations
        from indexer.health.perps import stored_perp_lines

        points = stored_liquidations(obj.engine(), settings=obj.settings, views=rows)
        perps = stored_perp_lines(obj.engine(), settings=obj.settings, views=rows)
        click.echo(json.dumps([position(p, points[p.snapshot_id], perps[p.snapshot_id]) for p in rows], indent=2))
        return
    _print_positions(obj, **filters)


def _marks(p: PositionView) -> str:
    """Words after a health figure: ``held`` (under 1, the protocol would not liquidate it yet), ``unverified``."""
    held = p.health is not None and p.health < 1 and not p.liquidatable
    return (" held" if held else "") + (" unverified" if p.detail.get("unverified") else "")


def _liquidation_text(point: NearestLiquidation | None) -> str:
    """``WETH < 1,523.41 (18.2%)``: the nearest liquidation price, its direction and the move it takes."""
    if point is None:
        return "-"
    return (f"{plain_text(point.symbol)} {'<' if point.falling else '>'} {price_text(point.price)} "
            f"({distance_text(point.distance)})")


def _query_positions(obj: Context, *, sort: str = "health", min_debt: Decimal | None = None,
                     limit: int | None = None, **filters: Any) -> list[PositionView]:
    from indexer.store.position_store import list_positions, positions_page

    if sort == "health" and min_debt is None:
        return list_positions(obj.engine(), limit=limit, **filters)
    page = positions_page(obj.engine(), sort="debt" if sort == "debt" else "health", min_debt=min_debt,
                          limit=limit or 2**31 - 1, **filters)
    return [view for _, view in page]


def _print_positions(obj: Context, *, max_health: Decimal | None = None, **filters: Any) -> None:
    from indexer.store.position_store import count_positions

    rows = _query_positions(obj, max_health=max_health, **filters)
    if not rows:
        chosen = [f"{name.replace('_', ' ')} {value}" for name, value in filters.items()
                  if value is not None and name not in ("limit", "sort")]
        if max_health is not None:
            chosen.append(f"health ≤ {max_health}")
        stored = count_positions(obj.engine())
        if chosen and stored:
            click.echo(f"no match for these filters ({', '.join(chosen)}; {stored} positions stored)", err=True)
        else:
            click.echo("nothing stored yet: track wallets (`indexer wallets add`) and run `indexer sync`", err=True)
        return
    from indexer.health.nearest import stored_liquidations

    points = stored_liquidations(obj.engine(), settings=obj.settings, views=rows)
    from indexer.tables import Column, print_table

    order = "largest debt first" if filters.get("sort") == "debt" else "riskiest first"
    title = f"Positions, {order}" + (f" (health ≤ {max_health})" if max_health is not None else "")
    columns = [Column("health", 0, "right"), Column("account", 0), Column("market", 5),
               Column("collateral", 3, "right"), Column("debt", 4, "right"), Column("liquidation", 6),
               Column("prices", 2), Column("block", 1, "right")]
    cells, styles = [], []
    for p in rows:
        styles.append("bold red" if p.health is not None and p.health < 1 else (
            "yellow" if p.health is not None and p.health < Decimal("1.1") else None))
        who = short_address(p.account) + (f" {plain_text(p.wallet_label)}" if p.wallet_label else "")
        cells.append([health_text(p.health) + _marks(p), who, p.market, money_text(p.collateral, p.quote),
                      money_text(p.debt, p.quote), _liquidation_text(points[p.snapshot_id]), p.price_status,
                      str(p.block_number)])
    console = print_table(title, columns, cells, styles)
    _print_perps(obj, rows, console)
    remarks = sorted({note for p in rows for note in p.notes})
    for note in remarks:  # what "held" and "unverified" mean for the rows shown
        console.print(f"  {note}", markup=False, highlight=False)


def _print_positions_at(obj: Context, block: int, as_json: bool, **filters: Any) -> None:
    """The selected positions' figures at ``block`` (``indexer.history.figures_at``), in the selection's order; a
    position with no row at or before it is left out, and said so."""
    from indexer.api.shapes import position_at
    from indexer.history import figures_at
    from indexer.protocols.registry import rules_for

    rows = _query_positions(obj, **filters)
    found = []
    for p in rows:
        rules = rules_for(obj.settings, p.market)
        figures = figures_at(obj.engine(), rules, chain=p.chain, market=p.market, account=p.account, block=block)
        if figures is not None:
            found.append((p, position_at(figures, rules)))
    if as_json:
        click.echo(json.dumps([body for _, body in found], indent=2))
    elif found:
        from indexer.tables import Column, print_table

        columns = [Column("health", 0, "right"), Column("account", 0), Column("market", 4),
                   Column("collateral", 2, "right"), Column("debt", 3, "right"), Column("prices", 1),
                   Column("from", 5, "right")]
        cells = []
        for p, b in found:
            who = short_address(p.account) + (f" {plain_text(p.wallet_label)}" if p.wallet_label else "")
            source = f"derived from {b['stored_block']}" if b["derived"] else f"row at {b['stored_block']}"
            cells.append([health_text(None if b["health"] is None else Decimal(b["health"])), who, p.market,
                          money_text(Decimal(b["collateral_value"]), b["quote"]),
                          money_text(Decimal(b["debt_value"]), b["quote"]), b["price_status"], source])
        print_table(f"Positions at block {block:,}", columns, cells, [None] * len(cells))
    if len(found) < len(rows):
        click.echo(f"{len(rows) - len(found)} of {len(rows)} selected positions have no row at or before block "
                   f"{block:,}", err=True)
    elif not rows:
        click.echo("no stored position matches these filters", err=True)


def _print_perps(obj: Context, rows: list[PositionView], console: Console) -> None:
    """The perp positions of the rows shown, one line each, in the rows' order."""
    from indexer.health.perps import stored_perp_lines

    perps = stored_perp_lines(obj.engine(), settings=obj.settings, views=rows)
    if not any(perps.values()):
        return
    from indexer.tables import Column, print_table

    priority = {"account": 0, "market": 3, "side": 0, "size": 6, "entry": 2, "mark": 5, "PnL": 4, "lev": 1,
                "mode": 1, "liquidation": 7}
    columns = [Column(name, priority[name], "left" if name in ("account", "market", "side", "mode") else "right")
               for name in priority]
    cells: list[list[str]] = []
    for p in rows:
        for line in perps[p.snapshot_id]:
            liquidation = "-" if line.liquidation is None else (
                f"{'<' if line.falling else '>'} {price_text(line.liquidation)}")
            size = f"{plain_text(format(line.size.normalize(), 'f'))} {plain_text(line.symbol)}"
            cells.append([short_address(p.account), p.market, line.side, size,
                          "-" if line.entry is None else price_text(line.entry),
                          price_text(line.mark), "-" if line.pnl is None else money_text(line.pnl, p.quote),
                          "-" if line.leverage is None else f"{line.leverage.normalize():f}×", line.margin_mode,
                          liquidation])
    print_table("Perp positions", columns, cells, console=console, width=console.width)


@cli.command()
@click.argument("moves", nargs=-1, required=True)
@click.option("--wallet", "-w", default=None, help="Only this wallet's positions.")
@click.option("--chain", default=None, help="Only this chain or venue (config name).")
@click.option("--market", default=None, help="Only this market (config key).")
@click.option("--limit", type=click.IntRange(min=1), default=15, show_default=True,
              help="At most N liquidatable positions listed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (exact figures as strings).")
@pass_ctx
def shock(obj: Context, moves: tuple[str, ...], wallet: str | None, chain: str | None, market: str | None,
          limit: int, as_json: bool) -> None:
    """What-if: move prices (ETH=-25% BTC=-20% …; a group such as ETH moves WETH, wstETH … with it, a symbol takes
    its own move on top) and recompute every stored position exactly; what crosses 1, per market and wallet."""
    from indexer.risk.moves import parse_moves
    from indexer.risk.shock import liquidatable_after, shock_json, shock_stored
    from indexer.store.views import base_to_decimal

    parsed = parse_moves(moves, obj.settings.risk.groups)
    result = shock_stored(obj.engine(), settings=obj.settings, moves=parsed,
                          wallet=_resolve_wallet(obj, wallet), chain=chain, market=market)
    if as_json:
        click.echo(json.dumps(shock_json(result, limit=limit), indent=2))
        return
    for name in result.unused:
        click.echo(f"note: {name} moves no price a stored position rests on", err=True)
    if not result.positions:
        click.echo("no stored position to shock" + (" for these filters" if wallet or chain or market else
                                                    ": track wallets (`indexer wallets add`) and run `indexer sync`"),
                   err=True)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Shock {parsed.describe()} over {len(result.positions)} positions: per market, those under "
                  "1 before → after, and the collateral and debt of those crossing the line", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    width = max(len(key) for key in result.markets)
    for name in ("market", "n", "under 1", "collateral", "debt"):
        table.add_column(name, justify="left" if name == "market" else "right", no_wrap=True,
                         min_width=width if name == "market" else len(name))
    for key, totals in sorted(result.markets.items()):
        table.add_row(key, str(totals.positions), f"{totals.liquidatable_before} → {totals.liquidatable_after}",
                      money_text(totals.collateral_crossing, totals.quote),
                      money_text(totals.debt_crossing, totals.quote), style="bold red" if totals.crossing else None)
    console.print(table)
    under = liquidatable_after(result)
    if not under:
        console.print("no position is under 1 after these moves")
        return
    listing = Table(title=f"Under 1 after the shock, riskiest first ({min(limit, len(under))} of {len(under)}; "
                    "red: crossed the line)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("health → after", "account", "market", "debt after"):
        listing.add_column(name, justify="left" if name in ("account", "market") else "right", no_wrap=True)
    for p in under[:limit]:
        listing.add_row(f"{health_text(p.before.health, 3)} → {health_text(p.after.health, 3)}",
                        _short_account(p.view.account), p.view.market,
                        money_text(base_to_decimal(p.after.debt, p.after.quote_unit), p.after.quote),
                        style="bold red" if p.crossing else None)
    console.print(listing)


@cli.command()
@click.argument("market")
@click.option("--symbol", default=None, help="Only this collateral asset.")
@click.option("--cascade", "cascade_from", default=None,
              help="Also run the cascade from this move (e.g. -10%): liquidations sold into [risk.curve.depth].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (exact figures as strings).")
@pass_ctx
def curve(obj: Context, market: str, symbol: str | None, cascade_from: str | None, as_json: bool) -> None:
    """Liquidation curve of MARKET: per collateral asset, what its positions have seized and repaid at each price step
    (0 to [risk.curve] lowest); with --cascade, the price a cascade of liquidations ends at."""
    from indexer.risk.curve import market_curve, parse_move

    result = market_curve(obj.engine(), settings=obj.settings, market=market, symbol=symbol,
                          cascade_from=None if cascade_from is None else parse_move(cascade_from))
    body = result.as_json()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    if not body["curves"]:
        click.echo(f"no stored position of {market} holds " + (symbol or "any collateral"), err=True)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for c in body["curves"]:
        table = Table(title=f"{market} · {c['symbol']} ({c['holders']} positions hold it; {c['model_note']})",
                      title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for name in ("move", "price", "liquidated", "seized", "seized value", "repaid"):
            table.add_column(name, justify="right", no_wrap=True)
        for point in c["points"]:
            total = point["cumulative"]
            table.add_row(distance_text(Decimal(point["move"])), price_text(Decimal(point["price"])),
                          str(total["positions"]), price_text(Decimal(total["seized"])),
                          money_text(Decimal(total["seized_value"]), c["quote"]),
                          money_text(Decimal(total["repaid_value"]), c["quote"]))
        console.print(table)
        if cascade := c.get("cascade"):
            end_price = price_text(Decimal(cascade["end_price"]))
            console.print(f"  cascade from {distance_text(Decimal(cascade['start']))}: ends at "
                          f"{distance_text(Decimal(cascade['end']))} (price {end_price})"
                          f" after {len(cascade['rounds'])} rounds; {money_text(Decimal(cascade['volume_added']))}"
                          " more liquidated than at the start", highlight=False)
        elif refused := c.get("cascade_refused"):
            console.print(f"  no cascade: {refused}", highlight=False, markup=False)


@cli.command()
@click.option("--wallet", "-w", default=None, help="A wallet's whole book.")
@click.option("--market", default=None, help="A market's positions (config key).")
@click.option("--horizon", default="1d", show_default=True, help="15m, 1h, 1d, 1w …")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def var(obj: Context, wallet: str | None, market: str | None, horizon: str, as_json: bool) -> None:
    """Value at risk and expected shortfall of a wallet's or a market's positions over HORIZON, from the stored
    oracle readings (historical simulation and EWMA); says so when the history is too short."""
    from indexer.risk.var import market_var, wallet_var

    if (wallet is None) == (market is None):
        raise click.UsageError("give exactly one of --wallet and --market")
    result = (wallet_var(obj.engine(), settings=obj.settings, wallet=_resolve_wallet(obj, wallet), horizon=horizon)
              if wallet else market_var(obj.engine(), settings=obj.settings, market=str(market), horizon=horizon))
    body = result.as_json()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    _print_var(body)


def _print_var(body: dict[str, Any]) -> None:
    head = f"VaR over {body['horizon']}: {body['scenarios']} scenarios"
    if window := body.get("window"):
        head += f" from {window['first_utc']} to {window['last_utc']}"
    click.echo(head)
    if body["insufficient"]:
        click.echo(f"  no figure: {body['insufficient']}")
        return
    for quote in body["quotes"]:
        for h in quote.get("historical") or []:
            loss = money_text(Decimal(h["var"]), quote["quote"])
            click.echo(f"  {quote['quote']} historical {h['level']}: VaR {loss}"
                       f", ES {money_text(Decimal(h['es']), quote['quote'])}, health then "
                       f"{health_text(None if h['health'] is None else Decimal(h['health']))}")
        for p in (quote.get("parametric") or {}).get("levels", []):
            click.echo(f"  {quote['quote']} EWMA {p['level']}: VaR {money_text(Decimal(p['var']), quote['quote'])}, "
                       f"ES {money_text(Decimal(p['es']), quote['quote'])}")


@cli.command("wallet")
@click.argument("address")
@click.option("--horizon", default="1d", show_default=True, help="VaR horizon.")
@click.option("--target", type=str, default=None, callback=_parse_level,
              help="Health to reach in `to be safe` (default [risk] target_health).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def wallet_command(obj: Context, address: str, horizon: str, target: Decimal | None, as_json: bool) -> None:
    """A wallet's whole book: every position across protocols and chains, its lowest health, the first price move
    that liquidates anything, what it takes to make each position safe, and its VaR."""
    from indexer.api.risk import wallet_risk_json
    from indexer.risk.wallet import wallet_risk

    risk = wallet_risk(obj.engine(), settings=obj.settings, wallet=parse_address(address), horizon=horizon,
                       target=target)
    if as_json:
        click.echo(json.dumps(wallet_risk_json(risk), indent=2))
        return
    if not risk.positions:
        click.echo(f"no stored position of {risk.wallet}", err=True)
        return
    click.echo(f"{risk.wallet}: {len(risk.positions)} positions, lowest health {health_text(risk.min_health)}, "
               f"{risk.liquidatable} liquidatable")
    for book in risk.books.values():
        click.echo(f"  in {book.quote}: collateral {money_text(book.collateral, book.quote)}, debt "
                   f"{money_text(book.debt, book.quote)}, net {money_text(book.net, book.quote)}")
    if (first := risk.first_liquidation) and first.nearest:
        click.echo(f"  first to go: {first.view.market} {_short_account(first.view.account)} when "
                   f"{_liquidation_text(first.nearest)}")
    click.echo(f"\nTo reach health {risk.target} (each step on its own):")
    for p in risk.positions:
        plan = p.safety
        steps = [] if plan is None else plan.steps
        what = "; ".join(
            f"{s.action} {price_text(scaled(s.amount, s.decimals))} {plain_text(s.symbol)}"
            f"{'' if s.into is None else ' into ' + plain_text(s.into)}" if s.amount is not None
            else f"repaying all {plain_text(s.symbol)} is not enough" for s in steps)
        if plan is not None and plan.unmodelled and not steps:
            what = "not modelled for this protocol"
        click.echo(f"  {health_text(p.view.health)}  {p.view.market} {_short_account(p.view.account)}: "
                   f"{what or 'already there'}")
    if risk.var is not None:
        click.echo("")
        _print_var(risk.var.as_json())


def _short_account(account: str) -> str:
    """``0xc4e2…161a``, an account suffix shortened too when it is a long id (a GMX position key)."""
    owner, sep, suffix = account.partition(":")
    return short_address(owner) + (sep + (suffix if len(suffix) <= 12 else f"{suffix[:8]}…") if sep else "")


@cli.command("run")
@click.option("--no-wait", is_flag=True, help="Refuse (instead of standing by) when another `indexer run` "
              "holds a chain.")
@pass_ctx
def run_command(obj: Context, no_wait: bool) -> None:
    """Follow every configured chain block by block (read, judge, alert, store) and deliver alerts, until
    SIGINT/SIGTERM; the block in progress is finished or abandoned whole. One process writes a chain: a
    second one on the same database stands by and takes over when the first stops."""
    import asyncio

    from indexer.jobs.run import run

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(obj.settings, obj.engine(), stop, wait=not no_wait)

    _run(main())


# -- oracles -----------------------------------------------------------------------------------------
def _oracle_json(o: Any) -> dict[str, Any]:
    scaled_answer = o.answer_scaled
    return {"chain": o.chain, "feed": o.key, "kind": o.kind, "asset": o.asset, "symbol": o.symbol,
            "description": o.description, "block_number": o.block_number, "round_id": _str(o.round_id),
            "answer_raw": _str(o.answer), "decimals": o.decimals,
            "answer": None if scaled_answer is None else format(scaled_answer, "f"),
            "updated_at": o.updated_at, "age_seconds": o.age, "heartbeat_seconds": o.heartbeat,
            "heartbeat_source": o.heartbeat_source, "deviation_percent": o.deviation, "aggregator": o.aggregator,
            "status": o.status, "reason": o.reason}


def _str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _age_text(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


@cli.command()
@click.option("--stale", "not_fresh", is_flag=True, help="Only feeds that are not FRESH.")
@click.option("--chain", default=None, help="Only this chain.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (exact answers as strings).")
@pass_ctx
def oracles(obj: Context, not_fresh: bool, chain: str | None, as_json: bool) -> None:
    """Every price feed behind the indexed positions, as read at the latest stored block."""
    from indexer.store.feed_store import list_oracles

    rows = list_oracles(obj.engine(), chain=chain, not_fresh=not_fresh)
    if as_json:
        click.echo(json.dumps([_oracle_json(o) for o in rows], indent=2))
        return
    if not rows:
        click.echo("no feeds stored" + (" that are not FRESH" if not_fresh else "") +
                   ("" if not_fresh else ": run `indexer sync` first"), err=True)
        return
    from indexer.tables import Column, print_table

    columns = [Column("status", 0), Column("asset", 0), Column("feed", 3), Column("answer", 5, "right"),
               Column("age", 6, "right"), Column("heartbeat", 4, "right"), Column("block", 1, "right"),
               Column("why", 2)]
    cells, styles = [], []
    for o in rows:
        styles.append(None if o.status == "FRESH" else (
            "yellow" if o.status in ("STALE", "SEQUENCER_GRACE") else "bold red"))
        heartbeat = "-" if o.heartbeat is None else f"{_age_text(o.heartbeat)} ({o.heartbeat_source})"
        answer = o.answer_scaled
        cells.append([o.status, o.symbol or o.kind, o.description or short_address(o.key),
                      "-" if answer is None else f"{answer:,f}", _age_text(o.age), heartbeat, str(o.block_number),
                      o.reason])
    print_table("Oracle feeds at the latest stored block", columns, cells, styles)


# -- alerts ------------------------------------------------------------------------------------------
@cli.group(invoke_without_command=True)
@click.option("--open", "open_only", is_flag=True, help="Only alerts still open.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def alerts(ctx: click.Context, open_only: bool, limit: int, as_json: bool) -> None:
    """Liquidation-risk and oracle alerts, with their events and delivery status."""
    if ctx.invoked_subcommand is not None:
        return
    from indexer.store.alert_store import list_alerts

    rows = list_alerts(ctx.obj.engine(), open_only=open_only, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no alerts" + (" open" if open_only else ""), err=True)
        return
    from indexer.tables import Column, print_table

    priority = {"id": 0, "status": 0, "severity": 0, "account": 0, "market": 5, "family": 2, "health": 6,
                "prices": 1, "events": 3, "deliveries": 4}
    cells, styles = [], []
    for a in rows:
        deliveries = [d for e in a["events"] for d in e["deliveries"]]
        summary = ", ".join(f"{n} {s}" for s, n in sorted(
            {(d["status"], sum(x["status"] == d["status"] for x in deliveries)) for d in deliveries}))
        status = a["status"] + (" (acked)" if a.get("acknowledged_at") is not None and a["status"] == "open" else "")
        cells.append([a["id"][:ALERT_ID_SHOWN], status, a["severity"], short_address(a["account"]), a["market"],
                      a["family"],
                      health_text(a["health"]), a["price_status"],
                      " → ".join(f"{e['kind']}@{e['block_number']}" for e in a["events"]), summary or "-"])
        styles.append("bold red" if a["status"] == "open" and a["severity"] in ("LIQUIDATABLE", "INVALID") else None)
    print_table("Alerts, most recent first", [Column(n, p) for n, p in priority.items()], cells, styles)


ALERT_ID_SHOWN = 10  # characters of an alert id in the table; `alerts ack` takes any unique start of one
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _parse_duration(_: click.Context, __: click.Parameter, value: str) -> float:
    match = _DURATION.match(value.strip().lower())
    if match is None or float(match.group(1)) <= 0:
        raise click.BadParameter(f"{value!r} is not a duration (e.g. 90s, 30m, 2h, 1d)")
    return float(match.group(1)) * _UNIT[match.group(2) or "s"]


@alerts.command("ack")
@click.argument("alert_id")
@click.option("--by", default=None, help="Who acknowledges it (shown with the alert).")
@pass_ctx
def alerts_ack(obj: Context, alert_id: str, by: str | None) -> None:
    """Acknowledge an open alert (ALERT_ID, or any unique start of it as `indexer alerts` shows it): its later
    de-escalations are stored but not delivered; an escalation and its resolution still are."""
    from indexer.store.alert_store import acknowledge_alert, alert_ids_starting

    matches = alert_ids_starting(obj.engine(), alert_id.strip().lower(), limit=2)
    if len(matches) != 1:
        raise IndexerError(f"no alert id starts with {alert_id!r}" if not matches else
                           f"{alert_id!r} starts several alert ids: give more of it")
    now = time.time()
    row = acknowledge_alert(obj.engine(), alert_id=matches[0], by=by, now=now)
    assert row is not None
    if row["status"] != "open":
        raise IndexerError(f"alert {matches[0]} is {row['status']}: only an open alert can be acknowledged")
    forwarded: list[str] = []
    if row["acknowledged_at"] == now:  # newly acknowledged: tell the services that paged (PagerDuty, webhooks)
        from indexer.alerts.acks import forward_acknowledgement

        forwarded = forward_acknowledgement(obj.engine(), obj.settings, alert_id=row["id"], by=by, now=now)
    click.echo(f"alert {row['id']} acknowledged" + (f" by {printable(row['acknowledged_by'])}"
                                                   if row["acknowledged_by"] else "")
               + (f"; forwarded to {', '.join(forwarded)} (sent by the dispatcher)" if forwarded else ""))


@alerts.command("silence")
@click.option("--wallet", "-w", default=None, help="Events of this wallet (or the start of its address).")
@click.option("--market", default=None, help="Events of this market (config key).")
@click.option("--chain", default=None, help="Events of this chain or venue.")
@click.option("--all", "everything", is_flag=True, help="Every event (a maintenance window).")
@click.option("--for", "duration", required=True, callback=_parse_duration, help="How long: 90s, 30m, 2h, 1d.")
@click.option("--reason", default=None, help="Why (shown with the silence and on every delivery it holds back).")
@click.option("--by", default=None, help="Who sets it.")
@pass_ctx
def alerts_silence(obj: Context, wallet: str | None, market: str | None, chain: str | None, everything: bool,
                   duration: float, reason: str | None, by: str | None) -> None:
    """Hold back the deliveries of matching events for a while: they are stored, with status `silenced`."""
    from indexer.store.alert_store import add_silence

    if not (wallet or market or chain or everything):
        raise click.UsageError("say what to silence: --wallet, --market, --chain (any together), or --all")
    if market is not None and market not in obj.settings.markets:
        raise IndexerError(f"market {market!r} is not configured (markets: {', '.join(sorted(obj.settings.markets))})")
    now = time.time()
    row = add_silence(obj.engine(), chain=chain, market=market, wallet=_resolve_wallet(obj, wallet),
                      starts_at=now, ends_at=now + duration, reason=reason, created_by=by)
    click.echo(f"{row.describe()} until {_when(row.ends_at)}")


@alerts.command("silences")
@click.option("--all", "include_ended", is_flag=True, help="Also the silences that have ended.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def alerts_silences(obj: Context, include_ended: bool, as_json: bool) -> None:
    """The silences in force (or all of them)."""
    from indexer.store.alert_store import list_silences

    rows = list_silences(obj.engine(), now=time.time(), active_only=not include_ended)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "chain": r.chain, "market": r.market, "wallet": r.wallet,
                                "starts_at": r.starts_at, "ends_at": r.ends_at, "reason": r.reason,
                                "created_by": r.created_by} for r in rows], indent=2))
        return
    for r in rows:
        click.echo(f"{r.describe()} from {_when(r.starts_at)} until {_when(r.ends_at)}"
                   + (f" (set by {printable(r.created_by)})" if r.created_by else ""))
    if not rows:
        click.echo("no silence in force" if not include_ended else "no silences", err=True)


@alerts.command("unsilence")
@click.argument("silence_id", type=click.IntRange(min=1))
@pass_ctx
def alerts_unsilence(obj: Context, silence_id: int) -> None:
    """End a silence now (it is removed)."""
    from indexer.store.alert_store import remove_silence

    if not remove_silence(obj.engine(), silence_id=silence_id):
        raise IndexerError(f"no silence #{silence_id}")
    click.echo(f"silence #{silence_id} removed")


def _when(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@alerts.command("deliveries")
@click.option("--failed", "failed_only", is_flag=True, help="Only deliveries that gave up.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def alerts_deliveries(obj: Context, failed_only: bool, as_json: bool) -> None:
    """The delivery outbox: one row per event and channel."""
    from indexer.store.alert_store import list_deliveries

    rows = list_deliveries(obj.engine(), failed_only=failed_only)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no deliveries" + (" failed" if failed_only else ""), err=True)
        return
    from indexer.tables import Column, print_table

    columns = [Column("id", 0), Column("status", 0), Column("channel", 0), Column("event", 3), Column("severity", 4),
               Column("block", 2), Column("attempts", 1), Column("last error", 5, wrap=True)]
    cells = [[str(d["id"]), d["status"], d["channel"], d["kind"], d["severity"], str(d["block_number"]),
              str(d["attempts"]), d["last_error"] or ""] for d in rows]
    print_table("Deliveries, newest first", columns, cells,
                ["bold red" if d["status"] == "failed" else None for d in rows])


@alerts.command("test")
@click.argument("channel")
@pass_ctx
def alerts_test(obj: Context, channel: str) -> None:
    """Send one clearly marked TEST message to CHANNEL, once, and report what it answered."""
    from indexer.alerts.dispatch_cli import send_test

    ok, report = _run(send_test(obj.settings, channel))
    click.echo(report)
    if not ok:
        raise IndexerError(f"test message to {channel!r} was not delivered")


@alerts.command("dispatch")
@click.option("--once", is_flag=True, help="One pass over the due rows, then exit.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between passes when idle.")
@click.option("--lease", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds a claimed row stays reserved; a crashed dispatcher's rows return after this.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
              help="Requests in flight; each claim takes at most four times as many rows.")
@pass_ctx
def alerts_dispatch(obj: Context, once: bool, poll: float, lease: float, concurrency: int) -> None:
    """Deliver pending alert deliveries (retries, backoff, Retry-After); SIGINT/SIGTERM stop it cleanly. Several
    dispatchers (this command's, `indexer run`'s) can deliver one database's outbox together: each row goes to one."""
    from indexer.alerts.dispatch_cli import dispatch

    obj.long_running = True
    obj.configure_logging()
    delivered = _run(dispatch(obj.settings, obj.engine(), once=once, poll=poll, lease=lease,
                              concurrency=concurrency))
    click.echo(f"processed {delivered} deliveries", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on.")
@pass_ctx
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the JSON API (/v1), the dashboard (/), /healthz, /metrics and /openapi.json from the store;
    SIGINT/SIGTERM stop it. Adding/removing wallets needs $INDEXER_API_TOKEN (a bearer token)."""
    from indexer.api.app import serve as serve_api

    serve_api(obj.settings, host=host, port=port, announce=lambda text: click.echo(text, err=True))


# -- devnet ------------------------------------------------------------------------------------------
def _devnet_chain(settings: Settings) -> tuple[str, Path]:
    for name, chain in settings.chains.items():
        if chain.devnet:
            return name, settings.devnet_file(name)
    raise IndexerError(f"{settings.source} configures no devnet chain (a chain with `devnet = \"FILE\"`)")


def _start_devnet(obj: Context, borrowers: int, port: int | None) -> tuple[Any, Any, list[Any]]:
    """Start anvil, deploy every protocol that has a devnet (the Aave v3 market, Morpho Blue, …), seed borrowers
    on each, track them; the caller stops the node."""
    from indexer.devnet import Anvil, stack
    from indexer.store.chain_store import forget_chain, forget_discovered
    from indexer.store.wallet_store import add_wallet

    chain, path = _devnet_chain(obj.settings)
    node = Anvil(port=port) if port else Anvil()
    try:
        deployment = stack.deploy(node.url)
        accounts = stack.seed(node.url, deployment, borrowers) if borrowers else []
        path.parent.mkdir(parents=True, exist_ok=True)
        deployment.to_json(path)
        engine = obj.engine(upgrade=True)
        forget_chain(engine, chain=chain)  # a fresh devnet is a new chain: old rows would shadow it
        forget_discovered(engine, chain=chain)
        for address, label in accounts:
            add_wallet(engine, address=address, label=label)
    except BaseException:
        node.stop()
        raise
    return node, deployment, accounts


@cli.group()
def devnet() -> None:
    """A local anvil chain with a real Aave v3 market (for trying things out, tests and benchmarks)."""


@devnet.command("up")
@click.option("--borrowers", default=60, show_default=True, type=click.IntRange(min=0), help="Accounts to seed.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Fixed port (default: a free one).")
@pass_ctx
def devnet_up(obj: Context, borrowers: int, port: int | None) -> None:
    """Start the devnet in the foreground and track its seeded borrowers; Ctrl-C stops it."""
    node, deployment, accounts = _start_devnet(obj, borrowers, port)
    _, path = _devnet_chain(obj.settings)
    click.echo(f"devnet at {node.url} (chain id {deployment.chain_id}); deployment written to {path}")
    click.echo(f"Aave v3 PoolAddressesProvider {deployment.contracts['PoolAddressesProvider']}; "
               f"{len(accounts)} borrowers seeded and tracked")
    click.echo("now run `indexer sync` and `indexer positions` in another shell; Ctrl-C stops the devnet")

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background, where SIGINT is ignored
        signal.signal(signum, stop)
    try:
        node.wait()
    except KeyboardInterrupt:
        click.echo("stopping the devnet", err=True)
    finally:
        node.stop()


@devnet.command("install")
def devnet_install() -> None:
    """Install the devnet's pinned npm packages (anvil, solc, the protocols' artifacts) where the devnet looks for
    them: node_modules in the source checkout, or in the data directory for an installed package."""
    from indexer.devnet.toolchain import install_npm_packages

    where = install_npm_packages(echo=lambda text: click.echo(text, err=True))
    click.echo(f"devnet toolchain installed in {where}")


@devnet.command("price")
@click.argument("symbol")
@click.argument("usd")
@pass_ctx
def devnet_price(obj: Context, symbol: str, usd: str) -> None:
    """Set SYMBOL's price feed on the running devnet to USD (a new round, 8 decimals)."""
    from indexer.devnet import Deployment, set_price

    try:
        value = Decimal(usd)
    except InvalidOperation:
        raise click.BadParameter(f"{usd!r} is not a number", param_hint="USD") from None
    if not value.is_finite() or not -(2**255) <= value.scaleb(8) < 2**255:
        raise click.BadParameter(f"{usd!r} does not fit a feed's answer (int256 with 8 decimals)", param_hint="USD")
    answer = int(value.scaleb(8))
    _, path = _devnet_chain(obj.settings)
    deployment = Deployment.from_json(path)
    symbols = [r["symbol"] for r in deployment.reserves]
    matched = [s for s in symbols if s == symbol] or [s for s in symbols if s.lower() == symbol.lower()]
    if not matched:
        raise IndexerError(f"no devnet reserve {symbol!r} (reserves: {', '.join(symbols)})")
    set_price(deployment.rpc_url, deployment, matched[0], answer)
    click.echo(f"{matched[0]} feed now answers {_usd(answer)} USD")


@devnet.command("warp")
@click.argument("seconds", type=click.IntRange(min=1))
@pass_ctx
def devnet_warp(obj: Context, seconds: int) -> None:
    """Move the running devnet's clock SECONDS forward and mine a block: every feed ages by that much (past its
    heartbeat it reads STALE on the next sync) and interest accrues."""
    from indexer.devnet import Deployment, advance_time

    _, path = _devnet_chain(obj.settings)
    deployment = Deployment.from_json(path)
    stamp = advance_time(deployment.rpc_url, seconds)
    click.echo(f"devnet clock moved {seconds} s forward; the new block's timestamp is {stamp}")


def _usd(answer: int) -> str:
    return format(scaled(answer, 8).normalize(decimal.Context(prec=100)), "f")


@cli.command()
@click.option("--borrowers", default=60, show_default=True, type=click.IntRange(min=1), help="Accounts to seed.")
@click.option("--shock", default="30", show_default=True, help="Then drop WETH by this many percent and sync again.")
@pass_ctx
def demo(obj: Context, borrowers: int, shock: str) -> None:
    """The whole loop on a local devnet: deploy every protocol's market, seed borrowers, index them, print the
    positions."""
    from indexer.devnet import set_price
    from indexer.sync import sync_once

    try:
        drop = Decimal(shock)
    except InvalidOperation:
        raise click.BadParameter(f"{shock!r} is not a number", param_hint="--shock") from None
    if not 0 <= drop < 100:
        raise click.BadParameter("must be between 0 and 100", param_hint="--shock")
    started = time.perf_counter()
    node, deployment, accounts = _start_devnet(obj, borrowers, None)
    try:
        click.echo(f"devnet: {', '.join(deployment.protocols)} deployed, "
                   f"{len(accounts)} borrowers seeded ({time.perf_counter() - started:.1f}s)")
        for read in _run(sync_once(obj.settings, obj.engine())):
            click.echo(f"indexed {len(read.snapshots)} positions at block {read.block.number} "
                       f"with {read.stats.requests} JSON-RPC requests in {sum(read.timings.values()):.2f}s")
        _print_positions(obj, limit=15)
        if drop:
            weth = deployment.reserve("WETH")
            new_price = weth["price"] * int((100 - drop) * 100) // 10000
            set_price(deployment.rpc_url, deployment, "WETH", new_price)
            click.echo(f"\nWETH feed: {_usd(weth['price'])} → {_usd(new_price)} USD (-{drop}%); syncing again")
            _run(sync_once(obj.settings, obj.engine()))
            from indexer.store.position_store import list_positions

            under = [p for p in list_positions(obj.engine()) if p.liquidatable]
            click.echo(f"{len(under)} position{' is' if len(under) == 1 else 's are'} now below 1.0 (liquidatable)")
            _print_positions(obj, limit=15, max_health=Decimal(1))
    finally:
        node.stop()
    from collections import Counter as Tally

    from indexer.store.alert_store import list_alerts

    opened = list_alerts(obj.engine(), open_only=True)
    kinds = Tally(f"{a['family']} {a['severity']}" for a in opened)
    told = f" ({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})" if opened else ""
    nowhere = "" if obj.settings.channels else "; no alert channel is configured, so they are in the store only"
    click.echo(f"\n{len(opened)} alert{' is' if len(opened) == 1 else 's are'} open{told}{nowhere}")
    click.echo(f"stored in {obj.settings.database_url}; the devnet has been stopped (`indexer devnet up` keeps one "
               "running)")
    click.echo("next: `indexer alerts --open`, `indexer positions --max-health 1.1`, `indexer shock ETH=-20`, "
               "`indexer serve` (the dashboard at http://127.0.0.1:8080/), or `indexer devnet up` and `indexer run`")


def _global_options() -> list[click.Option]:
    """The group's options, accepted after any subcommand too (hidden there: the top-level help lists them)."""

    def keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value in (None, 0, False):
            return
        obj = ctx.find_object(Context)
        if obj is not None and param.name is not None:
            obj.set_option(param.name, value)

    return [
        click.Option(["--config", "-c"], type=click.Path(dir_okay=False), default=None, expose_value=False,
                     callback=keep, hidden=True, is_eager=True),
        click.Option(["--verbose", "-v"], count=True, expose_value=False, callback=keep, hidden=True),
        click.Option(["--quiet", "-q"], is_flag=True, expose_value=False, callback=keep, hidden=True),
        click.Option(["--log-format"], type=click.Choice(["text", "json"]), default=None, expose_value=False,
                     callback=keep, hidden=True),
    ]


def _accept_global_options(group: click.Group) -> None:
    for command in group.commands.values():
        taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
        command.params.extend(option for option in _global_options() if not taken & set(option.opts))
        if isinstance(command, click.Group):
            _accept_global_options(command)


def main() -> None:
    _accept_global_options(cli)
    try:
        cli.main(standalone_mode=False, prog_name="indexer")
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except IndexerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the database layer and others: still one line, never a traceback
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            click.echo(f"error: database: {str(getattr(exc, 'orig', exc)).splitlines()[0]}", err=True)
            sys.exit(EXIT_ERROR)
        if isinstance(exc, OSError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        raise
