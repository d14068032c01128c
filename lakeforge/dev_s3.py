"""A local S3 API for development, tests and benchmarks: moto's server on 127.0.0.1.

:class:`LocalS3Server` is moto's own WSGI application (the one ``ThreadedMotoServer`` serves)
with three additions that server lacks:

* HTTP/1.1 keep-alive: it is served by cheroot (CherryPy's WSGI server), not by werkzeug's
  development server, which closes the connection after every response. A main-job run on an
  S3 lake makes about 2,500 S3 requests; over HTTPS each of them was a new TLS handshake, ~20 s
  of a 160 s run (docs/benchmarks.md). One difference from ``ThreadedMotoServer``: moto's
  request handler keeps a header's underscores (S3 metadata keys such as ``x-amz-meta-a_b``),
  cheroot's WSGI environ, like every WSGI server's, folds them into dashes.

* ``https=True`` serves TLS with a fresh self-signed certificate for 127.0.0.1. S3A's AWS SDK
  sends SSE-KMS requests over HTTPS only, so SSE on Spark's writes can only be exercised this
  way; :attr:`ca_bundle` (for boto3: ``AWS_CA_BUNDLE``) and :attr:`truststore` (for the JVM:
  :func:`trust_in_jvm`) make clients accept it.
* :attr:`requests` counts the requests it served by kind (``PUT``, ``PUT copy``, ``GET list``,
  ``POST uploads``...): how the publish benchmark and docs/publish.md count S3 requests.

moto keeps every bucket in memory for the process: stopping the server does not clear them.

Example::

    with LocalS3Server() as server:
        os.environ["LAKEFORGE_AWS_ENDPOINT_URL"] = server.endpoint
"""

from __future__ import annotations

import collections
import datetime
import ipaddress
import logging
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

TRUSTSTORE_PASSWORD = "lakeforge"  # a throwaway store holding one public certificate


class LocalS3Server:
    """moto's S3 (and KMS, Glue, ...) API on ``host:port`` (0: a free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, https: bool = False,
                 keep_alive: bool = True) -> None:
        """``keep_alive=False`` answers every request with ``Connection: close``, as werkzeug's
        server does (benchmarks/s3_main_job.py measures what that costs)."""
        self.host, self.port, self.https, self.keep_alive = host, port, https, keep_alive
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self.ca_bundle: str | None = None
        self.truststore: str | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalS3Server: call start() first")
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self.host}:{self._server.bind_addr[1]}"

    def start(self) -> LocalS3Server:
        from cheroot import wsgi
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            with self._lock:
                self.requests[request_kind(environ)] += 1
            if self.keep_alive:
                return app(environ, start_response)

            def closing(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                return start_response(status, [*headers, ("Connection", "close")], *exc)

            return app(environ, closing)

        if self.port:
            # fail with OSError on a busy port, before any thread starts
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((self.host, self.port))
        class Server(wsgi.Server):  # type: ignore[misc]
            def error_log(self, msg: str = "", level: int = logging.INFO,
                          traceback: bool = False) -> None:
                # a client's dropped connection or refused certificate: not worth stderr
                log.log(level if level >= logging.WARNING else logging.DEBUG, "%s", msg,
                        exc_info=traceback)

        server = Server((self.host, self.port), counting, numthreads=16,
                        server_name="lakeforge-local-s3")
        if self.https:
            from cheroot.ssl.builtin import BuiltinSSLAdapter

            cert, key = self._tls()
            server.ssl_adapter = BuiltinSSLAdapter(cert, key)
        server.prepare()  # binds: bind_addr now holds the port
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="lakeforge-local-s3",
                                        daemon=True)
        self._thread.start()
        log.info("local S3 API at %s", self.endpoint)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._thread is not None:
            self._thread.join(10)
        if self._folder is not None:
            self._folder.cleanup()
        self._server = self._thread = self._folder = None

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def total_requests(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _tls(self) -> tuple[str, str]:
        """A fresh self-signed certificate for the host: (certificate, key) PEM files, and the
        CA bundle and JVM trust store that trust it."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self._folder = tempfile.TemporaryDirectory(prefix="lakeforge-s3-tls-")
        folder = Path(self._folder.name)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.host)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(self.host)),
                     x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        cert_pem, key_pem = folder / "cert.pem", folder / "key.pem"
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.TraditionalOpenSSL,
                                              serialization.NoEncryption()))
        store = folder / "truststore.p12"
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "lakeforge-local-s3",
                        "-file", str(cert_pem), "-keystore", str(store), "-storetype", "PKCS12",
                        "-storepass", TRUSTSTORE_PASSWORD], check=True, capture_output=True)
        self.ca_bundle, self.truststore = str(cert_pem), str(store)
        return str(cert_pem), str(key_pem)


def local_s3_env_file(path: Path, *, bucket: str, endpoint: str, metastore_dir: Path,
                      kms_key_id: str | None = None, spark: dict[str, Any] | None = None
                      ) -> Path:
    """Write conf/envs/local_s3.yaml to ``path`` with its lake in ``bucket`` on ``endpoint``
    (a :class:`LocalS3Server`'s), its Derby metastore in ``metastore_dir``, SSE-KMS with
    ``kms_key_id`` when given, and ``spark`` merged into its ``spark`` section."""
    import yaml

    from lakeforge.config import conf_dir

    env = yaml.safe_load((conf_dir() / "envs" / "local_s3.yaml").read_text(encoding="utf-8"))
    env["lake"]["root"] = f"s3://{bucket}/lake"
    env["aws"]["endpoint_url"] = endpoint
    if kms_key_id:
        env["aws"].update({"sse": "SSE-KMS", "kms_key_id": kms_key_id})
    env["spark"].update({"metastore_dir": str(metastore_dir), **(spark or {})})
    path.write_text(yaml.safe_dump(env), encoding="utf-8")
    return path


def request_kind(environ: dict[str, Any]) -> str:
    """``PUT``, ``PUT copy`` (a server-side copy: S3A's rename), ``GET list``, ``POST delete``
    (a multi-object delete), ``POST uploads`` / ``PUT part`` / ``POST complete`` (multipart)."""
    method = environ["REQUEST_METHOD"]
    query = environ.get("QUERY_STRING", "")
    params = {p.split("=", 1)[0] for p in query.split("&") if p}
    if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return "PUT copy"
    if "list-type" in params or (method == "GET" and "prefix" in params
                                 and "uploads" not in params):
        return "GET list"
    if "uploads" in params:
        return f"{method} uploads"
    if "uploadId" in params:
        return {"PUT": "PUT part", "POST": "POST complete"}.get(method, f"{method} upload")
    if "delete" in params:
        return f"{method} delete"
    return method


def jvm_trust_properties(truststore: str) -> dict[str, str]:
    """The JVM system properties that make it trust the server's certificate (S3A reads them
    when it opens a connection pool)."""
    return {"javax.net.ssl.trustStore": truststore,
            "javax.net.ssl.trustStorePassword": TRUSTSTORE_PASSWORD,
            "javax.net.ssl.trustStoreType": "PKCS12"}


def jvm_trust_options(truststore: str) -> str:
    """:func:`jvm_trust_properties` as JVM options (``JDK_JAVA_OPTIONS`` of a new JVM)."""
    return " ".join(f"-D{k}={v}" for k, v in jvm_trust_properties(truststore).items())


def trust_in_jvm(spark: Any, truststore: str) -> dict[str, str | None]:
    """Make a running JVM trust the server's certificate (:func:`jvm_trust_properties`).
    Returns the previous values for :func:`restore_jvm_trust`."""
    system = spark.sparkContext._jvm.java.lang.System
    wanted = jvm_trust_properties(truststore)
    before = {key: system.getProperty(key) for key in wanted}
    for key, value in wanted.items():
        system.setProperty(key, value)
    return before


def restore_jvm_trust(spark: Any, before: dict[str, str | None]) -> None:
    system = spark.sparkContext._jvm.java.lang.System
    for key, value in before.items():
        if value is None:
            system.clearProperty(key)
        else:
            system.setProperty(key, value)
