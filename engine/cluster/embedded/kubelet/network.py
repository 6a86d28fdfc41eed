"""Pod IPs from the cluster's pod network, handed out the way kind's CNI does: unique, round-robin."""

from __future__ import annotations

import ipaddress

POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")


class NetworkExhausted(Exception):
    """Every address of the pod network is in use."""


class PodNetwork:
    """Which pod has which IP. Addresses are not reused right away: the next one after the last handed out."""

    def __init__(self) -> None:
        self._by_uid: dict[str, int] = {}
        self._used: set[int] = set()
        self._last = int(POD_NETWORK.network_address) + 1

    def adopt(self, uid: str, ip: str) -> None:
        """Take note of an address a pod already had (after a daemon restart)."""
        try:
            address = int(ipaddress.ip_address(ip))
        except ValueError:
            return
        if ipaddress.ip_address(address) not in POD_NETWORK or address in self._used:
            return
        self.release(uid)
        self._by_uid[uid] = address
        self._used.add(address)
        self._last = max(self._last, address)

    def allocate(self, uid: str) -> str:
        """The pod's address, allocating one on first use."""
        if uid in self._by_uid:
            return str(ipaddress.ip_address(self._by_uid[uid]))
        first = int(POD_NETWORK.network_address)
        size = POD_NETWORK.num_addresses
        for step in range(1, size):
            address = first + (self._last - first + step) % size
            if address % 256 in (0, 1, 255) or address in self._used:
                continue
            self._last = address
            self._by_uid[uid] = address
            self._used.add(address)
            return str(ipaddress.ip_address(address))
        raise NetworkExhausted(f"no IP addresses available in range set: {POD_NETWORK}")

    def release(self, uid: str) -> None:
        address = self._by_uid.pop(uid, None)
        if address is not None:
            self._used.discard(address)

    def ip_of(self, uid: str) -> str | None:
        address = self._by_uid.get(uid)
        return None if address is None else str(ipaddress.ip_address(address))
