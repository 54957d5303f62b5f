"""HTTPS for the local runtime: TD's `fetchPersonalization` always builds an `https://` URL.

On first start the runtime makes a self-signed certificate for 127.0.0.1 and localhost under its
state directory and keeps it for later starts (a browser told to trust it once stays trusting)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

from devserver.api_server import ApiServer

VALID_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=7)
HANDSHAKE_SECONDS = 10


def certificate(state_dir: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) under `state_dir/tls`, made when missing or about to expire."""
    folder = state_dir / "tls"
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.exists() and key.exists() and _still_valid(cert)):
        folder.mkdir(parents=True, exist_ok=True)
        cert_pem, key_pem = _self_signed()
        key.touch(mode=0o600)
        key.write_bytes(key_pem)
        cert.write_bytes(cert_pem)
    return cert, key


def _still_valid(cert: Path) -> bool:
    from cryptography import x509

    try:
        loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    except ValueError:
        return False
    return loaded.not_valid_after_utc - RENEW_BEFORE > datetime.datetime.now(datetime.UTC)


def _self_signed() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Activation Gateway local runtime")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class HttpsApiServer(ApiServer):
    """The same API front over TLS. The handshake runs in the connection's own thread, so a
    client that stalls in it never holds up the accept loop."""

    def __init__(self, *args: Any, cert: Path, key: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert, key)

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"https://{host}:{port}"

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        return self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_SECONDS)
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return  # e.g. a client that does not trust the certificate hangs up
        request.settimeout(None)
        super().finish_request(request, client_address)
