"""The outbound policy: the server calls a URL that a visitor typed only when it is safe to.

For a visitor (anyone but the owner, on a Space) a URL is refused unless it is https, and unless every address its
host resolves to is public: no loopback, private, link-local, multicast, reserved or unspecified address. The
connection then goes to the very address that was checked (the host name stays in the Host header and in TLS), so a
DNS answer that changes between the check and the call cannot reach the server's network. Redirects are followed by
hand, each one checked the same way. The owner, and a local user, may call anything (their own vLLM on localhost).
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from lab.access import Caller
from lab.errors import LabError

CONNECT_TIMEOUT_S = 5.0
MAX_REDIRECTS = 3
REFUSED = "The lab does not call that address for a visitor."
REFUSED_FIX = "Give a public https endpoint, such as https://router.huggingface.co/v1."


def _refuse(field: str, why: str = "") -> LabError:
    return LabError(REFUSED + (f" ({why})" if why else ""), REFUSED_FIX, field)


def public_address(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not (addr.is_loopback or addr.is_private or addr.is_link_local or addr.is_multicast or addr.is_reserved
                or addr.is_unspecified or not addr.is_global)


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_address(url: str, caller: Caller, field: str) -> tuple[str, str | None]:
    """(url, the address to connect to) for a URL the caller may have the server call; a LabError otherwise.
    The address is None for the owner (no pinning: their own network is theirs to use)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse(field, "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabError("The endpoint is not an http(s) URL.", "Give the API's base URL, e.g. "
                       "https://router.huggingface.co/v1.", field)
    if caller.is_owner:
        return url, None
    if caller.on_space and parts.scheme != "https":
        raise _refuse(field, "https only")
    if parts.username or parts.password:
        raise _refuse(field, "no credentials in the URL")
    addresses = _addresses(parts.hostname, port)
    if not addresses or not all(public_address(a) for a in addresses):
        raise _refuse(field)
    return url, addresses[0]


def _pinned(url: str, address: str | None) -> tuple[str, dict, dict]:
    """The URL rewritten to connect to the checked address, with the Host header and TLS name of the original."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = host + (f":{parts.port}" if parts.port else "")
    headers = {"host": parts.netloc.rsplit("@", 1)[-1]}
    return urlunsplit(parts._replace(netloc=netloc)), headers, {"sni_hostname": parts.hostname}


def request(method: str, url: str, caller: Caller, field: str, *, json=None, headers: dict | None = None,
            timeout_s: float = 60.0) -> httpx.Response:
    """One HTTP call under the policy; redirects are followed (at most MAX_REDIRECTS), each one checked again."""
    timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            url, address = checked_address(url, caller, field)
            target, host_header, extensions = _pinned(url, address)
            response = client.request(method, target, json=json, headers={**(headers or {}), **host_header},
                                      extensions=extensions)
            if response.status_code not in (301, 302, 303, 307, 308) or "location" not in response.headers:
                return response
            url = urljoin(url, response.headers["location"])
            if response.status_code == 303:
                method, json = "GET", None
    raise LabError("The endpoint redirected too many times.", "Give the API's final base URL.", field)
