"""Error hierarchy.

Every failure the indexer reports is an ``IndexerError``. ``RetryableError`` means the same call may
succeed later (timeouts, connection resets, HTTP 429/5xx, node overload); ``PermanentError`` means it
will not (bad input, bad config, a reverted call, a contract that is not what the config says).
The CLI turns either into one readable line and a non-zero exit.
"""


class IndexerError(Exception):
    """Base of every error the indexer raises on purpose."""


class RetryableError(IndexerError):
    """Transient: retrying the same request later may succeed."""


class PermanentError(IndexerError):
    """Will fail again with the same input; do not retry."""


class ConfigError(PermanentError):
    """The configuration file or environment is invalid."""


class InvalidAddressError(PermanentError):
    """A string is not a valid (checksummed, if mixed-case) EVM address."""


class RpcUnavailableError(RetryableError):
    """No RPC endpoint of a chain answered. ``retry_after``: seconds the endpoint asked to be left alone
    (HTTP ``Retry-After``), when it said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RpcResponseError(PermanentError):
    """The node answered with a JSON-RPC error that retrying will not fix."""


class CallRevertedError(PermanentError):
    """A contract call reverted (or returned data that does not decode)."""


class MarketMismatchError(PermanentError):
    """The configured address is not the kind of contract the protocol adapter expects."""


class StoreError(PermanentError):
    """The database rejected a write or is not at the expected schema revision."""


class BelowCheckpointError(PermanentError):
    """A block below the chain's stored checkpoint was asked to be stored: the store only moves forward."""
