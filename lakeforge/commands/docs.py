"""``lakeforge docs build [--env ENV] [--open]``: write the lake site (runs, tables, quality,
matches) under ``<lake>/metadata/site/``, local or s3://. No Spark: it reads the run
summaries, quarantine records and the metrics repository."""

from __future__ import annotations

import argparse
import logging

from lakeforge.commands import add_env_option
from lakeforge.errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "docs",
        help="the lake site: static pages of runs, tables, quality metrics and matches",
        description="Static HTML pages of the lake's runs, tables, quality metrics and "
        "matches, under <lake>/metadata/site/ (a local folder or s3://). The lifecycle "
        "updates the site after every run; `docs build` rebuilds every page.",
    )
    actions = p.add_subparsers(dest="docs_action", metavar="ACTION")
    build = actions.add_parser("build", help="rebuild every page of the site",
                               description="Rebuild every page of the lake site and print "
                               "the index's path.")
    add_env_option(build)
    build.add_argument("--open", action="store_true",
                       help="open the index in the default web browser (a local site only)")
    build.set_defaults(func=_build)
    p.set_defaults(func=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _build(args: argparse.Namespace) -> int:
    from lakeforge.config import load_env
    from lakeforge.paths import Lake, is_remote
    from lakeforge.site import build_site, index_uri

    lake = Lake.from_env(load_env(args.env))
    if args.open and is_remote(index_uri(lake)):
        raise ConfigError(f"--open: the site is at {index_uri(lake)}, not a local file; "
                          "open it through the bucket's static website endpoint")
    index = build_site(lake)
    print(f"site: {index}")
    if args.open:
        import webbrowser
        from pathlib import Path

        if not webbrowser.open(Path(index).resolve().as_uri()):
            log.warning("no web browser to open %s", index)
    return 0
