"""``getResolvedOptions``: Glue's job-argument contract, with Glue 5 and Glue 6 rules.

Glue passes job parameters as ``--KEY value`` pairs. ``getResolvedOptions(sys.argv, ["JOB_NAME",
"in"])`` returns ``{"JOB_NAME": ..., "in": ..., "job_bookmark_option": ...}``; unknown
arguments are ignored; reserved names (``job-bookmark-option``, ``JOB_ID``, ...) are refused as
options. Glue 5 (and earlier) accepts an unambiguous prefix of a name (``--JOB`` for
``--JOB_NAME``, Python argparse's default); Glue 6 no longer does (``allow_abbrev=False``).
Which rule holds comes from :func:`glue_version`: ``$LAKEFORGE_GLUE_VERSION``, else the
Spark line (Spark 3.5 is Glue 5, Spark 4 is Glue 6).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from lakeforge.errors import ConfigError
from lakeforge.glue_local.errors import GlueArgumentError

GLUE_VERSION_ENV_VAR = "LAKEFORGE_GLUE_VERSION"
GLUE_VERSIONS = ("5.0", "6.0")

BOOKMARK_OPTIONS = ["--job-bookmark-option", "job-bookmark-enable", "job-bookmark-pause",
                    "job-bookmark-disable"]
CONTINUATION_OPTIONS = ["--continuation-option", "continuation-enabled",
                        "continuation-readonly", "continuation-ignore"]
BOOKMARK_RANGE_OPTIONS = ["--job-bookmark-from", "--job-bookmark-to"]
ID_PARAMS = ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]
ENCRYPTION_TYPE_OPTIONS = ["--encryption-type", "sse-s3"]
DATA_LINEAGE_OPTIONS = ["--enable-data-lineage"]


def glue_version() -> str:
    """The Glue version whose rules apply: ``$LAKEFORGE_GLUE_VERSION`` or the Spark line's."""
    configured = os.environ.get(GLUE_VERSION_ENV_VAR)
    if configured:
        if configured not in GLUE_VERSIONS:
            raise ConfigError(f"${GLUE_VERSION_ENV_VAR}={configured!r} is not one of "
                              f"{list(GLUE_VERSIONS)}")
        return configured
    try:
        major = importlib.metadata.version("pyspark").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        return "5.0"
    return "6.0" if major == "4" else "5.0"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise GlueArgumentError(f"getResolvedOptions: {message}")


def getResolvedOptions(  # noqa: N802 - Glue's name
    args: Sequence[str], options: Sequence[str], allow_abbrev: bool | None = None
) -> dict[str, Any]:
    """Glue's ``awsglue.utils.getResolvedOptions``: the values of ``options`` in ``args``
    (``sys.argv``: the first element is the script and is skipped).

    ``allow_abbrev`` None follows :func:`glue_version` (Glue 5: prefixes accepted; Glue 6: not).

    Example::

        args = getResolvedOptions(["job.py", "--JOB_NAME", "j", "--day", "2024-01-01"],
                                  ["JOB_NAME", "day"])
        args["day"]  # '2024-01-01'
    """
    if allow_abbrev is None:
        allow_abbrev = glue_version() == "5.0"
    options = list(options)
    for reserved in (CONTINUATION_OPTIONS[0], BOOKMARK_OPTIONS[0]):
        if reserved[2:] in options:
            raise RuntimeError("Using reserved arguments " + reserved[2:])
    parser = _Parser(allow_abbrev=allow_abbrev, add_help=False)
    parser.add_argument(BOOKMARK_OPTIONS[0], choices=BOOKMARK_OPTIONS[1:], required=False)
    parser.add_argument(CONTINUATION_OPTIONS[0], choices=CONTINUATION_OPTIONS[1:],
                        required=False)
    for option in BOOKMARK_RANGE_OPTIONS:
        if option[2:] in options:
            raise RuntimeError("Using reserved arguments " + option)
        parser.add_argument(option, required=False)
    for option in ID_PARAMS[1:]:
        if option in options:
            raise RuntimeError("Using reserved arguments " + option)
        parser.add_argument(option, required=False)
    for reserved_list in (ENCRYPTION_TYPE_OPTIONS, DATA_LINEAGE_OPTIONS):
        if reserved_list[0] in options:
            raise RuntimeError("Using reserved arguments " + reserved_list[0])
    parser.add_argument(ENCRYPTION_TYPE_OPTIONS[0], choices=ENCRYPTION_TYPE_OPTIONS[1:])
    parser.add_argument(DATA_LINEAGE_OPTIONS[0], required=False)
    # TempDir and RedshiftTempDir are optional and mirror each other, as on Glue.
    options = [o for o in options if o not in {"RedshiftTempDir", "TempDir"}]
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        parser.add_argument("--" + option, required=True)
    parsed, _extra = parser.parse_known_args(list(args[1:]))
    result = vars(parsed)
    if result.get("TempDir") is not None:
        result["RedshiftTempDir"] = result["TempDir"]
    elif result.get("RedshiftTempDir") is not None:
        result["TempDir"] = result["RedshiftTempDir"]
    continuation = result.pop("continuation_option", None)
    if result.get("job_bookmark_option") is None:
        if continuation is None:
            result["job_bookmark_option"] = BOOKMARK_OPTIONS[3]
        else:
            result["job_bookmark_option"] = BOOKMARK_OPTIONS[
                CONTINUATION_OPTIONS.index(continuation)]
    absent = [o for o in BOOKMARK_RANGE_OPTIONS if result.get(o[2:].replace("-", "_")) is None]
    if result["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise RuntimeError("Missing option or value for " + absent[0])
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(BOOKMARK_RANGE_OPTIONS))
    return result
