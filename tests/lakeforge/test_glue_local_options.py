"""getResolvedOptions with Glue 5 rules (argparse prefixes) and Glue 6 rules (exact names)."""

from __future__ import annotations

import pytest

from lakeforge.errors import ConfigError
from lakeforge.glue_local.errors import GlueArgumentError
from lakeforge.glue_local.options import GLUE_VERSION_ENV_VAR, getResolvedOptions, glue_version

ARGV = ["script.py", "--JOB_NAME", "nightly", "--day", "2024-01-02", "--unknown", "x"]


def test_resolves_listed_options_and_ignores_others() -> None:
    args = getResolvedOptions(ARGV, ["JOB_NAME", "day"], allow_abbrev=False)
    assert args["JOB_NAME"] == "nightly"
    assert args["day"] == "2024-01-02"
    assert "unknown" not in args
    assert args["job_bookmark_option"] == "job-bookmark-disable"  # Glue's default
    assert args["TempDir"] is None and args["RedshiftTempDir"] is None


def test_empty_string_value_is_kept() -> None:
    args = getResolvedOptions(["s.py", "--JOB_NAME", "j", "--day", ""], ["JOB_NAME", "day"],
                              allow_abbrev=False)
    assert args["day"] == ""


def test_missing_required_option_raises_glue_argument_error() -> None:
    with pytest.raises(GlueArgumentError, match="--day"):
        getResolvedOptions(["s.py", "--JOB_NAME", "j"], ["JOB_NAME", "day"], allow_abbrev=False)


def test_glue5_accepts_a_prefix_glue6_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["s.py", "--JOB_NAME", "j", "--dat", "2024-01-02"]
    monkeypatch.setenv(GLUE_VERSION_ENV_VAR, "5.0")
    assert getResolvedOptions(argv, ["JOB_NAME", "date_from"])["date_from"] == "2024-01-02"
    monkeypatch.setenv(GLUE_VERSION_ENV_VAR, "6.0")
    with pytest.raises(GlueArgumentError, match="--date_from"):
        getResolvedOptions(argv, ["JOB_NAME", "date_from"])


def test_glue_version_default_follows_the_spark_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyspark

    monkeypatch.delenv(GLUE_VERSION_ENV_VAR, raising=False)
    assert glue_version() == ("6.0" if pyspark.__version__.startswith("4") else "5.0")
    monkeypatch.setenv(GLUE_VERSION_ENV_VAR, "4.0")
    with pytest.raises(ConfigError, match="LAKEFORGE_GLUE_VERSION"):
        glue_version()


@pytest.mark.parametrize("reserved", ["job-bookmark-option", "continuation-option",
                                      "job-bookmark-from", "--JOB_ID"])
def test_reserved_names_are_refused(reserved: str) -> None:
    with pytest.raises(RuntimeError, match="reserved"):
        getResolvedOptions(ARGV, [reserved], allow_abbrev=False)


def test_bookmark_option_continuation_and_tempdir() -> None:
    args = getResolvedOptions(["s.py", "--continuation-option", "continuation-enabled",
                               "--TempDir", "s3://b/tmp"], [], allow_abbrev=False)
    assert args["job_bookmark_option"] == "job-bookmark-enable"
    assert args["RedshiftTempDir"] == "s3://b/tmp"
    with pytest.raises(GlueArgumentError, match="invalid choice"):
        getResolvedOptions(["s.py", "--job-bookmark-option", "on"], [], allow_abbrev=False)


def test_bookmark_range_needs_pause_and_both_ends() -> None:
    both = ["--job-bookmark-from", "r1", "--job-bookmark-to", "r2"]
    args = getResolvedOptions(["s.py", "--job-bookmark-option", "job-bookmark-pause", *both],
                              [], allow_abbrev=False)
    assert (args["job_bookmark_from"], args["job_bookmark_to"]) == ("r1", "r2")
    with pytest.raises(RuntimeError, match="Missing option or value for --job-bookmark-to"):
        getResolvedOptions(["s.py", "--job-bookmark-option", "job-bookmark-pause",
                            "--job-bookmark-from", "r1"], [], allow_abbrev=False)
    with pytest.raises(RuntimeError, match="Invalid option"):
        getResolvedOptions(["s.py", *both], [], allow_abbrev=False)
