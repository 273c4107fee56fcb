"""Errors raised by the devnet tooling."""

from indexer.errors import PermanentError


class DevnetError(PermanentError):
    """The local devnet could not be started, deployed or seeded."""


class ToolchainMissingError(DevnetError):
    """anvil, node, solc or the Aave artifacts are not installed where the devnet looks for them."""


class DevnetRpcError(DevnetError):
    """The devnet node answered a JSON-RPC request with an error object."""

    def __init__(self, method: str, code: int | None, message: str, data: object = None) -> None:
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data
        detail = f" data={data!r}" if data is not None else ""
        super().__init__(f"{method}: JSON-RPC error {code}: {message}{detail}")


class TransactionFailedError(DevnetError):
    """A devnet transaction was mined with status 0 (or never mined)."""
