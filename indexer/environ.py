"""The environment as the indexer reads it: a variable ``NAME`` may instead be given as ``NAME_FILE``, the path of a
file holding its value (Docker and systemd credentials, Kubernetes secrets), so secrets stay out of the process
environment. A set ``NAME`` wins over ``NAME_FILE``; one trailing newline of the file is dropped."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from indexer.errors import ConfigError

FILE_SUFFIX = "_FILE"


class Environ(Mapping[str, str]):
    """``os.environ`` (or a given mapping) with ``NAME_FILE`` fallbacks; reads files on access."""

    def __init__(self, base: Mapping[str, str] | None = None) -> None:
        self._base = os.environ if base is None else base

    def __getitem__(self, name: str) -> str:
        if name in self._base:
            return self._base[name]
        path = self._base.get(name + FILE_SUFFIX)
        if path is None or name.endswith(FILE_SUFFIX):
            raise KeyError(name)
        return read_file_value(name + FILE_SUFFIX, path)

    def __iter__(self) -> Iterator[str]:
        names = set(self._base)
        names |= {n[: -len(FILE_SUFFIX)] for n in self._base if n.endswith(FILE_SUFFIX) and len(n) > len(FILE_SUFFIX)}
        return iter(sorted(names))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._base or (name + FILE_SUFFIX) in self._base)


def read_file_value(variable: str, path: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{variable}: file {path} not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{variable}: file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{variable}: file {path} cannot be read: {exc.strerror or exc}") from None
    return text[:-1] if text.endswith("\n") else text


def environ(base: Mapping[str, str] | None = None) -> Environ:
    return base if isinstance(base, Environ) else Environ(base)
