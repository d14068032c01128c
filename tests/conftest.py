"""One session-scoped SparkSession for the whole suite (local[2], 2 shuffle partitions, UI off,
AQE on), built by lakeforge.session from the ``local`` env with its lake in a temp folder, plus
the jar sets the tests need (``TEST_JAR_SETS``) when they are fetched (``make test`` fetches
them; a plain ``pytest`` without them runs the rest and skips the tests marked ``jars``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobsupport import (
    MAIN_JOB_ARGS,
    MAIN_JOB_DATA,
    MAIN_JOB_DB,
    MOTO_CREDENTIALS,
    with_fast_jvm,
)

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ["LAKEFORGE_CONF_DIR"] = str(REPO / "conf")
# Job runs in tests (in process and spark-submit children) do not regenerate the lake site
# after each run (a cold site update costs ~15 s per child process); the site's own tests
# (tests/lakeforge/test_site_*.py) switch it back on for their run.
os.environ.setdefault("LAKEFORGE_SITE", "0")
# Every JVM the suite starts through spark-submit (the test session's, the job runs', the CLIs'
# and spark-submit children's) gets the short-lived-JVM flags (C1 only, serial collector):
# tests/jobsupport.py FAST_JVM_OPTS, measured in docs/benchmarks.md. They change no result.
with_fast_jvm(os.environ)

TEST_SPARK_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.sql.warehouse.dir": "",  # replaced below with the temp lake's warehouse
}

# deequ: the `deequ` quality engine and the differential tests against real Deequ.
# delta, iceberg: the table formats (lakeforge.session adds their extensions, DeltaCatalog as
# spark_catalog and the lakeforge_iceberg Hadoop catalog under the temp lake's curated zone).
# s3a: Spark on s3:// against moto (tests marked aws and jars; the S3A settings are set per
# test on the session's Hadoop conf, lakeforge.session.apply_s3a_conf).
TEST_JAR_SETS: tuple[str, ...] = ("deequ", "delta", "iceberg", "s3a")


def fetched_jar_sets(names: tuple[str, ...] = TEST_JAR_SETS) -> list[str]:
    """The sets among ``names`` that `make jars` has fetched for the installed Spark line.

    Under ``make test`` (``LAKEFORGE_REQUIRE_JARS=1``, set by the Makefile after it fetched
    them) a set the line's lock file pins but that is not complete on disk fails the session
    instead: the tests that need it would otherwise skip and the run would look green."""
    from lakeforge.jars import JarSetMissingError, available_sets, set_jars, spark_line

    present, missing = [], []
    for name in names:
        try:
            set_jars(name)
        except JarSetMissingError as exc:
            if name in available_sets(spark_line()):
                missing.append(f"{name} ({exc})")
            continue
        present.append(name)
    if missing and os.environ.get("LAKEFORGE_REQUIRE_JARS") == "1":
        pytest.fail(f"LAKEFORGE_REQUIRE_JARS=1 but jar sets are not fetched: {'; '.join(missing)}",
                    pytrace=False)
    return present


@pytest.fixture(scope="session", autouse=True)
def spark_local_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Spark's scratch folders (``spark-<uuid>``: the jars a session ships to its executors,
    shuffle and spill files) for every JVM the suite starts, the test session's and the child
    processes', go under this run's pytest temp folder (``SPARK_LOCAL_DIRS``; autouse, so set
    before the session starts). In ``/tmp`` a JVM that a test SIGKILLs or that its process
    group's kill ends leaves its folder behind: about 30 per ``make test``, 1.8 GB (the S3
    runs' userFiles hold the 270 MB SDK bundle). pytest keeps only its last three runs' temp
    folders, so these go with them. Set by the suite only when the caller has not."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("spark-local", numbered=False)
    mp.setenv("SPARK_LOCAL_DIRS", os.environ.get("SPARK_LOCAL_DIRS") or str(folder))
    yield folder
    mp.undo()


@pytest.fixture(scope="session")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake root the session's metastore lives under (a temp folder for the whole run)."""
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="session")
def spark(lake_root: Path) -> Iterator[object]:
    """The suite's single SparkSession (Hive metastore on Derby under ``lake_root``)."""
    import dataclasses

    from lakeforge.config import load_env
    from lakeforge.paths import Lake
    from lakeforge.session import build_session

    env = load_env("local")
    env = dataclasses.replace(
        env,
        spark=dataclasses.replace(env.spark, master="local[2]", driver_memory="2g",
                                  jar_sets=fetched_jar_sets()),
    )
    lake = Lake.from_settings(str(lake_root), allow_env_override=False)
    conf = {k: v for k, v in TEST_SPARK_CONF.items() if v}
    session = build_session(env, "lakeforge-tests", extra_conf=conf, lake=lake)
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path: Path) -> object:
    """A fresh, empty lake for one test (zones under tmp_path)."""
    from lakeforge.paths import Lake

    return Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)


@pytest.fixture
def catalog(spark: object) -> object:
    """The spark_sql catalog backend on the session's embedded metastore."""
    from lakeforge.catalog import get_catalog
    from lakeforge.catalog.spark_sql import SparkSqlCatalog

    cat = get_catalog("spark_sql", spark)  # type: ignore[arg-type]
    assert isinstance(cat, SparkSqlCatalog)
    return cat


@pytest.fixture
def db(spark: object) -> Iterator[str]:
    """A fresh database name for one test, dropped (CASCADE) after it."""
    import uuid

    name = f"crawl_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server (a real HTTP server on 127.0.0.1, free port) for every aws test, with
    dummy credentials so boto3 never reaches AWS. Tests use unique bucket/database names."""
    from moto.server import ThreadedMotoServer

    mp = pytest.MonkeyPatch()
    for key, value in MOTO_CREDENTIALS.items():
        mp.setenv(key, value)
    mp.delenv("AWS_PROFILE", raising=False)
    mp.delenv("LAKEFORGE_AWS_ENDPOINT_URL", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        mp.undo()


@pytest.fixture(scope="session")
def main_job_run(spark: object, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One run of the main job (jobs/customer_propensity.py) on a tiny generated raw zone (120
    customers, 3 days, Splink training included), in process on the test session, with the
    lake site on. Shared because a run is the costliest setup of the suite:
    tests/jobs/test_customer_propensity.py checks its outputs against the generator's ground
    truth, tests/lakeforge/test_site_browser.py the site it wrote. Database ``mj``. (The whole
    run on S3, HTTPS and SSE-KMS, is tests/jobs/test_reliability_s3.py's rerun.)"""
    import json

    from jobs import customer_propensity
    from lakeforge.paths import Lake
    from lakeforge.sample_data import write_bank_marketing

    root = tmp_path_factory.mktemp("main_job")
    counts = write_bank_marketing(root, **MAIN_JOB_DATA)
    mp = pytest.MonkeyPatch()
    mp.setenv("LAKEFORGE_LAKE_ROOT", str(root))
    mp.setenv("LAKEFORGE_SITE", "1")  # on for this run: the site tests read what it wrote
    try:
        code = customer_propensity.main(
            ["--env", "local", "--database", MAIN_JOB_DB, "--raw_database", f"{MAIN_JOB_DB}_raw",
             *MAIN_JOB_ARGS])
    finally:
        mp.undo()
    runs = sorted((root / "metadata" / "runs").glob("*/run_summary.json"))
    summary = json.loads(runs[-1].read_text()) if runs else {}
    return {"root": root, "counts": counts, "code": code, "summary": summary,
            "site": root / "metadata" / "site",
            "lake": Lake.from_settings(str(root), allow_env_override=False)}


# Test modules that share one session-scoped setup run on the same pytest-xdist worker.
SHARED_SETUP_GROUPS = {
    "tests/jobs/test_customer_propensity.py": "main_job_run",
    "tests/lakeforge/test_site_browser.py": "main_job_run",
    # both build the wheel through the repo's build/ folder (scripts/build_artifacts.sh)
    "tests/lakeforge/test_deploy_artifacts.py": "build_artifacts",
    "tests/lakeforge/test_deploy_aws.py": "build_artifacts",
}


# The costliest modules (worker seconds in a fresh-clone `make test`, session 10's ci14 run:
# Spark 3.5 line, the 4.1 line's in parentheses), costliest first. They are collected first and
# `make test` keeps that order (``--no-loadscope-reorder``: by default pytest-xdist >= 3.8 hands
# out the scopes with the most tests first, which put these last, one of them running alone at
# the end), so xdist hands them out first and the short modules fill the other worker around
# them (longest first).
LONG_MODULES = (
    "tests/jobs/test_reliability_s3.py",              # 900 s, + the whole-run-on-S3 checks
    "tests/jobs/test_reliability.py",                 # 1,079 s; ~830 s after two kills left out
    "tests/lakeforge/test_formats_incremental.py",    # 581 s (~450 s now), a scope per test
    "tests/lakeforge/test_standalone_cluster.py",     # 313 s
    "tests/transforms/test_dedup.py",                 # 220 s (100 s)
    "tests/lakeforge/test_formats_glue_api.py",       # 179 s (228 s)
    "tests/lakeforge/test_publish.py",                          # 169 s (242 s)
    "tests/lakeforge/test_formats.py",                # 156 s (182 s)
    "tests/lakeforge/test_lifecycle_formats.py",      # 155 s (191 s); ~120 s (~165 s) alone
                                                      # without its kill; a scope per test
    "tests/lakeforge/test_job.py",                     # 130 s
    "tests/jobs/test_customer_propensity.py",         # 116 s: main_job_run's group
    "tests/lakeforge/test_commands_dedup.py",         # 101 s
    "tests/quality/test_deequ_differential.py",       # 97 s
    "tests/lakeforge/test_lifecycle_runner.py",       # 88 s
    "tests/quality/test_dqdl_differential.py",        # 85 s
    "tests/lakeforge/test_glue_local_samples.py",     # 46 s (58 s)
    "tests/lakeforge/test_glue_local_runtime.py",     # 40 s (43 s)
    "tests/lakeforge/test_spark_connect.py",          # (38 s: a Connect server)
)

# Long modules whose tests share no module-scoped setup: each test is its own xdist scope, so
# their few long tests (a Delta and an Iceberg variant of minutes each) can run on both workers.
SCOPE_PER_TEST = frozenset({
    "tests/lakeforge/test_formats_incremental.py",
    "tests/lakeforge/test_lifecycle_formats.py",
})


def _long_first(item: pytest.Item) -> int:
    module = item.nodeid.split("::", 1)[0]
    group = SHARED_SETUP_GROUPS.get(module)
    # a module sharing a setup goes with the first of its group
    members = [m for m, g in SHARED_SETUP_GROUPS.items() if g == group] if group else [module]
    ranks = [LONG_MODULES.index(m) for m in members if m in LONG_MODULES]
    return min(ranks) if ranks else len(LONG_MODULES)


def _scope(item: pytest.Item) -> str:
    module = item.nodeid.split("::", 1)[0]
    if module in SCOPE_PER_TEST:
        return item.nodeid
    return SHARED_SETUP_GROUPS.get(module, module)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers, ``--dist loadgroup``) a module's tests
    stay together on one worker, so a module-scoped setup (a job run, a trained model, a moto
    server) is built once; modules sharing a session-scoped setup share a worker. Without
    xdist the marks change nothing. It must run before pytest-xdist's own hook, which turns the
    marks into the scheduling scope (else the marks come too late and a module's tests are
    split across the workers, each building the module's fixtures)."""
    items.sort(key=_long_first)  # stable: the rest keep their collection order
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_scope(item)))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel (``pip wheel --no-deps``), built once per test process for the
    tests that install it as EMR's bootstrap action does."""
    import subprocess

    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                           "--wheel-dir", str(out), str(REPO)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    [built] = out.glob("lakeforge-*.whl")
    return built
