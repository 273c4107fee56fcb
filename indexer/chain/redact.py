"""Keep secrets in RPC URLs out of logs and error messages, and refuse URLs that cannot work before they are
used (a malformed URL would otherwise reach an HTTP client whose error repeats it, key and all)."""

from urllib.parse import urlsplit

_SCHEMES = ("http", "https", "ws", "wss")


def redact_url(url: str) -> str:
    """Scheme, host and port only: API keys hide in paths, queries and userinfo."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":<bad port>"
    host = parts.hostname or ""
    hidden = "/…" if (parts.path.strip("/") or parts.query or parts.username or parts.password) else ""
    return f"{parts.scheme or '<no scheme>'}://{host}{port}{hidden}"


def check_url(url: str, *, schemes: tuple[str, ...] = _SCHEMES) -> str:
    """``url`` if an HTTP client can use it; else ValueError naming the problem and the URL redacted."""
    shown = redact_url(url)
    if url != url.strip() or any(c.isspace() for c in url):
        raise ValueError(f"{shown} is not a usable URL: it contains whitespace")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check (out of range or not a number raises)
    except ValueError as exc:
        reason = "bad port" if "port" in str(exc).lower() else "malformed (an IPv6 literal needs [brackets])"
        raise ValueError(f"{shown} is not a usable URL: {reason}") from None
    if parts.scheme not in schemes:
        raise ValueError(f"{shown} is not a usable URL: the scheme must be one of {', '.join(schemes)} "
                         f"(got {parts.scheme or 'none'!r})")
    if not parts.hostname:
        raise ValueError(f"{shown} is not a usable URL: no host")
    return url
