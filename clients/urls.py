"""URLs as the clients build them and as logs may show them."""

from __future__ import annotations

import httpx

__all__ = ["join_url", "strip_query"]


def join_url(base_url: str, path: str) -> str:
    """`base_url` + `path`, keeping any path prefix of the base (unlike RFC 3986 resolution).

    join_url("http://h/api/proxy", "/v1/x") == "http://h/api/proxy/v1/x"
    """
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def strip_query(url: str | httpx.URL) -> str:
    """The URL without query string, fragment or userinfo: safe for logs."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}{parsed.path}"
