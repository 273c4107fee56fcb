"""Keep secrets in RPC URLs out of logs and error messages."""

from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    """Scheme, host and port only: API keys hide in paths, queries and userinfo."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    hidden = "/…" if (parts.path.strip("/") or parts.query or parts.username) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"
