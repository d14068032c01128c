"""Lakeforge: distributed Spark ETL and feature engineering on AWS, testable on a laptop."""

from __future__ import annotations

from setuptools import find_packages, setup

# pyspark is an extra, not a requirement: EMR and Glue bring their own Spark. Two Spark lines,
# each with the numpy/pandas/pyarrow ranges its pyspark supports; pick one extra per venv:
#   spark  (Spark 3.5: Glue 5.x, EMR 7.x)   -> .venv        (`make venv`)
#   spark4 (Spark 4.x: Glue 6.x on 4.1, EMR 8 on 4.0) -> .venv-spark4 (`make test-spark4`)
_LIBS = [
    "scipy>=1.10,<2",  # quality: Holt-Winters anomaly detection
    "lark>=1.2,<2",  # quality.dqdl: the DQDL grammar (Glue Data Quality rulesets)
]
SPARK = [
    "pyspark[sql,ml]>=3.5,<3.6", "numpy>=1.24,<2", "pandas>=1.5,<3", "pyarrow>=12,<26",
] + _LIBS
# pyspark 4 needs pandas>=2.2, pyarrow>=15 and runs on numpy 2; pandas 3 is not supported by
# Spark 4.1. [connect]: grpcio & co. for Spark Connect sessions (tests start a local server).
SPARK4 = [
    "pyspark[sql,ml,connect]>=4.0,<4.2", "numpy>=1.26,<3", "pandas>=2.2,<3", "pyarrow>=15,<26",
] + _LIBS
AWS = ["boto3>=1.28,<2"]
MATCH = ["splink[spark]>=5.0,<5.1"]  # dedup uses a few Splink internals: pin the minor
# quality engine="great_expectations", the GX differential test (fits numpy<2, pandas<3)
GX = ["great-expectations>=1.3,<2"]
# quality engine="deequ" and the differential tests against real Deequ (jar: `make jars`)
DEEQU = ["pydeequ>=1.7,<1.8"]
# `lakeforge docs build`: the static lake site (Jinja2 pages, Altair charts drawn to inline SVG
# by vl-convert, offline: no CDN at view time)
SITE = ["jinja2>=3.1,<4", "altair>=5.4,<7", "vl-convert-python>=1.7,<2"]
# output format "delta" (lakeforge.formats.delta): the Python API over the `delta` jar set
# (delta-spark 3.3.2 on Spark 3.5; the jar and the package go together, as on EMR 7 / Glue 5)
DELTA = ["delta-spark>=3.3.2,<3.4"]
# the same on the Spark 4.1 line: the wheel of the jar set jvm/spark-4.1/delta (delta-spark_4.1
# 4.4.0; 4.1.0 cannot load on pyspark 4.1.2+); 4.4.x allows pyspark <=4.2.0, 4.3.x only <=4.1.1
DELTA_SPARK4 = ["delta-spark>=4.4,<4.5"]
# independent readers of what Spark wrote (tests/lakeforge/test_formats.py): delta-rs, pyiceberg
TABLE_READERS = ["deltalake>=1.1,<2", "pyiceberg[pyarrow]>=0.10,<0.13"]
_DEV_TOOLS = AWS + MATCH + GX + DEEQU + SITE + TABLE_READERS + [
    "chispa>=0.10,<1",
    # <9: pytest-xdist's --dist loadgroup (make test) tags item._nodeid, which pytest 9 no
    # longer reads (Node.nodeid comes from Node._id): the groups would be ignored.
    "pytest>=7.4,<9",
    "pytest-timeout>=2.2,<3",
    # 3.8: --no-loadscope-reorder (make test keeps the costliest modules first)
    "pytest-xdist>=3.8,<4",  # make test: two workers, a module per worker (tests/conftest.py)
    "moto[server]>=5.0,<6",
    # lakeforge.dev_s3 serves moto with HTTP/1.1 keep-alive (werkzeug closes every connection)
    "cheroot>=10,<12",
    "parliament>=1.6,<2",  # IAM policy linter for the generated policies (tests/orchestration)
    "duckdb>=1.0,<3",
    "recordlinkage>=0.16,<0.17",
    "ruff>=0.5,<1",
    "mypy>=1.8,<2",
    "types-PyYAML>=6,<7",
    # tests/lakeforge/test_glue_local_shim.py runs setup.py's find_packages; a Python 3.12+
    # venv (.venv-spark4 on 3.13) has no setuptools of its own
    "setuptools>=65,<90",
    "playwright>=1.49,<2",  # the site's browser tests drive Debian's chromium (no browser download)
]
DEV = SPARK + DELTA + _DEV_TOOLS
DEV_SPARK4 = SPARK4 + DELTA_SPARK4 + _DEV_TOOLS

setup(
    name="lakeforge",
    version="0.1.0",
    description="Spark ETL, Glue-style transforms, Deequ-compatible quality and features on AWS",
    python_requires=">=3.10",
    packages=find_packages(include=["lakeforge*", "transforms*", "quality*", "jobs*"]),
    package_data={"lakeforge": ["py.typed", "site/templates/*.html"]},
    install_requires=["PyYAML>=6,<7", "pyarrow>=12,<26"],
    extras_require={
        "spark": SPARK,
        "spark4": SPARK4,
        "aws": AWS,
        "match": MATCH,
        "gx": GX,
        "deequ": DEEQU,
        "delta": DELTA,
        "table-readers": TABLE_READERS,
        "site": SITE,
        "airflow": ["apache-airflow>=2.9,<4", "apache-airflow-providers-amazon>=8.20,<10"],
        "dev": DEV,
        "dev-spark4": DEV_SPARK4,
    },
    entry_points={"console_scripts": ["lakeforge=lakeforge.cli:main"],
                  "pytest11": ["lakeforge_glue = lakeforge.glue_local.pytest_plugin"]},
)
