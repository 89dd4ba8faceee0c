"""Certificates for TLS tests, made fresh in a temporary folder: a certificate authority that
stands for the exchange's, a server certificate it signed for 127.0.0.1 (and localhost), one it
signed for another host name, and a second, unrelated authority whose bundle must not be
trusted. Test material only."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_bundle: Path  # the authority that signed the server's certificate
    other_bundle: Path  # an authority that did not
    server_cert: Path
    server_key: Path
    other_host_cert: Path  # signed by the same authority, for exchange.example only
    other_host_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _authority(common: str, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey,
                                                      x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _server(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, now: dt.datetime,
            names: list[x509.GeneralName]) -> tuple[ec.EllipticCurvePrivateKey,
                                                    x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name(str(names[0].value)))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))
    return key, cert


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls_files(folder: Path) -> TlsFiles:
    """Write both bundles and the servers' certificates and keys into `folder`."""
    now = dt.datetime.now(dt.UTC)
    ca_key, ca_cert = _authority("Test exchange authority", now)
    _other_key, other_cert = _authority("Unrelated authority", now)
    server_key, server_cert = _server(ca_key, ca_cert, now, [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    elsewhere_key, elsewhere_cert = _server(ca_key, ca_cert, now,
                                            [x509.DNSName("exchange.example")])
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(ca_bundle=folder / "exchange-ca.pem", other_bundle=folder / "other-ca.pem",
                     server_cert=folder / "server.pem", server_key=folder / "server.key",
                     other_host_cert=folder / "elsewhere.pem",
                     other_host_key=folder / "elsewhere.key")
    files.ca_bundle.write_bytes(_pem(ca_cert))
    files.other_bundle.write_bytes(_pem(other_cert))
    files.server_cert.write_bytes(_pem(server_cert))
    files.server_key.write_bytes(_key_pem(server_key))
    files.other_host_cert.write_bytes(_pem(elsewhere_cert))
    files.other_host_key.write_bytes(_key_pem(elsewhere_key))
    return files
