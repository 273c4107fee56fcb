"""What the benchmark ran on: CPU, cores, memory, OS and the versions of the moving parts."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path

from indexer.devnet import toolchain


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _anvil_version() -> str:
    try:
        out = subprocess.run([str(toolchain.anvil_binary()), "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except Exception:  # a missing toolchain is reported when the devnet starts
        return "unknown"
    first = out.strip().splitlines()[0] if out.strip() else "unknown"
    return first.removeprefix("anvil Version: ").strip()


def describe() -> str:
    memory = _memory_gib()
    return (f"{_cpu_model()}, {os.cpu_count()} cores, "
            f"{f'{memory:.1f} GiB RAM' if memory is not None else 'memory unknown'}; "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
            f"anvil {_anvil_version()}; SQLite {sqlite3.sqlite_version}")
