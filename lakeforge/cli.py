"""The ``lakeforge`` command. Subcommands live in lakeforge/commands/, one module each.

Each command module defines ``register(subparsers) -> None`` which adds its parser and sets
``func(args) -> int``. Later modules (crawl, quality, match, deploy) plug in the same way.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from lakeforge import __version__
from lakeforge.errors import LakeforgeError
from lakeforge.job import configure_logging, one_line


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse's parser, but a usage error is one ``error:`` line (argparse prints the whole
    usage block first), exit code 2. Every subcommand's parser is one too (add_subparsers makes
    its parsers of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {one_line(message)} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    import lakeforge.commands as commands

    parser = OneLineErrorParser(
        prog="lakeforge",
        description="Lakeforge: Spark ETL, Glue-style transforms, Deequ-compatible quality, "
        "fuzzy matching and features - the same jobs locally, on EMR and on Glue.",
    )
    parser.add_argument("--version", action="version", version=f"lakeforge {__version__}")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"lakeforge.commands.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if not argv else 2
    if rest and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.extra = rest
    try:
        configure_logging(args.log_level)
        return int(args.func(args))
    except LakeforgeError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
