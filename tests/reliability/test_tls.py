"""TLS, the RDS path: ``sslmode=verify-full`` with the right CA works, a wrong CA or host name does not.

A throw-away cluster with a server certificate for ``localhost`` and ``127.0.0.1`` from a test CA,
and a ``pg_hba.conf`` that only accepts TLS (like RDS with ``rds.force_ssl = 1``). The pgserver wheel
is built without OpenSSL, so the server binaries come from an installed PostgreSQL built with it
(``BANKING_TLS_PG_BINDIR``, or found on PATH / in /usr/lib/postgresql); without one the tests fail.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from banking import db, tasks
from tests.helpers import DAY
from tests.reliability.cluster import Cluster, create_cluster, ssl_bindir
from tests.reliability.helpers import CONN_ENV, reconcile, run_window, set_settings_env, window_of

ADMIN_PASSWORD = "test-only-tls-admin-password"
DBNAME = "banking"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A certificate for ``localhost`` and ``127.0.0.1`` (and no other name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Tls:
    cluster: Cluster
    ca: Path  # the CA that signed the server certificate
    other_ca: Path  # a CA that did not

    def connect(self, **params: str) -> psycopg.Connection:
        return psycopg.connect(self.cluster.conninfo(DBNAME, **params), autocommit=True)


@pytest.fixture(scope="module")
def tls() -> Iterator[Tls]:
    bindir = ssl_bindir()
    if bindir is None:
        pytest.fail(
            "no PostgreSQL built with OpenSSL was found (the pgserver wheel has none): install one "
            "(e.g. apt-get install postgresql) or set BANKING_TLS_PG_BINDIR to its bin folder"
        )
    root = Path(tempfile.mkdtemp(prefix="banking-tls-"))
    root.chmod(0o755)
    ca_key, ca = make_ca("Banking test CA")
    _, other = make_ca("Some other CA")
    key, cert = make_server_cert(ca_key, ca)
    (root / "ca.pem").write_bytes(_pem(ca))
    (root / "other-ca.pem").write_bytes(_pem(other))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cluster = create_cluster(
        bindir, root / "pg", ADMIN_PASSWORD, tls_files={"server.crt": _pem(cert), "server.key": key_pem}
    )
    try:
        with psycopg.connect(cluster.conninfo(sslmode="require"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
        yield Tls(cluster, root / "ca.pem", root / "other-ca.pem")
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_default_root_cert(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """libpq must not find a ~/.postgresql/root.crt of this machine."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)


def _ssl_of(conn: psycopg.Connection) -> tuple[bool, str]:
    return conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_full_with_the_right_ca_connects_over_tls(tls: Tls, host: str) -> None:
    with tls.connect(host=host, sslmode="verify-full", sslrootcert=str(tls.ca)) as conn:
        ssl, version = _ssl_of(conn)
        assert ssl and version in ("TLSv1.2", "TLSv1.3")
        assert conn.pgconn.ssl_in_use


def test_a_server_signed_by_another_ca_is_refused(tls: Tls) -> None:
    for mode in ("verify-full", "verify-ca"):
        with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
            tls.connect(host="localhost", sslmode=mode, sslrootcert=str(tls.other_ca))


def test_a_host_name_not_in_the_certificate_is_refused(tls: Tls) -> None:
    """Reaching the right server under another name (a wrong DNS entry, a proxy) fails verify-full."""
    wrong_name = {"host": "db.example.invalid", "hostaddr": "127.0.0.1", "sslrootcert": str(tls.ca)}
    with pytest.raises(psycopg.OperationalError, match='does not match host name "db.example.invalid"'):
        tls.connect(sslmode="verify-full", **wrong_name)
    with tls.connect(sslmode="verify-ca", **wrong_name) as conn:  # why verify-ca is not enough
        assert _ssl_of(conn)[0]


def test_verify_full_without_a_ca_file_is_refused(tls: Tls, tmp_path: Path) -> None:
    with pytest.raises(psycopg.OperationalError, match="root certificate file .* does not exist"):
        tls.connect(host="localhost", sslmode="verify-full")


def test_require_encrypts_without_verifying(tls: Tls) -> None:
    with tls.connect(host="localhost", sslmode="require") as conn:
        assert _ssl_of(conn)[0]


def test_plaintext_is_refused(tls: Tls) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        tls.connect(host="localhost", sslmode="disable")


def test_airflow_connection_with_verify_full_runs_the_pipeline(
    tls: Tls, monkeypatch: pytest.MonkeyPatch, airflow_home: Path
) -> None:
    """``AIRFLOW_CONN_BANKING_DB`` with ``?sslmode=verify-full&sslrootcert=...``: the tasks run over TLS."""
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    set_settings_env(monkeypatch)
    base = f"postgresql://postgres:{ADMIN_PASSWORD}@localhost:{tls.cluster.port}/{DBNAME}"
    monkeypatch.setenv(
        CONN_ENV, f"{base}?sslmode=verify-full&sslrootcert={quote(str(tls.other_ca), safe='/')}"
    )
    with pytest.raises(db.DatabaseConfigError, match="certificate verify failed") as refused:
        db.hook_connection()
    assert "sslmode" in str(refused.value) and CONN_ENV in str(refused.value)

    monkeypatch.setenv(CONN_ENV, f"{base}?sslmode=verify-full&sslrootcert={quote(str(tls.ca), safe='/')}")
    with db.hook_connection() as conn:
        assert _ssl_of(conn)[0] and conn.info.get_parameters()["sslmode"] == "verify-full"
    tasks.set_up_schema(DAY, days_ahead=0)
    manifest = run_window(DAY.replace(hour=10), "scheduled__tls")
    with db.hook_connection() as conn:
        check = reconcile(conn, [window_of(manifest)])
    assert check.problems == [] and check.rows == manifest["rows"] > 0
