"""What runs where: the Glue versions and EMR releases Lakeforge deploys to, and their Spark line.

One codebase runs on two Spark lines; what differs per target is the Spark/Scala line of the
jars that travel with a deployment (Splink's similarity jar is built for Scala 2.12 on Spark 3
and for Scala 2.13 on Spark 4), the Python version, and a few job arguments:

=========  ===========  ======  ==========  ==================================
target     Spark        Scala   Python      artifacts (``make artifacts*``)
=========  ===========  ======  ==========  ==================================
Glue 5.0   3.5.4        2.12    3.11        spark-3.5 (.venv)
Glue 5.1   3.5.6        2.12    3.11        spark-3.5 (.venv)
Glue 6.0   4.1.1        2.13    3.13        spark-4.1 (.venv-spark4)
emr-7.x    3.5.x        2.12    3.11 [1]_   spark-3.5 (.venv)
emr-spark-8.0.0  4.0.2  2.13    3.11 [1]_   spark-4.1 (.venv-spark4) [2]_
=========  ===========  ======  ==========  ==================================

.. [1] installed by emr/bootstrap.sh on every node.
.. [2] the Python code and Splink's ``_spark4.x`` jar are the same for Spark 4.0 and 4.1.

:func:`check_artifacts_line` refuses a deployment whose artifacts were built on the other major
line (a Scala 2.12 jar on a Scala 2.13 Spark fails only at the first Splink call).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lakeforge.deploy import DeployError


@dataclass(frozen=True)
class GlueRuntime:
    """One Glue version: its Spark, Python and the job arguments that differ per version."""

    version: str
    spark: str
    spark_line: str
    python: str
    # Glue 6's getResolvedOptions no longer accepts abbreviated names (Glue 5's argparse matched
    # a unique prefix): Lakeforge writes full names, and refuses user arguments that abbreviate
    # one the entry script reads (they would work on 5.x and fail at run time on 6.0).
    exact_argument_names: bool
    arguments: dict[str, str] = field(default_factory=dict)


GLUE_RUNTIMES: dict[str, GlueRuntime] = {
    "5.0": GlueRuntime("5.0", "3.5.4", "spark-3.5", "3.11", exact_argument_names=False,
                       arguments={"--enable-continuous-cloudwatch-log": "true"}),
    "5.1": GlueRuntime("5.1", "3.5.6", "spark-3.5", "3.11", exact_argument_names=False,
                       arguments={"--enable-continuous-cloudwatch-log": "true"}),
    "6.0": GlueRuntime("6.0", "4.1.1", "spark-4.1", "3.13", exact_argument_names=True,
                       arguments={"--enable-continuous-cloudwatch-log": "true"}),
}
DEFAULT_GLUE_VERSION = "5.0"


def glue_runtime(version: str) -> GlueRuntime:
    """The runtime for a Glue version, or a DeployError listing the supported ones."""
    try:
        return GLUE_RUNTIMES[version]
    except KeyError:
        raise DeployError(f"Glue version {version!r} is not supported; use one of "
                          f"{', '.join(GLUE_RUNTIMES)}") from None


@dataclass(frozen=True)
class EmrRelease:
    """An EMR release label and the Spark line it runs."""

    label: str
    spark_line: str


_EMR7 = re.compile(r"^emr-7\.\d+\.\d+$")
_EMR8 = re.compile(r"^emr-spark-8\.\d+\.\d+$")
DEFAULT_EMR_RELEASE = "emr-7.5.0"


def emr_release(label: str) -> EmrRelease:
    """``emr-7.x.y`` runs Spark 3.5; ``emr-spark-8.x.y`` runs Spark 4.0 (8.0.0: 4.0.2)."""
    if _EMR7.match(label):
        return EmrRelease(label, "spark-3.5")
    if _EMR8.match(label):
        return EmrRelease(label, "spark-4.0")
    raise DeployError(f"release label {label!r} is not supported: use emr-7.x.y (Spark 3.5, "
                      f"e.g. {DEFAULT_EMR_RELEASE}) or emr-spark-8.x.y (Spark 4.0, e.g. "
                      "emr-spark-8.0.0)")


def spark_major(line: str) -> str:
    """``spark-4.1`` -> ``4`` (the major decides the Scala version of the jars)."""
    m = re.match(r"^spark-(\d+)\.(\d+|x)$", line)
    if not m:
        raise DeployError(f"{line!r} is not a Spark line like spark-3.5")
    return m.group(1)


def check_artifacts_line(artifacts_line: str | None, target_line: str, target: str) -> None:
    """Refuse artifacts built for the other Spark major line than ``target`` runs."""
    if artifacts_line is None:
        raise DeployError(f"{target} runs {target_line}, but the artifacts record no Spark line "
                          "(built before per-line builds); rebuild them with `make artifacts` "
                          "(Spark 3.5) or `make artifacts-spark4` (Spark 4)")
    if spark_major(artifacts_line) != spark_major(target_line):
        hint = "make artifacts-spark4" if spark_major(target_line) == "4" else "make artifacts"
        raise DeployError(f"{target} runs {target_line} but the artifacts were built on "
                          f"{artifacts_line}; build them for it with `{hint}` and pass that "
                          "--dist folder")


def abbreviated_names(given: list[str], full_names: list[str]) -> list[str]:
    """The ``given`` argument names (``--x``) that are strict prefixes of a full name."""
    out = []
    for key in given:
        name = key.lstrip("-")
        if name and name not in full_names and any(f.startswith(name) for f in full_names):
            out.append(key)
    return sorted(out)
