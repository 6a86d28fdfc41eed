"""The embedded cluster's credentials: a per-cluster CA, a server certificate it signs, and a bearer token.

Made at the cluster's first start and kept in its state folder (readable by the owner only), so kubeconfigs
handed out earlier stay valid across restarts. The server certificate is issued again, by the same CA, only
when the daemon is asked to listen on an address it does not name. `cryptography` is imported only when
something must be made: a restart only reads files.
"""

from __future__ import annotations

import datetime
import fcntl
import hmac
import ipaddress
import json
import os
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import paths

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"
TOKEN_FILE = "token"
LOCK_FILE = "tls.lock"  # one maker at a time: `cluster up` makes them while the daemon it started loads
HOSTS_FILE = "server-hosts.json"  # the names the server certificate holds, so a restart need not parse it
DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")
CA_DAYS = 3650
SERVER_DAYS = 3650
# What the real server's system:public-info-viewer role lets anyone read.
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
PUBLIC_PREFIXES = ("/healthz/", "/livez/", "/readyz/", "/version/")


class TLSError(Exception):
    """The cluster's certificate files are unreadable or damaged."""


@dataclass(frozen=True)
class ClusterCredentials:
    """Where the server's certificate and key are, the CA clients must trust, and the token they must send."""

    ca_pem: bytes
    token: str
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        """The TLS settings the API server listens with."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.server_cert, self.server_key)
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"cannot load the server certificate {self.server_cert}: {err}") from None
        context.set_alpn_protocols(["http/1.1"])
        return context

    def authorized(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries this cluster's token (compared in constant time)."""
        return bearer_matches(header, self.token)


def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, the scheme in any case, as the real server reads it."""
    if not header or not token:
        return False
    parts = header.strip().split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return False
    return hmac.compare_digest(parts[1].encode(), token.encode())


def is_public(path: str) -> bool:
    """Paths answered without a token: health and version, as the real server serves them to anyone."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts only the cluster's CA (for the command line's own health probe)."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    return context


def read_client_credentials(state: Path) -> tuple[bytes, str] | None:
    """The CA certificate (PEM) and token a kubeconfig needs, or None before the cluster first started."""
    try:
        return (state / CA_CERT).read_bytes(), (state / TOKEN_FILE).read_text().strip()
    except OSError:
        return None


def ensure(state: Path, hosts: Sequence[str] = ()) -> ClusterCredentials:
    """The cluster's credentials, made where missing; the server certificate names `DEFAULT_HOSTS` and `hosts`."""
    wanted = _unique([*DEFAULT_HOSTS, *hosts])
    with os.fdopen(os.open(state / LOCK_FILE, os.O_WRONLY | os.O_CREAT, paths.PRIVATE_FILE_MODE), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        token = _ensure_token(state)
        if not (state / CA_CERT).exists() or not (state / CA_KEY).exists():
            _make_ca(state)
            _issue_server(state, wanted)
        elif not _covers(state, wanted):
            _issue_server(state, wanted)
        ca_pem = (state / CA_CERT).read_bytes()
    return ClusterCredentials(ca_pem, token, state / SERVER_CERT, state / SERVER_KEY)


def missing(state: Path) -> bool:
    """Whether the first start has still to make the credentials."""
    return not all((state / name).exists() for name in (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, TOKEN_FILE))


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _ensure_token(state: Path) -> str:
    path = state / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    except OSError as err:
        raise TLSError(f"cannot read the cluster's token {path}: {err.strerror or err}") from None
    if not token:
        token = secrets.token_urlsafe(32)
        paths.write_private(path, token + "\n")
    return token


def _covers(state: Path, wanted: Sequence[str]) -> bool:
    """Whether the server certificate exists and names every wanted host."""
    if not (state / SERVER_CERT).exists() or not (state / SERVER_KEY).exists():
        return False
    try:
        named = json.loads((state / HOSTS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(named, list) and set(wanted) <= set(named)


def _make_ca(state: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"driftlab-{state.name}-ca")])
    start = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - datetime.timedelta(minutes=5))
        .not_valid_after(start + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_pair(state / CA_CERT, state / CA_KEY, cert, key)


def _issue_server(state: Path, hosts: Sequence[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        ca_cert = x509.load_pem_x509_certificate((state / CA_CERT).read_bytes())
        ca_key = serialization.load_pem_private_key((state / CA_KEY).read_bytes(), password=None)
    except (OSError, ValueError) as err:
        message = f"the cluster's CA in {state} cannot be read ({err}); `cluster down --purge` resets it"
        raise TLSError(message) from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TLSError(f"the cluster's CA key in {state} is not an EC key; `cluster down --purge` resets it")
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - datetime.timedelta(minutes=5))
        .not_valid_after(start + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_pair(state / SERVER_CERT, state / SERVER_KEY, cert, key)
    paths.write_private(state / HOSTS_FILE, json.dumps(list(hosts)) + "\n")


def _general_name(host: str) -> object:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_pair(cert_path: Path, key_path: Path, cert: object, key: object) -> None:
    from cryptography.hazmat.primitives import serialization

    key_pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    paths.write_private(key_path, key_pem.decode())
    paths.write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode())  # type: ignore[attr-defined]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
