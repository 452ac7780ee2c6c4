"""IP address functions, answered by Python's `ipaddress` through UDFs the engine registers (`IP_UDFS`).

RE2 cannot check IPv6 or subnets readably, and these are rare enough in triage queries that a per-row Python
call costs nothing that matters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from bot.logquery.functions.base import Translator, macro_call


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _valid(version: int | None) -> Callable[[str | None], bool]:
    def check(text: str | None) -> bool:
        address = _address(text)
        return address is not None and (version is None or address.version == version)
    return check


def _in_subnet(version: int | None) -> Callable[[str | None, str | None], bool]:
    def check(text: str | None, subnet: str | None) -> bool:
        address = _address(text)
        if address is None or subnet is None or (version is not None and address.version != version):
            return False
        try:
            network = ipaddress.ip_network(subnet.strip(), strict=False)
        except ValueError:
            return False
        return address.version == network.version and address in network
    return check


def _kind(test: str) -> Callable[[str | None], bool]:
    # Python's registries: is_private (RFC 1918, ULA...), is_global (publicly routable), is_reserved (IETF).
    def check(text: str | None) -> bool:
        address = _address(text)
        return address is not None and bool(getattr(address, test))
    return check


# name -> (Python function, number of VARCHAR arguments); each returns BOOLEAN.
IP_UDFS: dict[str, tuple[Callable[..., bool], int]] = {
    "li_ip_private": (_kind("is_private"), 1),
    "li_ip_public": (_kind("is_global"), 1),
    "li_ip_reserved": (_kind("is_reserved"), 1),
    "li_ip_valid": (_valid(None), 1),
    "li_ipv4_valid": (_valid(4), 1),
    "li_ipv6_valid": (_valid(6), 1),
    "li_ip_in_subnet": (_in_subnet(None), 2),
    "li_ipv4_in_subnet": (_in_subnet(4), 2),
    "li_ipv6_in_subnet": (_in_subnet(6), 2),
}

FUNCTIONS: dict[str, Translator] = {
    "isvalidip": macro_call("li_ip_valid", ("str",), "bool"),
    "isvalidipv4": macro_call("li_ipv4_valid", ("str",), "bool"),
    "isvalidipv6": macro_call("li_ipv6_valid", ("str",), "bool"),
    "isipinsubnet": macro_call("li_ip_in_subnet", ("str", "str"), "bool"),
    "isipv4insubnet": macro_call("li_ipv4_in_subnet", ("str", "str"), "bool"),
    "isipv6insubnet": macro_call("li_ipv6_in_subnet", ("str", "str"), "bool"),
    "isprivateip": macro_call("li_ip_private", ("str",), "bool"),
    "ispublicip": macro_call("li_ip_public", ("str",), "bool"),
    "isreservedip": macro_call("li_ip_reserved", ("str",), "bool"),
}
