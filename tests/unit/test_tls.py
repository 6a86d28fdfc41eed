"""The embedded cluster's credentials: a CA and a server certificate it signs for the loopback names (and any
extra address), a token, all private and kept across restarts; bearer tokens read as the real server reads them;
private state files written in one place."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from engine import paths
from engine.cluster import kubeconfig
from engine.cluster.embedded import tls


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _names(cert: x509.Certificate) -> set[str]:
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name) for name in sans.get_values_for_type(x509.IPAddress)} | set(
        sans.get_values_for_type(x509.DNSName)
    )


def test_first_start_makes_a_ca_a_server_certificate_and_a_token_all_private(tmp_path: Path) -> None:
    made = tls.ensure(tmp_path)
    ca, server = _cert(tmp_path / tls.CA_CERT), _cert(tmp_path / tls.SERVER_CERT)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    assert isinstance(server.public_key(), ec.EllipticCurvePublicKey)
    assert server.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert _names(server) == {"127.0.0.1", "::1", "localhost"}
    assert len(made.token) >= 32 and made.ca_pem == (tmp_path / tls.CA_CERT).read_bytes()
    for name in (tls.CA_CERT, tls.CA_KEY, tls.SERVER_CERT, tls.SERVER_KEY, tls.TOKEN_FILE, tls.LOCK_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def test_a_restart_reuses_everything_so_kubeconfigs_stay_valid(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path)
    files = {name: (tmp_path / name).read_bytes() for name in (tls.CA_CERT, tls.SERVER_CERT, tls.TOKEN_FILE)}
    again = tls.ensure(tmp_path)
    assert again == first
    assert {name: (tmp_path / name).read_bytes() for name in files} == files
    assert tls.read_client_credentials(tmp_path) == (first.ca_pem, first.token)
    assert not tls.missing(tmp_path)


def test_an_extra_listen_address_gets_a_new_server_certificate_from_the_same_ca(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path)
    widened = tls.ensure(tmp_path, ["172.18.0.1"])
    assert widened.ca_pem == first.ca_pem and widened.token == first.token
    server = _cert(tmp_path / tls.SERVER_CERT)
    assert _names(server) == {"127.0.0.1", "::1", "localhost", "172.18.0.1"}
    server.verify_directly_issued_by(_cert(tmp_path / tls.CA_CERT))


def test_nothing_is_made_before_the_first_start(tmp_path: Path) -> None:
    assert tls.read_client_credentials(tmp_path) is None
    assert tls.missing(tmp_path)


def test_a_damaged_ca_is_a_clear_error(tmp_path: Path) -> None:
    tls.ensure(tmp_path)
    (tmp_path / tls.CA_KEY).write_text("not a key")
    with pytest.raises(tls.TLSError, match=r"cannot be read .*`cluster down --purge` resets it"):
        tls.ensure(tmp_path, ["10.0.0.1"])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer secret-token", True),
        ("bearer secret-token", True),
        ("  Bearer   secret-token  ", True),
        ("Bearer wrong", False),
        ("Bearer secret-token extra", False),
        ("Bearer", False),
        ("Basic c2VjcmV0LXRva2Vu", False),
        ("secret-token", False),
        ("", False),
        (None, False),
    ],
)
def test_bearer_tokens_are_read_as_the_real_server_reads_them(header: str | None, expected: bool) -> None:
    assert tls.bearer_matches(header, "secret-token") is expected


def test_no_token_configured_matches_nothing() -> None:
    assert tls.bearer_matches("Bearer ", "") is False


def test_only_health_and_version_are_public() -> None:
    for path in ("/healthz", "/livez", "/readyz", "/version", "/readyz/ping", "/version/"):
        assert tls.is_public(path), path
    for path in ("/", "/api", "/apis", "/openapi/v3", "/healthzz", "/api/v1/namespaces", "/versions"):
        assert not tls.is_public(path), path


def test_clients_trusting_the_ca_reach_the_server_by_every_name(tmp_path: Path) -> None:
    made = tls.ensure(tmp_path)

    async def handshake(name: str) -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=made.server_context())
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=tls.client_context(made.ca_pem), server_hostname=name
            )
            data = await reader.read()
            writer.close()
            return data.decode()
        finally:
            server.close()
            await server.wait_closed()

    for name in ("127.0.0.1", "localhost", "::1"):
        assert asyncio.run(handshake(name)) == "hello"
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(handshake("example.com"))


def test_the_kubeconfig_carries_the_ca_and_the_token() -> None:
    import base64

    import yaml

    doc = yaml.safe_load(kubeconfig.render("c", "https://127.0.0.1:1", "work", ca_pem=b"PEM", token="t0k"))
    assert doc["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:1",
        "certificate-authority-data": base64.b64encode(b"PEM").decode(),
    }
    assert doc["users"][0]["user"] == {"token": "t0k"}
    assert doc["contexts"][0]["context"]["namespace"] == "work"
    plain = yaml.safe_load(kubeconfig.render("c", "https://127.0.0.1:1"))
    assert plain["users"][0]["user"] == {} and "certificate-authority-data" not in plain["clusters"][0]["cluster"]


# Private state ----------------------------------------------------------------------------------------------------


def test_private_files_never_exist_with_wider_rights(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = tmp_path / "fresh" / "deeper" / "secret"
        paths.write_private(target, "one")
        assert target.read_text() == "one"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        for folder in (tmp_path / "fresh", tmp_path / "fresh" / "deeper"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        target.chmod(0o644)
        paths.write_private(target, b"two")
        assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o600
        assert sorted(p.name for p in target.parent.iterdir()) == ["secret"]  # no temporary left behind
    finally:
        os.umask(old)


def test_private_folders_and_files_are_created_or_tightened(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        opened = tmp_path / "open"
        opened.mkdir(mode=0o755)
        opened.chmod(0o755)
        assert paths.private_dir(opened) == opened
        assert stat.S_IMODE(opened.stat().st_mode) == 0o700
        database = paths.private_file(tmp_path / "state" / "db.sqlite3")
        assert database.read_bytes() == b"" and stat.S_IMODE(database.stat().st_mode) == 0o600
        database.write_bytes(b"kept")
        database.chmod(0o644)
        paths.private_file(database)
        assert database.read_bytes() == b"kept" and stat.S_IMODE(database.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_the_home_folder_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLAB_HOME", str(tmp_path / "home"))
    assert stat.S_IMODE(paths.home().stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.cluster_dir("c").stat().st_mode) == 0o700
    (tmp_path / "home").chmod(0o755)
    assert stat.S_IMODE(paths.home().stat().st_mode) == 0o700


def test_private_umask_covers_what_libraries_create(tmp_path: Path) -> None:
    old = paths.private_umask()
    try:
        (tmp_path / "made-by-a-library").write_text("x")
        (tmp_path / "folder").mkdir()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "made-by-a-library").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o700


def test_an_ip_name_is_an_ip_san(tmp_path: Path) -> None:
    tls.ensure(tmp_path, ["fd00::1"])
    sans = _cert(tmp_path / tls.SERVER_CERT).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("fd00::1") in sans.get_values_for_type(x509.IPAddress)
    assert "fd00::1" not in sans.get_values_for_type(x509.DNSName)
