"""Client addresses in one canonical form, so an address rule sees the address however it was written.

``::ffff:10.0.0.5`` (how a dual-stack socket reports an IPv4 client), ``[fe80::1%eth0]:443`` and
``2001:DB8:0:0::1`` are the same hosts as ``10.0.0.5``, ``fe80::1`` and ``2001:db8::1``; compared as
written they slip past a block rule for those hosts.
"""
from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def parse_address(text: str) -> Address | None:
    """The host in ``text`` without port or zone, IPv4-mapped IPv6 as IPv4; None when it is no address."""
    value = text.strip()
    if value.startswith("["):  # [v6]:port
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # v4:port
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def canonical_address(text: str) -> str:
    """The address as audit events, watermarks and rules show it; text that is no address is kept
    (shortened) so the audit trail shows what was sent, and no rule lets it pass."""
    address = parse_address(text)
    return str(address) if address is not None else text.strip()[:64]


def parse_network(text: str) -> Network:
    """An address range as rules store it: host bits cleared, IPv4-mapped ranges as IPv4. ValueError if invalid."""
    network = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(network, IPv6Network) and network.subnet_of(MAPPED) and network.prefixlen >= 96:
        return ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
    return network


def parse_networks(text: str) -> tuple[Network, ...]:
    """A comma-separated list of addresses or ranges (a setting); ValueError names the bad entry."""
    networks = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(parse_network(entry))
        except ValueError as error:
            raise ValueError(f"地址或地址段格式不正确：{entry}") from error
    return tuple(networks)


def inside(address: Address | None, networks: tuple[Network, ...] | list[Network]) -> bool:
    return address is not None and any(address in network for network in networks)
