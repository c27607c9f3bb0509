"""What a download may reach, and with what: the checks made before every HTTP request.

``connectors.pull.http`` asks these before each request it sends, the redirects it follows
included:

* **Where credentials go.** Basic auth, user info and secret-looking headers belong to one
  origin (scheme, host and port: the portal's, or the URL's own); a request to any other
  origin, a redirect target or a CKAN resource hosted elsewhere, goes without them.
* **Plain http.** Credentials (or a secret in the query string) are not sent over http unless
  the source allows it (``allow_insecure_http``): anyone on the path could read them.
* **Private addresses.** A host name is resolved and every address it has (IPv4 and IPv6) is
  checked: loopback, private, link-local and other non-public addresses (a cloud's metadata
  service at 169.254.169.254, the machine itself, the internal network) are refused unless
  the host, the address or its network is listed in ``allow_hosts``. A portal or a redirect
  cannot send padu to fetch from inside the network it runs in.
* **Size.** No download may be larger than ``max_bytes`` (default 2 GiB); the body is counted
  as it streams in, whatever ``Content-Length`` says.

Redirects are followed by ``get`` rather than by requests, which would keep secret headers
other than ``Authorization`` (``X-API-Key``) on a redirect to another host and would not check
where the redirect leads.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase

log = logging.getLogger(__name__)

#: The largest download accepted unless the source sets its own ``max_download_bytes``.
MAX_BYTES = 2 << 30  # 2 GiB
#: Redirects followed for one request before giving up.
MAX_REDIRECTS = 10
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
#: The basic auth and headers to send to a URL.
Credentials = Callable[[str], tuple[tuple[str, str] | None, dict[str, str]]]


class Refused(Exception):
    """A request the policy does not allow. The message says why; ``url`` is the hop refused."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(reason)
        self.url = url


class Unresolved(requests.exceptions.ConnectionError):
    """A host name that did not resolve: retried like any connection error."""


class TooLarge(Exception):
    """A body over the size limit."""

    def __init__(self, size: int, limit: int, *, announced: bool) -> None:
        what = f"the server announced {size:,} bytes" if announced else "the body goes on"
        super().__init__(
            f"larger than the download limit of {limit:,} bytes ({what}); raise "
            "max_download_bytes for this source in the deployment file if the file is right"
        )


def origin(url: str) -> tuple[str, str, int]:
    """``url``'s origin: scheme, host name (lower case) and port (the default if none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def _host(entry: str) -> str:
    return entry.strip().strip("[]").lower()


def allow_entry(entry: str) -> str | Network:
    """An ``allow_hosts`` entry: a host name, or an address or network (``10.0.0.0/8``)."""
    text = _host(entry)
    if not text:
        raise ValueError("an empty allow_hosts entry")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(text):
        raise ValueError(f"allow_hosts entry {entry!r} is not a host name, address or network")
    return text


@dataclass(frozen=True)
class Policy:
    """What one source's downloads may do (see the module docstring)."""

    allow_hosts: tuple[str, ...] = ()
    allow_insecure_http: bool = False
    max_bytes: int = MAX_BYTES
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        entries = [allow_entry(e) for e in self.allow_hosts]
        names = frozenset(e for e in entries if isinstance(e, str))
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_networks", tuple(e for e in entries if not isinstance(e, str)))

    def check_credentials(self, url: str) -> None:
        """Refuse to send credentials to ``url`` over plain http unless allowed."""
        if urlsplit(url).scheme.lower() == "http" and not self.allow_insecure_http:
            raise Refused(
                "refusing to send credentials over plain http, where anyone on the way can "
                "read them; use https, or set allow_insecure_http: true for this source in "
                "the deployment file"
            )

    def check_address(self, url: str, resolve: Resolver | None = None) -> None:
        """Refuse ``url`` if its host has a non-public address not listed in ``allow_hosts``.

        Raises ``Refused``, or ``Unresolved`` if the name does not resolve. (The address is
        checked when the request is made; requests resolves the name again to connect.)
        """
        host = _host(urlsplit(url).hostname or "")
        if host in self._names:
            return
        try:
            found = (resolve or _resolve)(host, origin(url)[2])
        except OSError as err:  # socket.gaierror
            raise Unresolved(f"cannot resolve {host}: {err}") from None
        for text in found:
            address = _address(text)
            kind = non_public(address)
            if kind and not any(address in net for net in self._networks):
                shown = host if host == str(address) else f"{host} ({address})"
                raise Refused(
                    f"{shown} is a {kind} address; padu fetches only from public addresses "
                    "unless the host is listed in allow_hosts for this source in the "
                    "deployment file",
                    url,
                )

    def check_size(self, size: int | None, *, announced: bool = True) -> None:
        """Raise ``TooLarge`` if ``size`` is over the limit."""
        if size is not None and size > self.max_bytes:
            raise TooLarge(size, self.max_bytes, announced=announced)

    def capped(self, chunks: Iterable[bytes], start: int = 0) -> Iterator[bytes]:
        """``chunks``, raising ``TooLarge`` once ``start`` plus their length passes the limit."""
        size = start
        for chunk in chunks:
            size += len(chunk)
            self.check_size(size, announced=False)
            yield chunk


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, IPv4 and IPv6."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0: drop the zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def non_public(address: Address) -> str | None:
    """What kind of non-public address ``address`` is (``loopback``, ``private``, ...), or
    None for an address on the public internet."""
    kinds = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, applies in kinds if applies), None)


class _NoNetrc(AuthBase):
    """No credentials; passed so that requests does not take any from ``~/.netrc``."""

    def __call__(self, request: Any) -> Any:
        return request


def get(
    session: requests.Session,
    url: str,
    *,
    policy: Policy,
    credentials: Credentials,
    headers: Mapping[str, str],
    timeout: float,
    stream: bool,
    show: Callable[[str], str],
) -> requests.Response:
    """GET ``url``, following redirects one hop at a time: each hop's address is checked and
    gets the auth and headers ``credentials`` gives for it (``show`` redacts URLs for the log).

    Raises ``Refused``, ``Unresolved`` or requests' exceptions.
    """
    for _ in range(MAX_REDIRECTS + 1):
        policy.check_address(url)
        auth, own = credentials(url)
        response = session.get(
            url,
            headers={**own, **headers},
            auth=auth or _NoNetrc(),
            timeout=(timeout, timeout),
            stream=stream,
            allow_redirects=False,
        )
        location = session.get_redirect_target(response)
        if location is None:
            return response
        response.close()
        url = urljoin(response.url, location)
        log.info("redirected to %s", show(url))
    raise Refused(f"more than {MAX_REDIRECTS} redirects", url)
