"""Outbound connections to the platforms: one client factory, so that every request and websocket takes the
proxy the deployment names.

aiohttp's own ``trust_env`` reads ``HTTPS_PROXY`` for ``https://`` but looks up ``WSS_PROXY`` for ``wss://``
(a variable no one sets), and it has no per-host bypass for a configured proxy. :class:`ProxyRoutes` decides
instead, for each request as it is built: ``NO_PROXY`` hosts go direct; otherwise ``[network] proxy``, else the
environment's proxy for the scheme (``wss`` as ``https``, ``ws`` as ``http``). A proxied ``https``/``wss``
connection is a ``CONNECT`` tunnel, so TLS still runs end to end with the platform.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.request import getproxies_environment

import aiohttp
from yarl import URL

from bot.config import NetworkConfig

_ENV_SCHEME = {"http": "http", "ws": "http", "https": "https", "wss": "https"}


class ProxyRoutes:
    """Which proxy (if any) a request to a URL goes through."""

    def __init__(self, configured: str = "", environ: Mapping[str, str] | None = None) -> None:
        self.configured = configured
        self.env = getproxies_environment() if environ is None else _proxies_of(environ)

    def proxy_for(self, url: URL) -> URL | None:
        host = url.host
        if not host or bypassed(host, self.env.get("no", "")):
            return None
        if self.configured:
            return URL(self.configured)
        chosen = self.env.get(_ENV_SCHEME.get(url.scheme, url.scheme), "")
        return URL(chosen) if chosen else None


def bypassed(host: str, no_proxy: str) -> bool:
    """Is ``host`` listed in ``NO_PROXY`` (``*``, a host, or a domain with or without its leading dot)?"""
    host = host.lower().rstrip(".")
    for entry in no_proxy.split(","):
        name = entry.strip().lower().lstrip(".")
        if name.startswith("[") and "]" in name:  # [::1]:8080
            name = name[1 : name.index("]")]
        elif name.count(":") == 1:  # host:port (the port is not checked)
            name = name.partition(":")[0]
        if name == "*" or (name and (host == name or host.endswith("." + name))):
            return True
    return False


def _proxies_of(environ: Mapping[str, str]) -> dict[str, str]:
    """What :func:`urllib.request.getproxies_environment` reads, from a given mapping (for tests)."""
    found: dict[str, str] = {}
    for name, value in environ.items():
        key = name.lower()
        if value and key.endswith("_proxy"):
            found[key.removesuffix("_proxy")] = value
    return found


class _RoutedRequest(aiohttp.ClientRequest):
    """A request that asks :attr:`routes` for its proxy when the caller named none."""

    routes: ClassVar[ProxyRoutes]

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        if kwargs.get("proxy") is None:
            kwargs["proxy"] = self.routes.proxy_for(url)
        super().__init__(method, url, **kwargs)


def client_session(network: NetworkConfig, **kwargs: Any) -> aiohttp.ClientSession:
    """An HTTP client for platform requests and websockets, routed through the deployment's proxy and trusting
    its ``ca_file`` (a caller that brings its own connector builds it with :func:`tls_context` itself)."""
    routes = ProxyRoutes(network.proxy)
    request_class = type("RoutedRequest", (_RoutedRequest,), {"routes": routes})
    if "connector" not in kwargs and network.ca_file:
        kwargs["connector"] = aiohttp.TCPConnector(ssl=tls_context(network.ca_file))
    return aiohttp.ClientSession(request_class=request_class, trust_env=False, **kwargs)


def tls_context(*ca_files: str) -> ssl.SSLContext | bool:
    """Certificate checking for a private deployment whose server certificate comes from its own CA:
    the system's trusted roots plus each named file; ``True`` (the default checks) when none is named."""
    named = [path for path in ca_files if path]
    if not named:
        return True
    context = ssl.create_default_context()
    for path in named:
        context.load_verify_locations(cafile=path)
    return context
