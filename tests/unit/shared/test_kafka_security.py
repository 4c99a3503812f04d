"""Connecting to a secured Kafka: the OMS_KAFKA_* TLS and SASL settings, checked together at start, and the one set
of client options every Kafka client (and the FastStream broker) gets from them.

No SASL or TLS broker runs here: these tests check the settings and the options handed to aiokafka and FastStream;
the existing Kafka integration tests show that PLAINTEXT connects exactly as before.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from oms_shared.kafka import kafka_broker_security, kafka_client_options
from oms_shared.service import ServiceRuntime
from oms_shared.settings import KafkaSettings, ServiceSettings

CONNECTION_VARIABLES = (
    "OMS_KAFKA_SECURITY_PROTOCOL",
    "OMS_KAFKA_SASL_MECHANISM",
    "OMS_KAFKA_SASL_USERNAME",
    "OMS_KAFKA_SASL_PASSWORD",
    "OMS_KAFKA_SSL_CAFILE",
    "OMS_KAFKA_SSL_CERTFILE",
    "OMS_KAFKA_SSL_KEYFILE",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONNECTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA certificate, and a client certificate with its key, as PEM files."""
    directory = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OMS test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oms-orders")]))
        .issuer_name(ca_name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": directory / "ca.pem", "cert": directory / "client.pem", "key": directory / "client.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(client.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        client_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def test_plaintext_by_default_changes_nothing() -> None:
    """Without any connection setting the clients get no extra options and the broker no security object, so a
    plaintext cluster is reached exactly as before."""
    settings = KafkaSettings()
    assert settings.security_protocol == "PLAINTEXT"
    assert kafka_client_options(settings) == {}
    assert kafka_broker_security(settings) is None


def test_blank_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ConfigMap that lists the keys with empty values still means a plaintext connection."""
    for name in CONNECTION_VARIABLES[1:]:
        monkeypatch.setenv(name, "")
    assert kafka_client_options() == {}


def test_tls_with_own_ca_and_client_certificate(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> None:
    """SSL: the brokers' certificates are verified against the given CA (host names checked) and the client
    presents its certificate (mutual TLS)."""
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("OMS_KAFKA_SSL_CAFILE", str(pki["ca"]))
    monkeypatch.setenv("OMS_KAFKA_SSL_CERTFILE", str(pki["cert"]))
    monkeypatch.setenv("OMS_KAFKA_SSL_KEYFILE", str(pki["key"]))
    options = kafka_client_options()
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    context: ssl.SSLContext = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(item[0] for item in ca["subject"]) for ca in context.get_ca_certs()] == [{"commonName": "OMS test CA"}]
    security = kafka_broker_security()
    assert type(security) is BaseSecurity and security.use_ssl and security.ssl_context is not None


def test_tls_without_ca_trusts_the_system_authorities(monkeypatch: pytest.MonkeyPatch) -> None:
    """SSL without a CA file: a managed cluster with a publicly signed certificate is verified as usual."""
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SSL")
    options = kafka_client_options()
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("mechanism", "security_class"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_options_reach_clients_and_broker_alike(
    monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path], protocol: str, mechanism: str, security_class: type
) -> None:
    """SASL with each mechanism, with and without TLS: aiokafka clients get the mechanism and credentials, and the
    FastStream broker's security object turns into exactly the same connection options."""
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("OMS_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("OMS_KAFKA_SASL_USERNAME", "oms-orders")
    monkeypatch.setenv("OMS_KAFKA_SASL_PASSWORD", "s3cret")
    if protocol == "SASL_SSL":
        monkeypatch.setenv("OMS_KAFKA_SSL_CAFILE", str(pki["ca"]))
    settings = KafkaSettings()
    options = kafka_client_options(settings)
    assert options["security_protocol"] == protocol
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        mechanism,
        "oms-orders",
        "s3cret",
    )
    assert ("ssl_context" in options) is (protocol == "SASL_SSL")
    security = kafka_broker_security(settings)
    assert type(security) is security_class
    broker_options = parse_security(security)
    # Each call builds its own TLS context (the files are read again): both have one, or neither.
    assert (broker_options.pop("ssl_context") is None) is (options.pop("ssl_context", None) is None)
    assert broker_options == options


def test_password_stays_out_of_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SASL password is a secret: the settings' repr (what a log line or a traceback shows) hides it."""
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("OMS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("OMS_KAFKA_SASL_USERNAME", "oms-orders")
    monkeypatch.setenv("OMS_KAFKA_SASL_PASSWORD", "s3cret")
    assert "s3cret" not in repr(KafkaSettings())


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"OMS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "OMS_KAFKA_SASL_MECHANISM": "PLAIN"},
            "SASL_SSL needs OMS_KAFKA_SASL_USERNAME, OMS_KAFKA_SASL_PASSWORD",
        ),
        (
            {
                "OMS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "OMS_KAFKA_SASL_USERNAME": "u",
                "OMS_KAFKA_SASL_PASSWORD": "p",
            },
            "needs OMS_KAFKA_SASL_MECHANISM",
        ),
        (
            {"OMS_KAFKA_SASL_USERNAME": "u", "OMS_KAFKA_SASL_PASSWORD": "p"},
            "SASL needs SASL_PLAINTEXT or SASL_SSL",
        ),
        ({"OMS_KAFKA_SECURITY_PROTOCOL": "SSL", "OMS_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "no such file"),
        ({"OMS_KAFKA_SECURITY_PROTOCOL": "SASL_TLS"}, "security_protocol"),
        ({"OMS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "OMS_KAFKA_SASL_MECHANISM": "GSSAPI"}, "sasl_mechanism"),
    ],
)
def test_inconsistent_settings_are_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    """Settings that cannot work together are refused when read, naming what is wrong."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        KafkaSettings()


def test_tls_files_without_tls_are_refused(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> None:
    """A CA file with a protocol that does not use TLS is a mistake, not something to ignore silently."""
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("OMS_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("OMS_KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("OMS_KAFKA_SASL_PASSWORD", "p")
    monkeypatch.setenv("OMS_KAFKA_SSL_CAFILE", str(pki["ca"]))
    with pytest.raises(ValidationError, match=r"OMS_KAFKA_SSL_CAFILE set but .*TLS needs SSL or SASL_SSL"):
        KafkaSettings()


def test_key_without_certificate_is_refused(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> None:
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("OMS_KAFKA_SSL_KEYFILE", str(pki["key"]))
    with pytest.raises(ValidationError, match="OMS_KAFKA_SSL_KEYFILE set without OMS_KAFKA_SSL_CERTFILE"):
        KafkaSettings()


def test_a_service_refuses_to_start_with_a_missing_ca_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The service's runtime reads the Kafka settings when it is built: a CA file that is not there stops it
    before it connects anywhere, with the variable and the path in the message."""
    monkeypatch.setenv("OMS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("OMS_KAFKA_SSL_CAFILE", str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ValidationError, match=r"OMS_KAFKA_SSL_CAFILE=.*missing-ca\.pem: no such file"):
        ServiceRuntime(ServiceSettings(service_name="orders"), sa.MetaData(), tmp_path, title="OMS orders")
