"""``lakeforge dev s3``: a local S3 API (moto's server) to try the lake on s3:// by hand.

It prints the endpoint and the ``export`` line for ``$LAKEFORGE_AWS_ENDPOINT_URL``, then serves
until Ctrl-C (or ``--seconds`` pass). Everything is kept in memory: stopping it forgets every
bucket. ``lakeforge run JOB --env local_s3`` in another shell then writes the whole lake to it.
"""

from __future__ import annotations

import argparse
import socket
import threading

from lakeforge.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="local development services (a moto S3 server)",
                       description="Start local stand-ins for AWS services.")
    dev = p.add_subparsers(dest="service", metavar="SERVICE", required=True)
    s3 = dev.add_parser("s3", help="start a moto S3/KMS/Glue server and print its endpoint",
                        description="Start moto's ThreadedMotoServer on HOST:PORT, print the "
                        "endpoint, serve until Ctrl-C.")
    s3.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s3.add_argument("--port", type=int, default=5000,
                    help="port (default 5000; 0 picks a free one)")
    s3.add_argument("--seconds", type=float, default=None,
                    help="stop after this many seconds instead of waiting for Ctrl-C")
    s3.set_defaults(func=_serve_s3)


def _check_free(host: str, port: int) -> None:
    """Fail with one line when HOST:PORT cannot be bound (moto's server thread would hang)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"dev s3: cannot listen on {host}:{port} ({exc.strerror}); pick "
                              "another --port") from exc


def _serve_s3(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C, ``--seconds``, or ``stop`` is set (tests)."""
    from moto.server import ThreadedMotoServer

    if args.port < 0 or args.port > 65535:
        raise ConfigError(f"dev s3 --port {args.port} is not a port number (0-65535)")
    _check_free(args.host, args.port)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    print(f"moto S3 API at {endpoint} (in memory; Ctrl-C stops it)")
    print(f"export LAKEFORGE_AWS_ENDPOINT_URL={endpoint}")
    print("export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
          "AWS_DEFAULT_REGION=us-east-1")
    waiter = stop or threading.Event()
    try:
        waiter.wait(args.seconds)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        server.stop()
    return 0
