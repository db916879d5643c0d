"""Bringing a snapshot to a local file: `file://` paths inside `snapshots_path`, http(s) URLs.

A `file://` location must resolve (symlinks followed) to a file inside the
snapshots directory, as Qdrant requires.  An http(s) location is streamed to
a temporary file under `temp_path`, hashed on the way.

With `storage.snapshots_config.recovery_url_allowlist` set, a URL's host
must match an entry (a host name, `*.domain`, an IP address or a CIDR
network), and every address the host resolves to must be public unless an
IP/CIDR entry names it: loopback, link-local (cloud metadata), private,
unspecified and multicast addresses are refused.  The connection goes to the
address that was checked, and redirects are not followed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from vectorizer.common.errors import BadRequest, ValidationError, VectorizerError
from vectorizer.storage.snapshots.archive import CHUNK, free_bytes, sha256_file
from vectorizer.storage.snapshots.store import SnapshotStore

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class Forbidden(VectorizerError):
    """A location this server will not read from (403)."""

    status_code = 403
    prefix = "Forbidden: "
    grpc_code = "PERMISSION_DENIED"


def check_checksum_param(checksum: str | None, where: str = "JSON body") -> str | None:
    """Qdrant's validation of the `checksum` parameter: 64 hex digits, else 422."""
    if checksum is None:
        return None
    if not _SHA256.fullmatch(checksum):
        raise ValidationError(f"Validation error in {where}: [checksum: invalid_sha256_hash]")
    return checksum.lower()


class ChecksumMismatch(VectorizerError):
    """A snapshot whose sha256 is not the one the caller gave (400, Qdrant's message)."""

    status_code = 400
    prefix = ""
    grpc_code = "INVALID_ARGUMENT"


def verify_checksum(actual: str, expected: str | None) -> None:
    """Refuse a snapshot whose sha256 differs from `expected`.

    The message is Qdrant's, which names the archive's hash "expected" and the
    caller's "actual".
    """
    if expected is not None and actual.lower() != expected.lower():
        raise ChecksumMismatch(f"Checksum mismatch: expected {actual}, actual {expected}")


def local_path(store: SnapshotStore, location: str) -> Path:
    """The snapshot file a `file://` location names, if it is inside `snapshots_path`."""
    parts = urlsplit(location)
    if parts.netloc not in ("", "localhost"):
        raise BadRequest(f"Invalid snapshot location {location}: a file URL has no host")
    path = Path(unquote(parts.path))
    if not path.is_absolute() or not store.contains(path):
        raise Forbidden(f"Snapshot file {location} must be a file inside the snapshots "
                        "directory")
    return path.resolve()


@dataclass
class Allowlist:
    """Hosts and networks recovery URLs may point at."""

    hosts: list[str]
    networks: list[IpNetwork]

    @classmethod
    def parse(cls, entries: list[str]) -> Allowlist:
        hosts, networks = [], []
        for entry in entries:
            entry = str(entry).strip().lower()
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.append(entry)
        return cls(hosts, networks)

    def _host_listed(self, host: str) -> bool:
        for entry in self.hosts:
            if entry.startswith("*.") and (host.endswith(entry[1:]) or host == entry[2:]):
                return True
            if host == entry:
                return True
        return False

    def _ip_listed(self, ip: IpAddress) -> bool:
        return any(ip in net for net in self.networks)

    def check(self, host: str, port: int) -> IpAddress:
        """The address to connect to, or Forbidden."""
        host = host.lower().strip("[]")
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is None and not self._host_listed(host):
            raise Forbidden(f"host {host} is not in storage.snapshots_config."
                            "recovery_url_allowlist")
        if literal is not None and not self._ip_listed(literal) and not self._host_listed(host):
            raise Forbidden(f"address {host} is not in storage.snapshots_config."
                            "recovery_url_allowlist")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise BadRequest(f"cannot resolve snapshot host {host}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        for ip in addresses:
            special = ip.is_loopback or ip.is_link_local or ip.is_private or \
                ip.is_unspecified or ip.is_multicast or ip.is_reserved
            if special and not self._ip_listed(ip):
                raise Forbidden(f"host {host} resolves to {ip}, a loopback, link-local or "
                                "private address not named in storage.snapshots_config."
                                "recovery_url_allowlist")
        return addresses[0]


@contextmanager
def download(store: SnapshotStore, url: str, api_key: str | None,
             allowlist: Allowlist | None, timeout: float = 60.0,
             ) -> Iterator[tuple[Path, str]]:
    """Stream `url` into a temporary file; yield (path, sha256)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"Invalid snapshot location {url}: expected an http(s) or file URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    headers = {"api-key": api_key} if api_key else {}
    extensions = {}
    target = url
    if allowlist is not None:
        ip = allowlist.check(parts.hostname, port)
        netloc = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        headers["host"] = parts.netloc.rsplit("@", 1)[-1]
        if parts.scheme == "https":
            extensions["sni_hostname"] = parts.hostname
    with store.temp_file("download") as path:
        digest = hashlib.sha256()
        try:
            with httpx.Client(timeout=timeout, follow_redirects=allowlist is None) as client, \
                    client.stream("GET", target, headers=headers,
                                  extensions=extensions) as resp:
                if resp.status_code != 200:
                    raise BadRequest(f"Failed to download snapshot from {url}: "
                                     f"HTTP status {resp.status_code}")
                limit = max(free_bytes(store.temp) - (64 << 20), 0)
                written = 0
                with open(path, "wb") as out:
                    for chunk in resp.iter_bytes(CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise BadRequest(f"Snapshot at {url} is larger than the free "
                                             "space in temp_path")
                        digest.update(chunk)
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise BadRequest(f"Failed to download snapshot from {url}: {exc}") from None
        yield path, digest.hexdigest()


@contextmanager
def fetch(store: SnapshotStore, location: str, api_key: str | None,
          allowlist: Allowlist | None, checksum: str | None) -> Iterator[Path]:
    """The snapshot at `location` as a local file, checksum-verified when one is given."""
    scheme = urlsplit(location).scheme.lower()
    if scheme == "file":
        path = local_path(store, location)
        if checksum is not None:
            verify_checksum(sha256_file(path), checksum)
        yield path
        return
    if scheme not in ("http", "https"):
        raise BadRequest(f"Invalid snapshot location {location}: expected an http(s) URL or "
                         "a file:// path")
    with download(store, location, api_key, allowlist) as (path, actual):
        verify_checksum(actual, checksum)
        yield path
