"""``lakeforge jars fetch|path``: the jar tier's command (lakeforge/jars.py does the work).

``fetch`` makes ``.jars/<line>/<set>/`` match ``jvm/<line>/jars.lock.json`` (Maven runs only for
a set whose folder does not match); ``path SET`` prints a fetched set's jars, comma-separated,
for ``spark-submit --jars``. ``python -m lakeforge.jars ...`` is the same command.
"""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "jars", help="fetch and verify the pinned jar sets (Deequ, Delta, Iceberg, S3A)",
        description="Fetch the pinned jar sets of a Spark line into .jars/<line>/<set>/ "
        "(outside git) and check them against jvm/<line>/jars.lock.json (sha256).")
    actions = p.add_subparsers(dest="jars_action", metavar="ACTION")
    f = actions.add_parser("fetch", help="make .jars/<line>/<set>/ match the lock")
    f.add_argument("--line", help="Spark line, e.g. spark-3.5 (default: the installed pyspark's)")
    f.add_argument("--set", action="append", dest="sets",
                   help="a jar set (repeatable; default: every set of the line)")
    f.add_argument("--update-lock", action="store_true",
                   help="re-resolve and re-pin the lock (after changing a pom)")
    f.set_defaults(func=_fetch)
    path = actions.add_parser("path", help="print a fetched set's jar files, comma-separated")
    path.add_argument("set")
    path.add_argument("--line")
    path.set_defaults(func=_path)
    p.set_defaults(func=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _fetch(args: argparse.Namespace) -> int:
    from lakeforge.jars import fetch, spark_line

    # Maven's progress is what a user waits for: show the jar tier's INFO lines.
    logging.getLogger("lakeforge.jars").setLevel(logging.INFO)
    line = args.line or spark_line()
    for name, what in fetch(line, args.sets, args.update_lock).items():
        print(f"{line}/{name}: {what}")
    return 0


def _path(args: argparse.Namespace) -> int:
    from lakeforge.jars import set_jars

    print(",".join(set_jars(args.set, args.line)))
    return 0
