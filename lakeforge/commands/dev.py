"""``lakeforge dev s3``: a local S3 API (moto's server) to try the lake on s3:// by hand.

It prints the endpoint and the ``export`` lines for ``$LAKEFORGE_AWS_ENDPOINT_URL``, then serves
until Ctrl-C (or ``--seconds`` pass). Everything is kept in memory: stopping it forgets every
bucket. ``lakeforge run JOB --env local_s3`` in another shell then writes the whole lake to it.
``--https`` serves TLS with a throwaway certificate (S3A sends SSE-KMS requests over HTTPS
only) and prints how boto3 (``AWS_CA_BUNDLE``) and Spark's JVM trust it.
"""

from __future__ import annotations

import argparse
import threading

from lakeforge.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="local development services (a moto S3 server)",
                       description="Start local stand-ins for AWS services.")
    dev = p.add_subparsers(dest="service", metavar="SERVICE", required=True)
    s3 = dev.add_parser("s3", help="start a moto S3/KMS/Glue server and print its endpoint",
                        description="Start moto's server on HOST:PORT, print the endpoint, "
                        "serve until Ctrl-C.")
    s3.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s3.add_argument("--port", type=int, default=5000,
                    help="port (default 5000; 0 picks a free one)")
    s3.add_argument("--https", action="store_true",
                    help="serve TLS with a self-signed certificate (needed for SSE-KMS via S3A)")
    s3.add_argument("--seconds", type=float, default=None,
                    help="stop after this many seconds instead of waiting for Ctrl-C")
    s3.set_defaults(func=_serve_s3)


def _serve_s3(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C, ``--seconds``, or ``stop`` is set (tests)."""
    import importlib

    from lakeforge.dev_s3 import LocalS3Server, jvm_trust_options

    for module in ("moto", "cheroot"):  # the dev extras: moto's app, cheroot serves it
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"dev s3 needs the Python package '{module}' ({exc}); install "
                              "the dev extras: pip install -e '.[dev]'") from exc
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"dev s3 --port {args.port} is not a port number (0-65535)")
    server = LocalS3Server(args.host, args.port, https=getattr(args, "https", False))
    try:
        server.start()
    except OSError as exc:
        raise ConfigError(f"dev s3: cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                          "pick another --port") from exc
    print(f"moto S3 API at {server.endpoint} (in memory; Ctrl-C stops it)")
    print(f"export LAKEFORGE_AWS_ENDPOINT_URL={server.endpoint}")
    print("export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
          "AWS_DEFAULT_REGION=us-east-1")
    if server.https:
        print(f"export AWS_CA_BUNDLE={server.ca_bundle}")
        print(f"export JDK_JAVA_OPTIONS='{jvm_trust_options(str(server.truststore))}'"
              "   # Spark's JVM (S3A) trusts it")
    waiter = stop or threading.Event()
    try:
        waiter.wait(args.seconds)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        server.stop()
    return 0
