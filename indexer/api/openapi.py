"""The OpenAPI 3.1 document for every route ``app.py`` registers (a test checks that the two agree)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from indexer import __version__ as VERSION
from indexer.api.positions import DEFAULT_LIMIT, DEFAULT_POINTS, MAX_LIMIT, MAX_POINTS
from indexer.api.reads import DEFAULT_ALERTS, MAX_ALERTS
from indexer.api.risk import CASCADE, DEFAULT_SHOCKED, MAX_SHOCKED
from indexer.oracles.status import PriceStatus

DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "exact decimal"}
UINT = {"type": "string", "pattern": r"^[0-9]+$", "description": "unsigned integer (uint256) in decimal"}
ADDRESS = {"type": "string", "pattern": r"^0x[0-9a-fA-F]{40}$"}
# What clients send: all lower case, all upper case, or EIP-55 checksummed (a wrong checksum is refused)
ADDRESS_IN = {**ADDRESS, "format": "eth-address",
              "description": "0x + 40 hex digits: one case throughout, or a valid EIP-55 checksum"}
# A position's account id: its owner's address, or owner:NAME (one of several accounts of a wallet on a market)
ACCOUNT = {"type": "string", "pattern": r"^0x[0-9a-fA-F]{40}(:[A-Za-z0-9_.:-]{1,64})?$"}
ACCOUNT_IN = {**ACCOUNT, "format": "account-id",
              "description": "an address (one case throughout, or EIP-55), optionally followed by :NAME"}
MARKET_ADDRESS = {"type": "string", "pattern": r"^(0x[0-9a-fA-F]{40})?$",
                  "description": "the protocol's contract; empty for an HTTP venue's market"}
BLOCK_HASH = {"type": "string", "pattern": r"^(0x[0-9a-fA-F]{64}|[A-Za-z0-9_.-]+:[0-9]+)$",
              "description": "the block's hash; for an HTTP venue, VENUE:<venue time in ms> of the snapshot"}
AMOUNT_IN = {"type": "string", "pattern": r"^[0-9]{1,30}(\.[0-9]{1,30})?$", "description": "non-negative decimal"}
LEVEL_IN = {"oneOf": [
    {"type": "string", "pattern": r"^(0{0,5}[1-9][0-9]{0,5}(\.[0-9]{1,18})?|0{0,5}\.[0-9]{0,17}[1-9])$",
     "description": "positive decimal below 1,000,000 with at most 18 places"},
    {"type": "number", "minimum": 0.000001, "maximum": 1000000}]}
BLOCK_IN = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
CASCADE_IN = {"type": "string", "pattern": CASCADE.pattern}  # exactly what the handlers accept
STATUSES = [s.value for s in PriceStatus]
EXAMPLE_ACCOUNT = "0x000000000000000000000000000000000000dEaD"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": [k for k in properties if k not in optional]}


def _list_of(name: str, **extra: Any) -> dict[str, Any]:
    return _object({"items": {"type": "array", "items": _ref(name)}, **extra})


INT = {"type": "integer"}
STR = {"type": "string"}
NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
        "description": "a chain, market or protocol name (no control characters)"}
BOOL = {"type": "boolean"}
SHORT_TEXT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f]+$"}
# A NAME as one path segment of a page's URL: "." and ".." are dot segments a client removes before sending, so
# they never reach a handler (the API's routes answer that with the router's JSON 404, the pages' would not be HTML)
_NAME_CHAR, _NAME_NOT_DOT = "[^\\u0000-\\u001f\\u007f]", "[^\\u0000-\\u001f\\u007f.]"
SEGMENT_NAME = {**NAME, "pattern": f"^({_NAME_NOT_DOT}|\\.{_NAME_NOT_DOT}|\\.\\.{_NAME_CHAR}){_NAME_CHAR}*$",
                "description": "a chain or market name (no control characters; not . or ..)"}
# NAME=PERCENT, a fall of less than 100 %
_MOVE = r"[A-Za-z0-9_.\-]+[=:](-[0-9]{1,2}(\.[0-9]+)?|\+?[0-9]+(\.[0-9]+)?)%?"

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": STR, "parameter": {"type": "string", "description": "the offending parameter (400 only)"}}},
    "Position": _object({
        "chain": STR, "protocol": STR, "market": STR, "market_address": MARKET_ADDRESS,
        "account": ACCOUNT, "owner": ADDRESS,
        "label": _nullable(STR), "block_number": INT, "block_hash": BLOCK_HASH, "block_timestamp": INT,
        "health": {**_nullable(DECIMAL), "description": "1 = liquidation line; null = nothing owed"},
        "health_raw": {**UINT, "description": "the protocol's own health integer"},
        "health_decimals": {**INT, "description": "places of health_raw"},
        "margin_mode": {"type": "string", "enum": ["cross", "isolated"]},
        "quote": {**STR, "description": "the currency of every value of the position"},
        "collateral_value": DECIMAL, "debt_value": DECIMAL,
        "equity": {**DECIMAL, "description": "risk-adjusted collateral (lending) or account value (perps)"},
        "requirement": {**DECIMAL, "description": "debt (lending) or maintenance margin (perps); "
                                                  "health = equity / requirement"},
        "detail": {"type": "object", "description": "the protocol's own record of the position; integers as strings "
                   "(Aave: rules, pool_revision, eMode category, LT, LTV, available borrows; under 1, `liquidation`: "
                   "what one liquidation repays and seizes)",
                   "additionalProperties": {"type": ["string", "boolean", "null", "object"]}},
        "price_status": {"type": "string", "enum": STATUSES + ["unknown"]},
        "liquidatable": {"type": "boolean", "description": "health under 1 and not held by the protocol (an L2 "
                                                            "sequencer, a liquidation grace period)"},
        "liquidation": {**_nullable(_object({
            "symbol": STR, "price_key": STR,
            "price": {**DECIMAL, "description": "the last price at which it is not liquidatable, the others fixed"},
            "current": {**DECIMAL, "description": "the price the position was computed with"},
            "direction": {"type": "string", "enum": ["falling", "rising"],
                          "description": "falling: it liquidates below `price`; rising: above it (what it owes)"},
            "distance": {**DECIMAL, "description": "the relative move from `current` to `price` (0.18 = 18 %; "
                         "<= 0: already past the line)"}})),
                        "description": "the nearest liquidation price of all the prices its health rests on; null "
                                       "when nothing is owed or no single price liquidates it"},
        "notes": {"type": "array", "items": STR, "description": "cross-protocol remarks: why a position under 1 "
                  "is not liquidatable yet; why its local math is unverified"},
        "perps": {"type": "array", "description": "its perp positions, largest first (empty for lending)",
                  "items": _object({
                      "symbol": STR, "side": {"type": "string", "enum": ["long", "short"]},
                      "size": DECIMAL, "mark": {**DECIMAL, "description": "the price it was valued at"},
                      "entry": _nullable(DECIMAL),
                      "unrealized_pnl": {**_nullable(DECIMAL), "description": "in the position's quote"},
                      "leverage": _nullable(DECIMAL),
                      "margin_mode": {"type": "string", "enum": ["cross", "isolated"]},
                      "liquidation_price": {**_nullable(DECIMAL), "description": "the last mark of this perp at "
                                            "which the account is not liquidatable, the others held fixed"},
                      "liquidates": {"type": "string", "enum": ["below", "above"],
                                     "description": "a long liquidates below its price, a short above"}})},
        "updated_at": STR}),
    "Leg": _object({
        "asset": {"type": "string", "description": "the token's address, or a venue's asset name"},
        "symbol": STR, "decimals": INT,
        "role": {"type": "string", "enum": ["collateral", "debt", "long", "short"]},
        "amount": DECIMAL, "amount_raw": UINT, "price": DECIMAL, "price_raw": UINT, "price_decimals": INT,
        "price_key": STR, "value": DECIMAL, "value_raw": UINT, "feed": _nullable(STR), "round_id": _nullable(UINT),
        "price_time": _nullable(INT), "terms": {"type": "object", "additionalProperties": INT}}),
    "PositionDetail": {"allOf": [_ref("Position"), _object({
        "legs": {"type": "array", "items": _ref("Leg")},
        "to_be_safe": {**_nullable(_ref("SafetyPlan")), "description": "the smallest repayment or deposit that "
                       "brings health to `[risk] target_health`; null for a market no longer configured"}})]},
    "PositionPage": _list_of("Position", sort={"type": "string", "enum": ["health", "debt"]}, limit=INT,
                             next_cursor=_nullable(STR)),
    "HistoryRow": _object({
        "block_number": INT, "block_hash": BLOCK_HASH, "block_timestamp": INT, "health": _nullable(DECIMAL),
        "health_raw": UINT, "collateral_value": DECIMAL, "debt_value": DECIMAL, "quote": STR, "price_status": STR}),
    "History": _list_of("HistoryRow", chain=STR, market=STR, account=ACCOUNT, since=_nullable(INT),
                        until=_nullable(INT), points=INT, total=INT, downsampled=BOOL),
    "Wallet": _object({"address": ADDRESS, "label": _nullable(STR), "warn": _nullable(DECIMAL),
                       "critical": _nullable(DECIMAL), "created_at": STR}),
    "WalletList": _list_of("Wallet"),
    "WalletCreate": {"type": "object", "required": ["address"], "additionalProperties": False, "properties": {
        "address": ADDRESS_IN, "label": _nullable({"type": "string", "minLength": 1, "maxLength": 100}),
        "warn": {**_nullable(LEVEL_IN), "description": "this wallet's WARN level (health below it)"},
        "critical": {**_nullable(LEVEL_IN), "description": "this wallet's CRITICAL level; not above warn"}}},
    "Delivery": _object({"channel": STR, "status": STR, "attempts": INT, "last_error": _nullable(STR)}),
    "AlertEvent": _object({"id": STR, "kind": STR, "severity": STR, "previous_severity": _nullable(STR),
                           "block_number": INT, "price_status": STR,
                           "deliveries": {"type": "array", "items": _ref("Delivery")}}),
    "Alert": _object({"id": STR, "dedup_key": STR, "chain": STR, "market": STR, "account": ACCOUNT, "family": STR,
                      "severity": STR, "status": {"type": "string", "enum": ["open", "resolved"]},
                      "opened_block": INT, "resolved_block": _nullable(INT), "updated_block": INT,
                      "price_status": STR, "health": _nullable(DECIMAL),
                      "acknowledged_at": _nullable({"type": "number"}), "acknowledged_by": _nullable(STR),
                      "events": {"type": "array", "items": _ref("AlertEvent")}}),
    "Silence": _object({"id": INT, "chain": _nullable(STR), "market": _nullable(STR), "wallet": _nullable(ADDRESS),
                        "starts_at": {"type": "number"}, "ends_at": {"type": "number"}, "reason": _nullable(STR),
                        "created_by": _nullable(STR)}),
    "SilenceList": _list_of("Silence"),
    "SilenceCreate": {"type": "object", "additionalProperties": False, "properties": {
        "chain": SHORT_TEXT, "market": SHORT_TEXT, "wallet": ADDRESS_IN, "all": BOOL,
        "seconds": {"type": "integer", "minimum": 1, "maximum": 366 * 86_400}, "reason": SHORT_TEXT,
        "by": SHORT_TEXT}, "required": ["seconds"],
        "anyOf": [{"required": ["chain"]}, {"required": ["market"]}, {"required": ["wallet"]},
                  {"required": ["all"], "properties": {"all": {"const": True}}}]},
    "AckRequest": {"type": "object", "additionalProperties": False, "properties": {"by": SHORT_TEXT}},
    "AlertList": _list_of("Alert", status={"type": "string", "enum": ["open", "all"]}, limit=INT),
    "Oracle": _object({
        "chain": STR, "feed": STR, "kind": STR, "asset": _nullable(STR), "symbol": _nullable(STR),
        "description": _nullable(STR), "status": {"type": "string", "enum": STATUSES}, "reason": STR,
        "answer": _nullable(DECIMAL), "answer_raw": _nullable({"type": "string", "pattern": r"^-?[0-9]+$"}),
        "decimals": _nullable(INT), "round_id": _nullable(UINT), "updated_at": _nullable(INT),
        "age_seconds": _nullable(INT), "seconds_since_update": _nullable(INT), "heartbeat_seconds": _nullable(INT),
        "heartbeat_source": STR, "deviation_percent": _nullable({"type": "number"}), "aggregator": _nullable(STR),
        "block_number": INT, "block_timestamp": INT}),
    "OracleList": _list_of("Oracle"),
    "Market": _object({"chain": STR, "key": STR, "protocol": STR, "address": MARKET_ADDRESS, "positions": INT,
                       "with_debt": INT, "liquidatable": INT, "min_health": _nullable(DECIMAL),
                       "block_number": _nullable(INT),
                       "self_check": {"type": "string", "enum": ["verified", "UNVERIFIED", "unchecked"],
                                      "description": "UNVERIFIED: the protocol's own view disagreed with the "
                                                     "local figures within the last 600 checked blocks"},
                       "mismatch_block": _nullable(INT)}),
    "MarketList": _list_of("Market"),
    "ShockTotals": _object({
        "quote": {**STR, "description": "the currency of every value of the group"},
        "positions": INT, "moved": {**INT, "description": "positions with at least one moved price"},
        "liquidatable_before": INT, "liquidatable_after": INT,
        "crossing": {**INT, "description": "positions the moves take under 1"},
        "collateral_crossing": {**DECIMAL, "description": "gross collateral of the crossing positions, after"},
        "debt_crossing": {**DECIMAL, "description": "gross debt of the crossing positions, after"},
        "collateral_liquidatable": {**DECIMAL, "description": "of every position under 1 after the moves"},
        "debt_liquidatable": DECIMAL}),
    "ShockedPosition": _object({
        "chain": STR, "protocol": STR, "market": STR, "account": ACCOUNT, "wallet": ADDRESS, "quote": STR,
        "health_before": _nullable(DECIMAL), "health_after": _nullable(DECIMAL), "health_raw_after": UINT,
        "crossing": BOOL, "collateral_after": DECIMAL, "debt_after": DECIMAL,
        "prices": {"type": "array", "items": _object({"symbol": STR, "key": STR, "before": DECIMAL,
                                                      "after": DECIMAL})}}),
    "Shock": _object({
        "moves": {"type": "object", "additionalProperties": STR, "description": "each move as understood"},
        "unused_moves": {"type": "array", "items": STR,
                         "description": "moves no stored position's price rests on"},
        "positions_considered": INT,
        "unconfigured_positions": {**INT, "description": "stored positions of markets no longer configured"},
        "markets": {"type": "array", "items": {"allOf": [_object({"market": STR}), _ref("ShockTotals")]}},
        "wallets": {"type": "array", "items": {"allOf": [_object({"wallet": ADDRESS}), _ref("ShockTotals")]}},
        "liquidatable_after": INT,
        "positions": {"type": "array", "items": _ref("ShockedPosition"),
                      "description": "positions under 1 after the moves, riskiest first (at most `limit`)"}}),
    "SafetyPlan": _object({
        "target": DECIMAL,
        "steps": {"type": "array", "description": "each on its own brings health to at least `target`; the amount "
                  "is the smallest in token units (one unit less does not)", "items": _object({
                      "action": {"type": "string", "enum": ["repay", "add"]}, "asset": STR, "symbol": STR,
                      "amount": _nullable(DECIMAL), "amount_raw": _nullable(UINT),
                      "health_after": _nullable(DECIMAL),
                      "exact": {**BOOL, "description": "the protocol's own balance rounding was applied"}})},
        "unmodelled": {"type": "array", "items": STR,
                       "description": "legs whose amount the local math does not take: no amount offered"}}),
    "Var": {"type": "object", "required": ["scope", "horizon", "scenarios", "insufficient", "quotes"],
            "description": "value at risk and expected shortfall per quote currency: historical simulation over the "
                           "stored oracle readings and a parametric EWMA variant (see the README)",
            "properties": {"scope": {"type": "object", "additionalProperties": STR}, "horizon": STR,
                           "horizon_seconds": INT, "levels": {"type": "array", "items": DECIMAL},
                           "scenarios": INT, "min_scenarios": INT,
                           "insufficient": {**_nullable(STR), "description": "why no figure is given"},
                           "quotes": {"type": "array", "items": {"type": "object"}}}},
    "LiquidationCurve": _object({
        "market": STR, "protocol": STR, "positions": INT,
        "curves": {"type": "array", "description": "per collateral asset: at each price step, what is liquidated "
                   "(cumulative and incremental); `cascade` with the impact model when asked",
                   "items": {"type": "object", "required": ["symbol", "points"], "properties": {
                       "symbol": STR, "points": {"type": "array", "items": {"type": "object"}},
                       "cascade": _nullable({"type": "object"}), "cascade_refused": _nullable(STR)}}}}),
    "WalletRisk": _object({
        "wallet": ADDRESS, "target": DECIMAL, "positions": INT, "liquidatable": INT,
        "min_health": _nullable(DECIMAL),
        "books": {"type": "array", "items": _object({"quote": STR, "positions": INT, "collateral": DECIMAL,
                                                     "debt": DECIMAL, "net": DECIMAL})},
        "first_liquidation": {**_nullable({"type": "object"}),
                              "description": "the position whose nearest liquidation price is the smallest move"},
        "items": {"type": "array", "items": {"allOf": [_ref("Position"), _object({
            "to_be_safe": _nullable(_ref("SafetyPlan"))})]}},
        "var": _nullable(_ref("Var"))}),
    "ChainStatus": _object({"chain": STR, "block_number": _nullable(INT), "block_hash": _nullable(BLOCK_HASH),
                            "block_timestamp": _nullable(INT), "seconds_since_block": _nullable(INT),
                            "behind": BOOL, "checkpoint": _nullable(INT)}),
    "Health": _object({"status": {"type": "string", "enum": ["ok", "behind"]}, "time": INT,
                       "max_lag_seconds": INT, "chains": {"type": "array", "items": _ref("ChainStatus")}}),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": STR}}}


def _asset() -> dict[str, Any]:
    return {"description": "the file", "content": {"text/css": {"schema": STR}, "text/javascript": {"schema": STR}}}


def _query(name: str, schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    if example is not None:
        parameter["example"] = example
    return parameter


def _path(name: str, schema: dict[str, Any], example: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "example": example}


HORIZON = _query("horizon", {"type": "string", "pattern": r"^[1-9][0-9]{0,5}[smhdwSMHDW]?$", "default": "1d"},
                 "the VaR horizon: a number with a unit s, m, h, d or w", "1d")
BAD = _error("a parameter cannot be used (`parameter` names it)")
FAILED = _error("internal error (details are in the server log, never in the response)")
POSITION_PATH = [_path("chain", NAME, "devnet"), _path("market", NAME, "devnet-aave-v3"),
                 _path("account", ACCOUNT_IN, EXAMPLE_ACCOUNT)]
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
UNAUTHORIZED = _error("missing or wrong bearer token")
DISABLED = _error("no token is configured on the server: changes over the API are disabled")

PATHS: dict[str, Any] = {
    "/v1/positions": {"get": {
        "operationId": "listPositions", "summary": "Latest positions, riskiest first (or by debt), paged",
        "parameters": [
            _query("wallet", ADDRESS_IN, "only this account", EXAMPLE_ACCOUNT),
            _query("chain", NAME, "only this chain (config name)", "devnet"),
            _query("protocol", NAME, "only this protocol", "aave_v3"),
            _query("market", NAME, "only this market (config key)", "devnet-aave-v3"),
            _query("margin_mode", {"type": "string", "enum": ["cross", "isolated"]}, "only this margin mode",
                   "cross"),
            _query("side", {"type": "string", "enum": ["long", "short"]}, "only positions holding a perp of this side",
                   "short"),
            _query("max_health", AMOUNT_IN, "health at most this (positions without debt never match)", "1.1"),
            _query("min_debt", AMOUNT_IN, "debt at least this much, in the position's quote currency", "100"),
            _query("price_status", {"type": "string", "enum": STATUSES}, "only positions priced with this status",
                   "FRESH"),
            _query("sort", {"type": "string", "enum": ["health", "debt"], "default": "health"},
                   "health: lowest first; debt: largest first", "health"),
            _query("cursor", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,512}$"},
                   "`next_cursor` of the previous page (opaque; made for the same `sort`)"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": DEFAULT_LIMIT},
                   f"page size; values above {MAX_LIMIT} are capped to {MAX_LIMIT}", 20),
        ],
        "responses": {"200": _json("a page of positions", "PositionPage"), "400": BAD, "500": FAILED}}},
    "/v1/positions/{chain}/{market}/{account}": {"get": {
        "operationId": "getPosition", "summary": "One position with its per-asset detail",
        "parameters": POSITION_PATH,
        "responses": {"200": _json("the position", "PositionDetail"), "400": BAD,
                      "404": _error("no such position"), "500": FAILED}}},
    "/v1/positions/{chain}/{market}/{account}/history": {"get": {
        "operationId": "getPositionHistory",
        "summary": "A position's stored snapshots in a block window, downsampled to at most `points` rows",
        "parameters": [
            *POSITION_PATH,
            _query("since", BLOCK_IN, "first block (inclusive)", 0),
            _query("until", BLOCK_IN, "last block (inclusive); below `since`: an empty window", 10_000_000),
            _query("points", {"type": "integer", "minimum": 1, "maximum": MAX_POINTS, "default": DEFAULT_POINTS},
                   "at most this many rows, evenly spaced, always including the last", 100),
        ],
        "responses": {"200": _json("the history", "History"), "400": BAD, "404": _error("no such position"),
                      "500": FAILED}}},
    "/v1/wallets": {
        "get": {"operationId": "listWallets", "summary": "Tracked wallets",
                "responses": {"200": _json("tracked wallets", "WalletList"), "400": BAD, "500": FAILED}},
        "post": {"operationId": "addWallet", "summary": "Track a wallet (or update its label and levels)",
                 "security": BEARER,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("WalletCreate"),
                     "example": {"address": EXAMPLE_ACCOUNT, "label": "treasury", "warn": "1.3",
                                 "critical": "1.15"}}}},
                 "responses": {"200": _json("updated", "Wallet"), "201": _json("now tracked", "Wallet"),
                               "400": BAD, "401": UNAUTHORIZED, "403": DISABLED, "500": FAILED}},
    },
    "/v1/wallets/{address}": {"delete": {
        "operationId": "removeWallet", "summary": "Stop tracking a wallet", "security": BEARER,
        "parameters": [_path("address", ADDRESS_IN, EXAMPLE_ACCOUNT)],
        "responses": {"204": {"description": "no longer tracked"}, "400": BAD, "401": UNAUTHORIZED,
                      "403": DISABLED, "404": _error("not tracked"), "500": FAILED}}},
    "/v1/alerts": {"get": {
        "operationId": "listAlerts", "summary": "Alerts, most recently updated first, with events and deliveries",
        "parameters": [
            _query("status", {"type": "string", "enum": ["open", "all"], "default": "all"}, "open: only open",
                   "open"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": DEFAULT_ALERTS},
                   f"at most this many (capped to {MAX_ALERTS})", 10),
        ],
        "responses": {"200": _json("alerts", "AlertList"), "400": BAD, "500": FAILED}}},
    "/v1/alerts/{alert_id}/ack": {"post": {
        "operationId": "acknowledgeAlert",
        "summary": "Acknowledge an open alert: its later de-escalations are not delivered (escalations and its "
                   "resolution are)", "security": BEARER,
        "parameters": [_path("alert_id", {"type": "string", "minLength": 1, "maxLength": 64}, "0123abcd")],
        "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("AckRequest"),
                                                                             "example": {"by": "ops"}}}},
        "responses": {"200": _json("acknowledged (or already)", "Alert"), "400": BAD, "401": UNAUTHORIZED,
                      "403": DISABLED, "404": _error("no such alert"), "409": _error("the alert is not open"),
                      "500": FAILED}}},
    "/v1/silences": {
        "get": {"operationId": "listSilences", "summary": "Silences in force (all: also the ended ones)",
                "parameters": [_query("all", BOOL, "also the silences that have ended", "true")],
                "responses": {"200": _json("silences", "SilenceList"), "400": BAD, "500": FAILED}},
        "post": {"operationId": "addSilence",
                 "summary": "Hold back the deliveries of matching events (chain, market, wallet: every one given "
                            "must match) for `seconds`; they are stored with status `silenced`", "security": BEARER,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("SilenceCreate"),
                     "example": {"market": "devnet-aave-v3", "seconds": 3600, "reason": "maintenance"}}}},
                 "responses": {"201": _json("the silence", "Silence"), "400": BAD, "401": UNAUTHORIZED,
                               "403": DISABLED, "404": _error("no such market in the configuration"),
                               "500": FAILED}},
    },
    "/v1/silences/{silence_id}": {"delete": {
        "operationId": "removeSilence", "summary": "End a silence now", "security": BEARER,
        "parameters": [_path("silence_id", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "1")],
        "responses": {"204": {"description": "removed"}, "400": BAD, "401": UNAUTHORIZED, "403": DISABLED,
                      "404": _error("no such silence"), "500": FAILED}}},
    "/v1/oracles": {"get": {
        "operationId": "listOracles", "summary": "Price feeds with the verdict on their latest reading",
        "parameters": [_query("chain", NAME, "only this chain", "devnet"),
                       _query("not_fresh", BOOL, "only feeds that are not FRESH", "true")],
        "responses": {"200": _json("feeds", "OracleList"), "400": BAD, "500": FAILED}}},
    "/v1/markets": {"get": {
        "operationId": "listMarkets", "summary": "Stored markets with position counts",
        "responses": {"200": _json("markets", "MarketList"), "400": BAD, "500": FAILED}}},
    "/v1/shock": {"get": {
        "operationId": "shock",
        "summary": "What-if: move prices and recompute every stored position with its protocol's own math",
        "parameters": [
            {**_query("moves", {"type": "string", "minLength": 1, "maxLength": 2000,
                                "pattern": f"^{_MOVE}(,{_MOVE})*$"},
                      "NAME=PERCENT pairs, comma-separated: a group of `[risk.groups]` (ETH moves WETH, wstETH … "
                      "with it) or a symbol, whose move composes with its group's", "ETH=-25,BTC=-20"),
             "required": True},
            _query("wallet", ADDRESS_IN, "only this wallet's positions", EXAMPLE_ACCOUNT),
            _query("chain", NAME, "only this chain (config name)", "devnet"),
            _query("market", NAME, "only this market (config key)", "devnet-aave-v3"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": DEFAULT_SHOCKED},
                   f"at most this many positions listed (capped to {MAX_SHOCKED})", 20),
        ],
        "responses": {"200": _json("the shocked book", "Shock"), "400": BAD, "500": FAILED}}},
    "/v1/markets/{market}/liquidation-curve": {"get": {
        "operationId": "liquidationCurve",
        "summary": "Per collateral asset, what is seized and repaid at each price step, optionally with a cascade",
        "parameters": [
            _path("market", NAME, "devnet-aave-v3"),
            _query("symbol", NAME, "only this collateral asset", "WETH"),
            _query("cascade", CASCADE_IN,
                   "run the cascade from this move (percent): liquidations sold into `[risk.curve.depth]`", "-10"),
        ],
        "responses": {"200": _json("the curves", "LiquidationCurve"), "400": BAD,
                      "404": _error("no such market in the configuration"), "500": FAILED}}},
    "/v1/markets/{market}/var": {"get": {
        "operationId": "marketVar", "summary": "Value at risk and expected shortfall of a market's positions",
        "parameters": [_path("market", NAME, "devnet-aave-v3"), HORIZON],
        "responses": {"200": _json("the figures, or why there are none", "Var"), "400": BAD,
                      "404": _error("no such market in the configuration"), "500": FAILED}}},
    "/v1/wallets/{address}/risk": {"get": {
        "operationId": "walletRisk",
        "summary": "A wallet's positions in one view: lowest health, books, the first liquidation, what it takes to "
                   "be safe, VaR/ES",
        "parameters": [
            _path("address", ADDRESS_IN, EXAMPLE_ACCOUNT), HORIZON,
            _query("target", {"type": "string", "pattern": r"^[0-9]{1,3}(\.[0-9]{1,18})?$"},
                   "the health to reach (default `[risk] target_health`)", "1.5"),
        ],
        "responses": {"200": _json("the wallet's risk", "WalletRisk"), "400": BAD, "500": FAILED}}},
    "/healthz": {"get": {
        "operationId": "health", "summary": "Liveness, and how old each chain's latest stored block is",
        "responses": {"200": _json("the process and the store answer", "Health"), "400": BAD,
                      "503": _error("the store does not answer")}}},
    "/readyz": {"get": {
        "operationId": "ready", "summary": "Readiness: the /healthz report, 503 while a chain's data is older than "
                                          "`[api] max_lag_seconds`",
        "responses": {"200": _json("every chain is current", "Health"), "400": BAD,
                      "503": {"description": "a chain is behind (the report) or the store does not answer",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "500": FAILED}}},
    "/metrics": {"get": {
        "operationId": "metrics", "summary": "Prometheus metrics read from the store at scrape time",
        "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": STR}}},
                      "400": BAD, "500": FAILED}}},
    "/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {
            "schema": {"type": "object"}}}}}}},
    "/docs": {"get": {
        "operationId": "docs", "summary": "This document as a browsable reference (Swagger UI, HTML)",
        "responses": {"200": _html("HTML page"), "500": FAILED}}},
    "/docs/ui/{name}": {"get": {
        "operationId": "docsUi", "summary": "Swagger UI's files the reference page uses (from swagger-ui-py)",
        "parameters": [_path("name", {"type": "string", "enum": ["swagger-ui.css", "swagger-ui-bundle.js"]},
                             "swagger-ui.css")],
        "responses": {"200": _asset(), "404": _error("not a file the page uses"), "500": FAILED}}},
    "/docs/static/{name}": {"get": {
        "operationId": "docsStatic", "summary": "The reference page's start-up script",
        "parameters": [_path("name", {"type": "string", "enum": ["docs.js"]}, "docs.js")],
        "responses": {"200": _asset(), "404": _error("not a file the page uses"), "500": FAILED}}},
    "/": {"get": {
        "operationId": "dashboard", "summary": "The dashboard (HTML)",
        "responses": {"200": _html("HTML page"), "500": FAILED}}},
    "/positions/{chain}/{market}/{account}": {"get": {
        "operationId": "positionPage",
        "summary": "One position (HTML): health history chart, legs, liquidation prices, what it takes to be safe",
        "parameters": [_path("chain", SEGMENT_NAME, "devnet"), _path("market", SEGMENT_NAME, "devnet-aave-v3"),
                       _path("account", ACCOUNT_IN, EXAMPLE_ACCOUNT)],
        "responses": {"200": _html("HTML page"), "400": _html("a path segment cannot be used (HTML page)"),
                      "404": _html("no such position (HTML page)"), "500": FAILED}}},
    "/wallets/{address}": {"get": {
        "operationId": "walletPage",
        "summary": "One wallet (HTML): its positions riskiest first, books, first liquidation, what it takes to be "
                   "safe, VaR/ES over 1d",
        "parameters": [_path("address", ADDRESS_IN, EXAMPLE_ACCOUNT)],
        "responses": {"200": _html("HTML page"), "400": _html("not an address (HTML page)"), "500": FAILED}}},
    "/markets/{market}": {"get": {
        "operationId": "marketPage",
        "summary": "One market (HTML): the liquidation curve of each collateral asset, optionally with a cascade",
        "parameters": [
            _path("market", SEGMENT_NAME, "devnet-aave-v3"),
            _query("cascade", CASCADE_IN, "run the cascade from this move (percent) and mark its rounds", "-10"),
        ],
        "responses": {"200": _html("HTML page"), "400": _html("a parameter cannot be used (HTML page)"),
                      "404": _html("no such market in the configuration (HTML page)"), "500": FAILED}}},
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "position-health-indexer API", "version": VERSION,
                 "description": "Read-only views of the indexed store, plus tracked-wallet management. Exact "
                                "figures are decimal strings. Every error is JSON: `{\"error\": …}`."},
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi_handler(request: web.Request) -> web.Response:
    return web.json_response(document())
