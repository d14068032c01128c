"""``lakeforge bookmarks show|reset|unlock JOB``: inspect and reset a job's bookmark.

``show`` prints what the bookmark holds (files per transformation_ctx, committed runs, the
lock); ``reset`` forgets everything (Glue's ResetJobBookmark; the next run processes all
files), or with ``--to-run RUN`` rewinds to just after that committed run; ``unlock`` removes
a lock whose holder died on another host (a lock of a dead process on this host, or an
expired one, is taken over automatically).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from lakeforge.bookmarks import JobBookmarks
from lakeforge.commands import add_env_option
from lakeforge.config import load_env
from lakeforge.errors import ConfigError
from lakeforge.locks import force_unlock
from lakeforge.paths import Lake
from lakeforge.state import StateStore, store_for


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bookmarks", help="show or reset a job's bookmark (Glue semantics)",
                       description="Inspect, reset or rewind a job bookmark, or remove a "
                       "dead run's lock.")
    p.add_argument("action", choices=["show", "reset", "unlock"])
    p.add_argument("job", help="job name, e.g. customer_propensity")
    add_env_option(p)
    p.add_argument("--store", default=None,
                   help="state store URI (default: the lake's bookmarks zone); "
                        "s3://bucket/prefix or dynamodb://TABLE")
    p.add_argument("--to-run", default=None,
                   help="reset: keep the runs up to and including this one, forget the later")
    p.add_argument("--json", action="store_true", help="show: print the raw document")
    p.set_defaults(func=_bookmarks)


# DynamoDB's table names: 3 to 255 letters, digits, '_', '-' and '.'.
_DYNAMODB_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def _check_store(uri: str) -> None:
    """``--store``: an s3:// URI names a bucket, a dynamodb:// URI a valid table name (both
    were a traceback from boto3)."""
    if uri.startswith(("s3://", "s3a://")) and not uri.partition("://")[2].split("/")[0]:
        raise ConfigError(f"--store {uri!r} names no bucket; use s3://bucket/prefix")
    if uri.startswith("dynamodb://") and not _DYNAMODB_TABLE.fullmatch(uri[len("dynamodb://"):]):
        raise ConfigError(f"--store {uri!r}: a DynamoDB table name has 3-255 letters, digits, "
                          "'_', '-' or '.'; use dynamodb://TABLE")


def _store(args: argparse.Namespace) -> StateStore:
    env = load_env(args.env)
    if args.store is not None:
        _check_store(args.store)
    uri = args.store or Lake.from_env(env).zone("bookmarks")
    return store_for(uri, region=env.aws.region, endpoint_url=env.aws.endpoint_url)


def _job_locks(store: StateStore, job: str) -> dict[str, dict[str, Any] | None]:
    """The locks of ``job``: those named after it (a job module: ``<module>.<database>``) and
    those a run under ``--JOB_NAME job`` holds (a Glue job's name; the lease records it)."""
    found: dict[str, dict[str, Any] | None] = {}
    for k in store.keys("locks/"):
        held = store.get(k)
        doc = held.doc if held else None
        if k[len("locks/"):].split(".")[0] == job or (doc or {}).get("run_name") == job:
            found[k] = doc
    return found


def _bookmarks(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    store = _store(args)
    try:
        return _act(args, store)
    except (BotoCoreError, ClientError) as exc:  # no credentials, no endpoint, no table
        where = args.store or "the lake's bookmarks zone"
        raise ConfigError(f"bookmarks {args.action} {args.job}: state store {where}: "
                          f"{exc}") from exc


def _act(args: argparse.Namespace, store: StateStore) -> int:
    if args.action == "unlock":
        removed = list(_job_locks(store, args.job))
        for key in removed:
            doc = force_unlock(store, key[len("locks/"):])
            print(f"removed {key} (held by {doc.get('owner') if doc else '?'})")
        if not removed:
            print(f"no lock held for job {args.job}")
        return 0
    marks = JobBookmarks(store, args.job)
    if args.action == "reset":
        if args.to_run:
            dropped = marks.rewind(args.to_run)
            print(f"bookmark of {args.job} rewound to run {args.to_run}: {dropped} file "
                  "entries forgotten")
        else:
            marks.reset()
            print(f"bookmark of {args.job} reset: the next run processes every file")
        return 0
    doc = marks.document()
    locks = _job_locks(store, args.job)
    if args.json:
        print(json.dumps({"bookmark": doc, "locks": locks}, indent=2, sort_keys=True))
        return 0
    if doc is None:
        print(f"job {args.job}: no bookmark (the next run processes every file)")
    else:
        for line in _describe(doc):
            print(line)
    for key, lock in locks.items():
        if lock:
            print(f"lock {key}: held by {lock.get('owner')} until {lock.get('expires_at')}")
    return 0


def _describe(doc: dict[str, Any]) -> list[str]:
    if not isinstance(doc.get("contexts"), dict):
        raise ConfigError("the bookmark document has no 'contexts'; it was not written by "
                          "lakeforge")
    lines = [f"job {doc.get('job')}"]
    for ctx, entry in sorted(doc["contexts"].items()):
        files = entry.get("files", {})
        lines.append(f"  {ctx}: {len(files)} files processed")
    runs = doc.get("runs", [])
    lines.append(f"  committed runs: {len(runs)}")
    for run in runs[-10:]:
        lines.append(f"    {run['run_id']}: {run.get('contexts')}")
    return lines
