"""Runs a local anvil node for the devnet.

The flags are chosen for bulk seeding: a huge block gas limit so thousands of transactions fit in one
block, no request-size limit so big JSON-RPC batches go through, a zero base fee (and no minimum
priority fee) so explicit ``gasPrice: 0`` transactions are valid in every block, and auto-impersonation
so ``eth_sendTransaction`` works from any address without keys.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from indexer.devnet import toolchain
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient

log = logging.getLogger(__name__)

CHAIN_ID = 31337
BLOCK_GAS_LIMIT = 1_000_000_000_000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it; anvil binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as a server binds: a port whose last connections linger in TIME_WAIT is free, one with a listener not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise DevnetError(f"port {port} on {host} is in use (another node?): choose another --port, or "
                              "leave it out to pick a free one") from None


class _ExitedAtStartup(DevnetError):
    pass


class Anvil:
    """A running anvil process on 127.0.0.1; use as a context manager or call :meth:`stop`.

    ``port=None`` picks a free port. ``extra_args`` are appended to the command line.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = CHAIN_ID,
        startup_timeout: float = 30.0,
        extra_args: tuple[str, ...] = (),
        binary: Path | None = None,
    ) -> None:
        self.binary = binary or toolchain.anvil_binary()
        self.chain_id = chain_id
        self._proc: subprocess.Popen[bytes] | None = None
        if port is not None:
            _check_free(self.host, port)  # else whatever listens there would answer as if it were this node
        # a port picked by free_port() can be taken by someone else before anvil binds it: try again
        attempts = 1 if port is not None else 3
        for attempt in range(1, attempts + 1):
            self.port = port if port is not None else free_port(self.host)
            self.url = f"http://{self.host}:{self.port}"
            try:
                self._start(chain_id, extra_args, startup_timeout)
                break
            except _ExitedAtStartup as exc:
                if attempt == attempts or "in use" not in str(exc).lower():
                    raise
                log.warning("anvil exited at start-up on port %d; retrying on another port", self.port)
        log.info("anvil listening on %s (pid %s)", self.url, self.pid)

    def _start(self, chain_id: int, extra_args: tuple[str, ...], startup_timeout: float) -> None:
        self.args = [
            str(self.binary),
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(chain_id),
            "--gas-limit", str(BLOCK_GAS_LIMIT),
            "--base-fee", "0",
            "--disable-min-priority-fee",
            "--auto-impersonate",
            "--no-request-size-limit",
            "--accounts", "1",
            "--quiet",
            *extra_args,
        ]  # fmt: skip
        log.debug("starting %s", " ".join(self.args))
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed in stop()
        self._proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def rpc(self) -> JsonRpcClient:
        return JsonRpcClient(self.url)

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        client = JsonRpcClient(self.url, timeout=2.0)
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._stderr.seek(0)
                stderr = self._stderr.read().decode(errors="replace")
                raise _ExitedAtStartup(f"anvil exited with code {self._proc.returncode} at start-up: {stderr[-2000:]}")
            try:
                chain_id = int(client.call("eth_chainId"), 16)
            except DevnetError as exc:
                last_error = exc
                time.sleep(0.02)
                continue
            if chain_id != self.chain_id:
                raise DevnetError(f"a node on {self.url} answered chain id {chain_id}, not {self.chain_id}")
            return
        raise DevnetError(f"anvil did not answer eth_chainId on {self.url} within {timeout:.0f}s ({last_error})")

    def wait(self, timeout: float | None = None) -> int | None:
        """Blocks until the node exits (or ``timeout`` passes: then returns None); returns its exit code."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminates the process and waits for it; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._stderr.close()

    def __enter__(self) -> Anvil:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten node must not outlive the interpreter
        if getattr(self, "_proc", None) is not None:
            self.stop(timeout=2.0)
