"""FindMatches-like fuzzy deduplication on Splink's Spark backend.

:func:`find_matches` returns every input row plus ``match_id`` (one value per entity: the
smallest primary key of the entity's records) and ``match_confidence_score`` (0..1), like AWS
Glue's FindMatches transform. Without ``comparisons`` it configures itself from column names,
types and value profiles (names, dates, postcodes, e-mails, phones, codes, free text, numbers)
and measures candidate blocking rules on the data, keeping candidate pairs far below n(n-1)/2.
Training is unsupervised (u from random pairs, m by expectation maximisation); FindMatches-
format labels sharpen m and can be enforced. A trained :class:`MatchModel` is JSON and can be
passed back as ``model=`` to skip training.

Splink's similarity functions (Jaro-Winkler, Damerau-Levenshtein, ...) live in a jar inside the
splink wheel: build the session with ``extra_jars=[splink_jar_path()]``. When the session was
started without it, :func:`ensure_similarity_functions` adds the local jar at run time.

Example::

    from transforms.dedup import evaluate_matches, find_matches

    matched = find_matches(people, primary_key="rec_id")
    evaluate_matches(matched, "true_entity").pairwise_f1
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.errors import LakeforgeError, require_columns
from transforms._dedup_profile import (
    BlockingCandidate,
    ColumnPlan,
    comparison_for,
    count_block_pairs,
    plan_columns,
    prepare_column,
    propose_blocking_rules,
    training_rules,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from splink.internals.linker import Linker

log = logging.getLogger(__name__)

MATCH_ID = "match_id"
MATCH_CONFIDENCE_SCORE = "match_confidence_score"
LABELING_SET_ID = "labeling_set_id"
LABEL = "label"
MODEL_FORMAT = "lakeforge.match_model/1"

# Pairs below this probability are not kept as edges: they can neither join a cluster nor
# lower a singleton's confidence by more than this.
EDGE_FLOOR = 0.01
# Random pairs for u: enough to see levels with u ~ 1e-5 a few times, cheap on two cores.
U_PAIRS = 300_000
_UID = "unique_id"
_NEW_FLAG = "lf_is_new"
_SIMILARITY_FUNCTIONS = ("jaro_winkler", "damerau_levenshtein", "jaccard", "jaro_sim")


class DedupInputError(LakeforgeError, ValueError):
    """The input of a dedup transform cannot be matched as given."""


class NullPrimaryKeyError(DedupInputError):
    """The primary key column holds nulls."""


class DuplicatePrimaryKeyError(DedupInputError):
    """The primary key column holds a value more than once."""


class LabelsFormatError(DedupInputError):
    """Labels are not in FindMatches' labeling format or name unknown records."""


class MatchModelError(DedupInputError):
    """A saved match model cannot be used on this input."""


class SimilarityFunctionsMissingError(LakeforgeError, RuntimeError):
    """Splink's similarity functions are not available in the Spark session."""


# -- Splink's jar ----------------------------------------------------------------------------


class MatchSettingsError(DedupInputError):
    """A MatchSettings field (or a key of its mapping) is invalid; ``field`` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MatchSettings:
    """What to compare and how strictly: the settings every dedup entry point takes.

    ``columns`` (None: every column but the key, configured automatically),
    ``precision_recall_tradeoff`` in [0, 1] (1 favours precision), ``max_em_iterations`` > 0,
    ``seed`` (random pairs for u), ``compute_match_confidence_scores`` and
    ``enforce_provided_labels``. Validated on construction; ``to_dict``/``from_dict`` round-trip
    through JSON (a job config's ``dedup:`` block is such a mapping).

    Example::

        settings = MatchSettings(columns=("name", "dob"), precision_recall_tradeoff=0.7)
        find_matches(people, primary_key="id", settings=settings)
    """

    columns: tuple[str, ...] | None = None
    precision_recall_tradeoff: float = 0.5
    max_em_iterations: int = 25
    seed: int = 42
    compute_match_confidence_scores: bool = True
    enforce_provided_labels: bool = False

    def __post_init__(self) -> None:
        if self.columns is not None:
            if isinstance(self.columns, str) or not all(
                    isinstance(c, str) and c for c in self.columns):
                raise MatchSettingsError(
                    f"MatchSettings.columns must be a list of column names, got {self.columns!r}",
                    "columns")
            if not self.columns:
                raise MatchSettingsError("MatchSettings.columns is empty: name at least one "
                                         "column, or leave it unset to compare all columns",
                                         "columns")
            object.__setattr__(self, "columns", tuple(self.columns))
        t = self.precision_recall_tradeoff
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= float(t) <= 1.0:
            raise MatchSettingsError(f"MatchSettings.precision_recall_tradeoff must be a number "
                                     f"between 0.0 and 1.0, got {t!r}", "precision_recall_tradeoff")
        object.__setattr__(self, "precision_recall_tradeoff", float(t))
        for name in ("max_em_iterations", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise MatchSettingsError(f"MatchSettings.{name} must be an integer, "
                                         f"got {value!r}", name)
        if self.max_em_iterations < 1:
            raise MatchSettingsError(f"MatchSettings.max_em_iterations must be >= 1, "
                                     f"got {self.max_em_iterations}", "max_em_iterations")
        for name in ("compute_match_confidence_scores", "enforce_provided_labels"):
            if not isinstance(getattr(self, name), bool):
                raise MatchSettingsError(f"MatchSettings.{name} must be true or false, "
                                         f"got {getattr(self, name)!r}", name)

    @property
    def threshold(self) -> float:
        """The match-probability threshold of ``precision_recall_tradeoff``."""
        return tradeoff_to_threshold(self.precision_recall_tradeoff)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["columns"] = list(self.columns) if self.columns is not None else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "match settings") -> MatchSettings:
        """Settings from a mapping; unknown keys and bad values name ``source`` and the key."""
        if not isinstance(data, Mapping):
            raise MatchSettingsError(f"{source}: match settings must be a mapping, "
                                     f"got {type(data).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise MatchSettingsError(f"{source}: unknown key(s) {unknown}; allowed: "
                                     f"{', '.join(known)}")
        values = dict(data)
        if isinstance(values.get("columns"), list):
            values["columns"] = tuple(values["columns"])
        try:
            return cls(**values)
        except MatchSettingsError as exc:
            raise MatchSettingsError(f"{source}: {exc}", exc.field) from None


def splink_jar_path() -> str:
    """Absolute path of the similarity-function jar shipped in the splink wheel for this Spark.

    Pass it to ``lakeforge.session.build_session(..., extra_jars=[splink_jar_path()])``.
    """
    from lakeforge.session import splink_jar_path as find_jar

    found = find_jar()
    path = Path(found).resolve() if found else None
    if path is None or not path.is_file():
        raise SimilarityFunctionsMissingError(
            f"Splink's similarity jar is missing from the splink wheel at {path}; "
            "reinstall splink (pip install --force-reinstall 'splink>=4.0,<6')"
        )
    return str(path)


def _functions_registered(spark: SparkSession) -> bool:
    return all(spark.catalog.functionExists(name) for name in _SIMILARITY_FUNCTIONS)


def ensure_similarity_functions(spark: SparkSession) -> None:
    """Register Splink's similarity functions, adding the wheel's jar if the session lacks it.

    The jar is normally on ``spark.jars`` (see :func:`splink_jar_path`); adding it at run time
    with ``ADD JAR`` also reaches the executors. Raises
    :class:`SimilarityFunctionsMissingError` when the classes still cannot be loaded.
    """
    if _functions_registered(spark):
        return
    from splink.internals.spark.jar_location import get_scala_udfs

    jar = splink_jar_path()
    jars = spark.sparkContext.getConf().get("spark.jars", "")
    try:
        if jar not in jars.split(","):
            log.info("adding Splink's similarity jar %s to the running session", jar)
            spark.sql(f"ADD JAR '{jar}'")
        for name, class_name, return_type in get_scala_udfs():
            spark.udf.registerJavaFunction(name, class_name, return_type)
    except Exception as exc:  # py4j / AnalysisException: the JVM could not load the classes
        raise SimilarityFunctionsMissingError(
            f"cannot load Splink's similarity functions from {jar}: {exc}. Build the session "
            "with lakeforge.session.build_session(env, extra_jars=[splink_jar_path()])"
        ) from exc


# -- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchColumn:
    """One compared column: its name in the input, in Splink's frame, and its kind."""

    source: str
    name: str
    kind: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "name": self.name, "kind": self.kind}


@dataclass(frozen=True)
class MatchModel:
    """A trained matching model: Splink settings with m/u values, plus how to prepare input.

    Save with :meth:`save` and pass the object or the JSON path as ``model=``.
    """

    splink_settings: Mapping[str, Any]
    columns: tuple[MatchColumn, ...]
    blocking_rules: tuple[str, ...]
    trained_on_rows: int = 0
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "columns": [c.to_dict() for c in self.columns],
            "blocking_rules": list(self.blocking_rules),
            "trained_on_rows": self.trained_on_rows,
            "notes": list(self.notes),
            "splink_settings": dict(self.splink_settings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model as JSON; refuses to replace an existing file unless ``overwrite``."""
        target = Path(path)
        if target.exists() and not overwrite:
            raise FileExistsError(f"model file {target} exists; pass overwrite=True to replace")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_json(), encoding="utf-8")
        return target

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "model") -> MatchModel:
        if data.get("format") != MODEL_FORMAT:
            raise MatchModelError(
                f"{source}: not a Lakeforge match model (format {data.get('format')!r}, "
                f"expected {MODEL_FORMAT!r})"
            )
        try:
            columns = tuple(
                MatchColumn(c["source"], c["name"], c["kind"]) for c in data["columns"]
            )
            return cls(
                splink_settings=dict(data["splink_settings"]),
                columns=columns,
                blocking_rules=tuple(data["blocking_rules"]),
                trained_on_rows=int(data.get("trained_on_rows", 0)),
                notes=tuple(data.get("notes", ())),
            )
        except (KeyError, TypeError) as exc:
            raise MatchModelError(f"{source}: malformed match model ({exc!r})") from exc

    @classmethod
    def load(cls, path: str | Path) -> MatchModel:
        target = Path(path)
        if not target.is_file():
            raise MatchModelError(f"model file {target} does not exist")
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise MatchModelError(f"model file {target} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, str(target))

    def describe(self) -> list[dict[str, Any]]:
        """Per comparison level: label, m and u probabilities and the match weight."""
        out = []
        for comp in self.splink_settings.get("comparisons", []):
            for level in comp.get("comparison_levels", []):
                if level.get("is_null_level"):
                    continue
                m, u = level.get("m_probability"), level.get("u_probability")
                weight = math.log2(m / u) if m and u else None
                out.append({
                    "comparison": comp.get("output_column_name"),
                    "level": level.get("label_for_charts") or level.get("sql_condition"),
                    "m_probability": m,
                    "u_probability": u,
                    "match_weight": weight,
                })
        return out


@dataclass(frozen=True)
class MatchRun:
    """What :func:`find_matches_detailed` computed: the matched rows and how it got there."""

    result: DataFrame
    model: MatchModel
    rows: int
    candidate_pairs: int
    blocking_rule_pairs: Mapping[str, int]
    edges_above_threshold: int
    clusters: int
    threshold_match_probability: float
    seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MatchEvaluation:
    """Pairwise and cluster precision / recall / F1 of predicted match_ids against truth."""

    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    cluster_precision: float
    cluster_recall: float
    cluster_f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    true_clusters: int
    predicted_clusters: int
    correct_clusters: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


# -- input checks ----------------------------------------------------------------------------


def tradeoff_to_threshold(precision_recall_tradeoff: float) -> float:
    """Map FindMatches' precision/recall tradeoff (0..1) to a match-probability threshold.

    Linear in match weight: 0.5 -> probability 0.5 (match weight 0), 1.0 -> weight +10
    (p = 0.999, favours precision), 0.0 -> weight -10 (p = 0.001, favours recall).
    """
    t = precision_recall_tradeoff
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= float(t) <= 1.0:
        raise MatchSettingsError(
            f"precision_recall_tradeoff must be a number between 0.0 and 1.0, got {t!r}"
        )
    weight = 20.0 * (float(t) - 0.5)
    return 1.0 / (1.0 + 2.0 ** (-weight))


def _check_primary_key(df: DataFrame, primary_key: str, where: str) -> None:
    if not isinstance(primary_key, str) or not primary_key:
        raise DedupInputError(f"{where}: primary_key must be a column name, got {primary_key!r}")
    require_columns(df.columns, [primary_key], where)
    field_type = df.schema[primary_key].dataType
    if not isinstance(field_type, (T.StringType, T.IntegralType)):
        raise DedupInputError(
            f"{where}: primary key {primary_key!r} has type {field_type.simpleString()}; "
            "use a string or integer key"
        )
    nulls = df.filter(F.col(f"`{primary_key}`").isNull()).count()
    if nulls:
        raise NullPrimaryKeyError(
            f"{where}: primary key {primary_key!r} is null in {nulls} row(s); every row needs "
            "a key (fill or drop them before matching)"
        )
    dups = (
        df.groupBy(f"`{primary_key}`").count().filter("count > 1")
        .orderBy(F.desc("count")).limit(5).collect()
    )
    if dups:
        shown = ", ".join(f"{r[0]!r} x{r[1]}" for r in dups)
        raise DuplicatePrimaryKeyError(
            f"{where}: primary key {primary_key!r} is not unique: {shown}"
            f"{' ...' if len(dups) == 5 else ''}; the key must identify one row"
        )


def _check_output_columns_free(df: DataFrame, where: str) -> None:
    taken = [c for c in (MATCH_ID, MATCH_CONFIDENCE_SCORE) if c in df.columns]
    if taken:
        raise DedupInputError(
            f"{where}: input already has column(s) {taken}, which find_matches writes; "
            "drop or rename them first (use find_incremental_matches for matched data)"
        )


def _internal_name(source: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", source.lower()).strip("_") or "col"
    if base[0].isdigit():
        base = f"c_{base}"
    if base in (_UID, _NEW_FLAG) or base.startswith(("match_", "gamma_", "tf_", "bf_")):
        base = f"{base}_v"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _candidate_columns(df: DataFrame, primary_key: str, columns: Sequence[str] | None,
                       where: str) -> list[str]:
    if columns is None:
        skip = {primary_key, MATCH_ID, MATCH_CONFIDENCE_SCORE}
        return [c for c in df.columns if c not in skip]
    if isinstance(columns, str):
        raise DedupInputError(f"{where}: columns must be a list of names, got a string {columns!r}")
    require_columns(df.columns, columns, where)
    if primary_key in columns:
        raise DedupInputError(f"{where}: the primary key {primary_key!r} cannot be compared")
    if not columns:
        raise DedupInputError(f"{where}: columns is empty; name at least one column to compare")
    return list(dict.fromkeys(columns))


def _prepared_frame(df: DataFrame, primary_key: str, columns: Sequence[MatchColumn]) -> DataFrame:
    types = {f.name: f.dataType for f in df.schema.fields}
    selected: list[Column] = [F.col(f"`{primary_key}`").alias(_UID)]
    for c in columns:
        src = F.col(f"`{c.source}`")
        value = src if c.kind == "raw" else prepare_column(src, c.kind, types[c.source])  # type: ignore[arg-type]
        selected.append(value.alias(c.name))
    return df.select(*selected)


# -- labels ----------------------------------------------------------------------------------


def labels_to_pairs(labels: DataFrame, primary_key: str) -> DataFrame:
    """FindMatches labels -> pairs ``(unique_id_l, unique_id_r, is_match)`` with l < r.

    Within one ``labeling_set_id``, records with the same ``label`` are the same entity and
    records with different labels are different entities.
    """
    where = "labels"
    require_columns(labels.columns, [LABELING_SET_ID, LABEL, primary_key], where)
    bad = labels.filter(
        F.col(LABELING_SET_ID).isNull() | F.col(LABEL).isNull()
        | F.col(f"`{primary_key}`").isNull()
    ).count()
    if bad:
        raise LabelsFormatError(
            f"{where}: {bad} row(s) have a null {LABELING_SET_ID}, {LABEL} or {primary_key}"
        )
    rows = labels.select(
        F.col(LABELING_SET_ID).cast("string").alias("s"),
        F.col(LABEL).cast("string").alias("lab"),
        F.col(f"`{primary_key}`").alias("k"),
    ).distinct()
    a, b = rows.alias("a"), rows.alias("b")
    pairs = a.join(b, (F.col("a.s") == F.col("b.s")) & (F.col("a.k") < F.col("b.k"))).select(
        F.col("a.k").alias(f"{_UID}_l"),
        F.col("b.k").alias(f"{_UID}_r"),
        (F.col("a.lab") == F.col("b.lab")).alias("is_match"),
    )
    conflicts = pairs.groupBy(f"{_UID}_l", f"{_UID}_r").agg(
        F.countDistinct("is_match").alias("n")
    ).filter("n > 1").limit(3).collect()
    if conflicts:
        shown = ", ".join(f"({r[0]!r}, {r[1]!r})" for r in conflicts)
        raise LabelsFormatError(
            f"{where}: pairs labeled both match and non-match in different labeling sets: {shown}"
        )
    return pairs.groupBy(f"{_UID}_l", f"{_UID}_r").agg(F.first("is_match").alias("is_match"))


def _check_label_keys(labels: DataFrame, df: DataFrame, primary_key: str) -> None:
    unknown = (
        labels.select(F.col(f"`{primary_key}`").alias("k")).distinct()
        .join(df.select(F.col(f"`{primary_key}`").alias("k")), "k", "left_anti")
        .limit(5).collect()
    )
    if unknown:
        raise LabelsFormatError(
            f"labels: {primary_key} value(s) {[r[0] for r in unknown]} are not in the input; "
            "labels must refer to records of the frame being matched"
        )


# -- Splink plumbing -------------------------------------------------------------------------


def _spark_api(spark: SparkSession) -> Any:
    """Splink's Spark backend, writing its intermediate tables as Parquet.

    Splink chains many intermediate tables; keeping them as cached plans makes plan strings
    grow until the driver runs out of memory, so they go to the SparkContext's checkpoint
    folder (``spark.checkpoint.dir`` or ``lakeforge.dedup.checkpointDir``; a temp folder on a
    local master).
    """
    from splink import SparkAPI

    jsc = spark.sparkContext._jsc  # type: ignore[attr-defined]
    if jsc.sc().getCheckpointDir().isEmpty():
        folder = spark.conf.get("lakeforge.dedup.checkpointDir", None)
        if not folder:
            if not spark.sparkContext.master.startswith("local"):
                raise DedupInputError(
                    "find_matches needs a checkpoint folder on a cluster: set "
                    "spark.checkpoint.dir (or lakeforge.dedup.checkpointDir) to an s3:// or "
                    "hdfs:// path"
                )
            folder = tempfile.mkdtemp(prefix="lakeforge-splink-")
        log.info("Splink intermediate tables go to checkpoint folder %s", folder)
        spark.sparkContext.setCheckpointDir(folder)
    return SparkAPI(
        spark_session=spark,
        break_lineage_method="parquet",
        register_udfs_automatically=False,
    )


def _rule_sql(rule: Any) -> str:
    if isinstance(rule, str):
        return rule
    if isinstance(rule, Mapping) and "blocking_rule" in rule:
        return str(rule["blocking_rule"])
    get = getattr(rule, "get_blocking_rule", None)
    if callable(get):
        return str(get("spark").blocking_rule_sql)
    raise DedupInputError(
        f"blocking rule {rule!r} is neither SQL text nor a Splink blocking rule (block_on(...))"
    )


def _settings(
    comparisons: Sequence[Any],
    blocking_rules: Sequence[str],
    max_em_iterations: int,
    retain: Sequence[str] = (),
) -> dict[str, Any]:
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type="dedupe_only",
        comparisons=list(comparisons),
        blocking_rules_to_generate_predictions=list(blocking_rules),
        unique_id_column_name=_UID,
        max_iterations=max_em_iterations,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=list(retain),
    )
    return creator.create_settings_dict("spark")


def _linker(db_api: Any, frame: DataFrame, settings: Mapping[str, Any]) -> Linker:
    from splink import Linker

    table = db_api.register(frame)
    return Linker(table, dict(settings), log_level=None)


def _estimate_u_in_one_pass(
    linker: Linker, frame: DataFrame, rows: int, max_pairs: float, seed: int
) -> None:
    """u probabilities from random pairs, every comparison in one Spark job.

    The same estimate as Splink's ``estimate_u_using_random_sampling`` (a random sample of
    about sqrt(2 * max_pairs) records, all pairs among them, the share of pairs in each
    comparison level), but Splink 5 runs a probe and chunked jobs per comparison, which
    dominates training time on a small cluster. The levels are Splink's own SQL and the
    result goes through Splink's trained-parameter bookkeeping.
    """
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

    comparisons = linker._settings_obj.comparisons
    wanted = math.ceil(0.5 * ((8 * max_pairs + 1) ** 0.5 + 1))
    sample = frame if wanted >= rows else frame.sample(
        fraction=min(1.0, 1.05 * wanted / rows), seed=seed
    )
    cols = frame.columns
    left = sample.select(*[F.col(c).alias(f"{c}_l") for c in cols])
    right = sample.select(*[F.col(c).alias(f"{c}_r") for c in cols])
    pairs = left.join(right, F.col(f"{_UID}_l") < F.col(f"{_UID}_r"))
    gammas = pairs.selectExpr(*[cc._case_statement for cc in comparisons])
    stacked = gammas.select(F.explode(F.array(*[
        F.struct(F.lit(i).alias("c"), F.col(cc._gamma_column_name).alias("g"))
        for i, cc in enumerate(comparisons)
    ])).alias("x")).select("x.c", "x.g")
    counts: dict[int, dict[int, int]] = {}
    for r in stacked.groupBy("c", "g").count().collect():
        counts.setdefault(int(r["c"]), {})[int(r["g"])] = int(r["count"])
    for i, cc in enumerate(comparisons):
        levels = {g: n for g, n in counts.get(i, {}).items() if g != -1}
        total = sum(levels.values())
        for cl in cc._comparison_levels_excluding_null:
            n = levels.get(cl.comparison_vector_value, 0)
            # A level never seen among random pairs (an exact id match) gets half a pair:
            # rare, but not impossible, so its match weight stays finite.
            u = (n or 0.5) / total if total else LEVEL_NOT_OBSERVED_TEXT
            cl._add_trained_u_probability(u, "estimate u by random sampling")
    linker._populate_m_u_from_trained_values()


def _train(
    linker: Linker,
    frame: DataFrame,
    frame_rows: int,
    em_rules: Sequence[str],
    label_pairs: DataFrame | None,
    seed: int,
    em_max_pairs: float | None,
    prediction_rules: Sequence[str],
) -> list[str]:
    """u by random sampling, lambda and m by EM, m from labeled matches; returns notes."""
    notes: list[str] = []
    all_pairs = frame_rows * (frame_rows - 1) / 2
    t0 = time.perf_counter()
    _estimate_u_in_one_pass(linker, frame, frame_rows, min(max(all_pairs, 1.0), U_PAIRS), seed)
    log.info("u estimated in %.1fs", time.perf_counter() - t0)
    for rule in em_rules:
        t0 = time.perf_counter()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule,
                estimate_without_term_frequencies=True,
                populate_probability_two_random_records_match_from_trained_values=True,
                max_pairs=em_max_pairs,
            )
        except Exception as exc:  # Splink raises when a rule gives no pairs or levels collapse
            notes.append(f"EM on {rule!r} skipped: {exc}")
            log.warning("EM on %r skipped: %s", rule, exc)
        log.info("EM blocked on %s in %.1fs", rule, time.perf_counter() - t0)
    prior = linker._settings_obj._probability_two_random_records_match
    if not (math.isfinite(prior) and 0.0 < prior < 1.0):
        # EM's prior is undefined when a blocking level was never seen among random pairs
        # (small inputs): estimate it from agreement on two blocking rules at once instead.
        first = list(prediction_rules[:4])
        deterministic = [f"({a}) and ({b})" for i, a in enumerate(first) for b in first[i + 1 :]]
        linker.training.estimate_probability_two_random_records_match(
            deterministic or first, recall=0.8
        )
        notes.append(
            f"EM gave no usable match prior ({prior}); estimated it from records agreeing on "
            "two blocking rules, assuming 80% recall"
        )
    if label_pairs is not None:
        matches = label_pairs.filter("is_match").select(f"{_UID}_l", f"{_UID}_r")
        if matches.limit(1).count():
            table = linker.table_management.register_table(
                matches, f"__lf_labels_{id(matches)}", overwrite=True
            )
            linker.training.estimate_m_from_pairwise_labels(table)
            notes.append("m probabilities include estimates from labeled matching pairs")
    return notes


def _auto_configuration(
    df: DataFrame, primary_key: str, columns: Sequence[str], rows: int, where: str
) -> tuple[list[MatchColumn], list[Any], list[ColumnPlan]]:
    taken: set[str] = set()
    renamed = {c: _internal_name(c, taken) for c in columns}
    view = df.select(*[F.col(f"`{c}`").alias(renamed[c]) for c in columns])
    t0 = time.perf_counter()
    plans, skipped = plan_columns(view, list(renamed.values()), rows)
    log.info("%s: columns profiled in %.1fs", where, time.perf_counter() - t0)
    if skipped:
        log.info("%s: not compared (no usable values): %s", where, skipped)
    if not plans:
        raise DedupInputError(
            f"{where}: no column can be compared automatically (skipped: {skipped}); "
            "pass columns=[...] with name/date/code columns or comparisons=[...]"
        )
    back = {v: k for k, v in renamed.items()}
    match_columns = [MatchColumn(back[p.name], p.name, p.kind) for p in plans]
    for p in plans:
        log.info("%s: %s compared as %s (%s)", where, back[p.name], p.kind, p.reason)
    comparisons = [comparison_for(p, plans) for p in plans]
    return match_columns, comparisons, plans


def _user_configuration(
    df: DataFrame, primary_key: str, columns: Sequence[str] | None, comparisons: Sequence[Any],
    where: str,
) -> tuple[list[MatchColumn], list[Any]]:
    if isinstance(comparisons, (str, Mapping)) or not comparisons:
        raise DedupInputError(
            f"{where}: comparisons must be a non-empty list of Splink comparisons"
        )
    cols = _candidate_columns(df, primary_key, columns, where)
    bad = [c for c in cols if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c) or c == _UID]
    if bad:
        raise DedupInputError(
            f"{where}: with explicit comparisons, compared columns must be plain identifiers "
            f"other than {_UID!r}; rename {bad}"
        )
    return [MatchColumn(c, c, "raw") for c in cols], list(comparisons)


def train_match_model(
    df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
    labels: DataFrame | None = None,
) -> MatchModel:
    """Configure (automatically unless ``comparisons`` is given) and train a model on ``df``."""
    return _fit(df, primary_key, settings or MatchSettings(), comparisons, blocking_rules,
                labels, "train_match_model")[0]


def _fit(
    df: DataFrame,
    primary_key: str,
    settings: MatchSettings,
    comparisons: Sequence[Any] | None,
    blocking_rules: Sequence[Any] | None,
    labels: DataFrame | None,
    where: str,
    checked_rows: int | None = None,
) -> tuple[MatchModel, dict[str, int], int]:
    """Configure and train; ``checked_rows`` says the key was already checked on ``df``."""
    columns, max_em_iterations, seed = (settings.columns, settings.max_em_iterations,
                                        settings.seed)
    if checked_rows is None:
        _check_primary_key(df, primary_key, where)
    rows = df.count() if checked_rows is None else checked_rows
    if rows < 2:
        raise DedupInputError(f"{where}: training needs at least 2 rows, got {rows}")
    spark = df.sparkSession
    ensure_similarity_functions(spark)
    if comparisons is None:
        cand = _candidate_columns(df, primary_key, columns, where)
        match_columns, comps, _ = _auto_configuration(df, primary_key, cand, rows, where)
    else:
        match_columns, comps = _user_configuration(df, primary_key, columns, comparisons, where)
    frame = _prepared_frame(df, primary_key, match_columns).persist()
    try:
        rule_pairs: dict[str, int]
        if blocking_rules is None:
            plans = [
                ColumnPlan(c.name, c.kind, "", False)  # type: ignore[arg-type]
                for c in match_columns if c.kind != "raw"
            ]
            t0 = time.perf_counter()
            chosen = propose_blocking_rules(frame, plans, rows)
            log.info("blocking rules chosen in %.1fs", time.perf_counter() - t0)
            if not chosen:
                if rows * (rows - 1) / 2 > 50_000:
                    raise DedupInputError(
                        f"{where}: no column is specific enough to block on and comparing all "
                        f"{rows} rows pairwise is too costly; pass blocking_rules=[...]"
                    )
                chosen = [BlockingCandidate(("1",), rows * (rows - 1) // 2)]
            rules = ["1=1" if c.expressions == ("1",) else c.sql for c in chosen]
            rule_pairs = {r: c.pairs for r, c in zip(rules, chosen, strict=True)}
            em = [c.sql for c in training_rules(chosen) if c.expressions != ("1",)]
        else:
            if isinstance(blocking_rules, str) or not blocking_rules:
                raise DedupInputError(f"{where}: blocking_rules must be a non-empty list")
            rules = [_rule_sql(r) for r in blocking_rules]
            rule_pairs = {}
            em = rules[:2]
        label_pairs = None
        if labels is not None:
            _check_label_keys(labels, df, primary_key)
            label_pairs = labels_to_pairs(labels, primary_key)
        splink_settings = _settings(comps, rules, max_em_iterations)
        db_api = _spark_api(spark)
        linker = _linker(db_api, frame, splink_settings)
        try:
            # Automatic rules were measured (at most 5n pairs each): no sampling probe needed.
            em_max_pairs = None if blocking_rules is None else 2e6
            notes = _train(linker, frame, rows, em, label_pairs, seed, em_max_pairs, rules)
            trained = linker.misc.save_model_to_json()
        finally:
            linker.table_management.delete_tables_created_by_splink_from_db()
    finally:
        frame.unpersist()
    model = MatchModel(
        splink_settings=trained,
        columns=tuple(match_columns),
        blocking_rules=tuple(rules),
        trained_on_rows=rows,
        notes=tuple(notes),
    )
    return model, rule_pairs, rows


def _resolve_model(model: MatchModel | str | Path | Mapping[str, Any]) -> MatchModel:
    if isinstance(model, MatchModel):
        return model
    if isinstance(model, (str, Path)):
        return MatchModel.load(model)
    if isinstance(model, Mapping):
        return MatchModel.from_dict(model)
    raise MatchModelError(f"model must be a MatchModel, a JSON path or a dict, got {type(model)}")


def _check_model_columns(df: DataFrame, model: MatchModel, where: str) -> None:
    require_columns(
        df.columns, [c.source for c in model.columns], f"{where} (columns the model compares)"
    )


# -- matching --------------------------------------------------------------------------------


def _empty_result(df: DataFrame, primary_key: str, scores: bool) -> DataFrame:
    out = df.withColumn(MATCH_ID, F.col(f"`{primary_key}`"))
    if scores:
        out = out.withColumn(MATCH_CONFIDENCE_SCORE, F.lit(None).cast("double"))
    return out


def _normalised_edges(predictions: DataFrame) -> DataFrame:
    return predictions.select(
        F.least(f"{_UID}_l", f"{_UID}_r").alias(f"{_UID}_l"),
        F.greatest(f"{_UID}_l", f"{_UID}_r").alias(f"{_UID}_r"),
        F.col("match_probability").cast("double").alias("match_probability"),
    )


def _enforce_labels(edges: DataFrame, label_pairs: DataFrame) -> DataFrame:
    """Labeled matches become certain edges; labeled non-matches lose their edge."""
    joined = edges.join(label_pairs, [f"{_UID}_l", f"{_UID}_r"], "full_outer")
    return joined.select(
        f"{_UID}_l", f"{_UID}_r",
        F.when(F.col("is_match") == F.lit(True), F.lit(1.0))
        .when(F.col("is_match") == F.lit(False), F.lit(0.0))
        .otherwise(F.col("match_probability")).alias("match_probability"),
    ).filter(F.col("match_probability") > 0)


def _connected_components(
    db_api: Any, nodes: DataFrame, edges: DataFrame, threshold: float
) -> DataFrame:
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    clusters = cluster_pairwise_predictions_at_threshold(
        nodes.select(_UID),
        edges.filter(F.col("match_probability") >= threshold),
        db_api,
        node_id_column_name=_UID,
        threshold_match_probability=None,
    )
    return clusters.as_spark_dataframe().select(_UID, "cluster_id")


def _confidence(assigned: DataFrame, edges: DataFrame) -> DataFrame:
    """Per record: the best probability linking it into its group, or for a record alone the
    probability that it matches none of its candidates (1 - best edge)."""
    both = edges.select(
        F.col(f"{_UID}_l").alias("a"), F.col(f"{_UID}_r").alias("b"), "match_probability"
    ).unionByName(edges.select(
        F.col(f"{_UID}_r").alias("a"), F.col(f"{_UID}_l").alias("b"), "match_probability"
    ))
    ga = assigned.select(F.col(_UID).alias("a"), F.col(MATCH_ID).alias("ga"))
    gb = assigned.select(F.col(_UID).alias("b"), F.col(MATCH_ID).alias("gb"))
    scored = both.join(ga, "a").join(gb, "b").groupBy("a").agg(
        F.max(F.when(F.col("ga") == F.col("gb"), F.col("match_probability"))).alias("inside"),
        F.max("match_probability").alias("best"),
    )
    sizes = assigned.groupBy(MATCH_ID).agg(F.count(F.lit(1)).alias("size"))
    return (
        assigned.join(sizes, MATCH_ID)
        .join(scored.withColumnRenamed("a", _UID), _UID, "left")
        .select(
            _UID,
            MATCH_ID,
            F.when(F.col("size") > 1, F.coalesce("inside", F.lit(1.0)))
            .otherwise(1.0 - F.coalesce("best", F.lit(0.0)))
            .alias(MATCH_CONFIDENCE_SCORE),
        )
    )


def _attach(df: DataFrame, primary_key: str, mapping: DataFrame, scores: bool) -> DataFrame:
    cols = [F.col(_UID).alias("__lf_key"), F.col(MATCH_ID)]
    if scores:
        cols.append(F.col(MATCH_CONFIDENCE_SCORE).cast("double"))
    right = mapping.select(*cols)
    return df.join(right, F.col(f"`{primary_key}`") == F.col("__lf_key"), "left").drop("__lf_key")


def find_matches_detailed(
    df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    labels: DataFrame | None = None,
    model: MatchModel | Mapping[str, Any] | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
) -> MatchRun:
    """:func:`find_matches` plus the model, candidate-pair counts and timings (for reports)."""
    where = "find_matches"
    settings = settings or MatchSettings()
    columns = settings.columns
    enforce_provided_labels = settings.enforce_provided_labels
    compute_match_confidence_scores = settings.compute_match_confidence_scores
    timings: dict[str, float] = {}
    start = time.perf_counter()
    threshold = settings.threshold
    _check_output_columns_free(df, where)
    _check_primary_key(df, primary_key, where)
    if model is not None and (comparisons is not None or columns is not None):
        raise DedupInputError(f"{where}: pass either model= or columns/comparisons, not both")
    resolved = _resolve_model(model) if model is not None else None
    if resolved is not None:
        _check_model_columns(df, resolved, where)
    elif columns is not None:
        _candidate_columns(df, primary_key, columns, where)
    rows = df.count()
    if rows == 0:
        empty_model = resolved or MatchModel({}, (), ())
        return MatchRun(_empty_result(df, primary_key, compute_match_confidence_scores),
                        empty_model, 0, 0, {}, 0, 0, threshold, {"total": 0.0})
    if labels is not None:
        _check_label_keys(labels, df, primary_key)
    rule_pairs: dict[str, int] = {}
    if resolved is None:
        if rows == 1:
            resolved = MatchModel({}, (), ())
        else:
            resolved, rule_pairs, _ = _fit(df, primary_key, settings, comparisons,
                                           blocking_rules, labels, where, rows)
        timings["training"] = time.perf_counter() - start
    spark = df.sparkSession
    if rows == 1:
        mapping = df.select(
            F.col(f"`{primary_key}`").alias(_UID), F.col(f"`{primary_key}`").alias(MATCH_ID),
            F.lit(1.0).alias(MATCH_CONFIDENCE_SCORE),
        )
        return MatchRun(_attach(df, primary_key, mapping, compute_match_confidence_scores),
                        resolved, 1, 0, {}, 0, 1, threshold, {"total": 0.0})
    ensure_similarity_functions(spark)
    settings = dict(resolved.splink_settings)
    if blocking_rules is not None and model is not None:
        settings["blocking_rules_to_generate_predictions"] = [_rule_sql(r) for r in blocking_rules]
    frame = _prepared_frame(df, primary_key, resolved.columns).persist()
    db_api = _spark_api(spark)
    linker = _linker(db_api, frame, settings)
    try:
        t0 = time.perf_counter()
        blocked = linker.inference.compute_blocked_pairs_for_predict()
        candidate_pairs = blocked.as_spark_dataframe().count()
        if not rule_pairs:
            rule_pairs = {r: -1 for r in resolved.blocking_rules}
        log.info("%s: %d rows, %d candidate pairs (n(n-1)/2 = %d)", where, rows,
                 candidate_pairs, rows * (rows - 1) // 2)
        predictions = linker.inference.predict(
            threshold_match_probability=min(EDGE_FLOOR, threshold), warning_mode="never"
        )
        edges = _normalised_edges(predictions.as_spark_dataframe())
        if labels is not None and enforce_provided_labels:
            edges = _enforce_labels(edges, labels_to_pairs(labels, primary_key))
        edges = edges.persist()
        timings["scoring"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        clusters = _connected_components(db_api, frame, edges, threshold)
        assigned = clusters.withColumn(
            MATCH_ID, F.min(_UID).over(Window.partitionBy("cluster_id"))
        ).select(_UID, MATCH_ID)
        if compute_match_confidence_scores:
            mapping = _confidence(assigned, edges)
        else:
            mapping = assigned
        mapping = mapping.localCheckpoint(eager=True)
        edges_above = edges.filter(F.col("match_probability") >= threshold).count()
        n_clusters = mapping.select(MATCH_ID).distinct().count()
        timings["clustering"] = time.perf_counter() - t0
        edges.unpersist()
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        frame.unpersist()
    timings["total"] = time.perf_counter() - start
    if labels is not None and enforce_provided_labels:
        _warn_broken_non_match_labels(mapping, labels_to_pairs(labels, primary_key))
    result = _attach(df, primary_key, mapping, compute_match_confidence_scores)
    return MatchRun(result, resolved, rows, candidate_pairs, rule_pairs, edges_above,
                    n_clusters, threshold, timings)


def _warn_broken_non_match_labels(mapping: DataFrame, label_pairs: DataFrame) -> None:
    ids = mapping.select(_UID, MATCH_ID)
    broken = (
        label_pairs.filter(~F.col("is_match"))
        .join(ids.withColumnRenamed(_UID, f"{_UID}_l").withColumnRenamed(MATCH_ID, "ml"),
              f"{_UID}_l")
        .join(ids.withColumnRenamed(_UID, f"{_UID}_r").withColumnRenamed(MATCH_ID, "mr"),
              f"{_UID}_r")
        .filter(F.col("ml") == F.col("mr")).count()
    )
    if broken:
        log.warning(
            "%d pair(s) labeled as different entities still share a match_id through other "
            "records (their direct link was removed)", broken,
        )


def find_matches(
    df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    labels: DataFrame | None = None,
    model: MatchModel | Mapping[str, Any] | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
) -> DataFrame:
    """Every row of ``df`` plus ``match_id`` and ``match_confidence_score``.

    ``match_id`` is the smallest primary key among the records of one entity (so it has the
    key's type). ``match_confidence_score`` is, for a record grouped with others, the highest
    match probability linking it to its group, and for a record alone, one minus the highest
    match probability to any candidate. Without ``model`` a model is trained on ``df`` first
    (use :func:`train_match_model` to keep and save it). ``labels`` is a DataFrame in
    FindMatches' labeling format (``labeling_set_id``, ``label`` and the primary key).

    Example::

        matched = find_matches(people, primary_key="id",
                               settings=MatchSettings(precision_recall_tradeoff=0.7))
    """
    return find_matches_detailed(df, primary_key=primary_key, settings=settings, labels=labels,
                                 model=model, comparisons=comparisons,
                                 blocking_rules=blocking_rules).result


# -- incremental -----------------------------------------------------------------------------


def _incremental_rule(sql: str) -> str:
    return f"({sql}) and (l.{_NEW_FLAG} = 1 or r.{_NEW_FLAG} = 1)"


def find_incremental_matches(
    existing_df: DataFrame,
    incremental_df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    model: MatchModel | Mapping[str, Any] | None = None,
    comparisons: Sequence[Any] | None = None,
) -> DataFrame:
    """Match new records against an already matched set; existing ``match_id``s never change.

    ``existing_df`` is a previous output (it has ``match_id``); its rows come back unchanged.
    Each group of new records that match each other joins the existing entity it links to most
    strongly, else it becomes a new entity whose ``match_id`` is its smallest new key. Existing
    entities are never merged or split, even if a new record resembles two of them. Only pairs
    involving a new record are scored. Without ``model``, one is trained on both frames.
    """
    where = "find_incremental_matches"
    settings = settings or MatchSettings()
    threshold = settings.threshold
    require_columns(existing_df.columns, [MATCH_ID], f"{where} existing_df")
    if MATCH_ID in incremental_df.columns or MATCH_CONFIDENCE_SCORE in incremental_df.columns:
        raise DedupInputError(
            f"{where}: incremental_df already has {MATCH_ID}/{MATCH_CONFIDENCE_SCORE}; new "
            "records must be unmatched (drop those columns)"
        )
    base_cols = [c for c in existing_df.columns if c not in (MATCH_ID, MATCH_CONFIDENCE_SCORE)]
    missing = [c for c in base_cols if c not in incremental_df.columns]
    if missing:
        raise DedupInputError(
            f"{where}: incremental_df lacks column(s) {missing} that existing_df has"
        )
    new = incremental_df.select(*[F.col(f"`{c}`") for c in base_cols])
    old = existing_df.select(*[F.col(f"`{c}`") for c in base_cols])
    _check_primary_key(existing_df, primary_key, f"{where} existing_df")
    _check_primary_key(incremental_df, primary_key, f"{where} incremental_df")
    null_ids = existing_df.filter(F.col(MATCH_ID).isNull()).count()
    if null_ids:
        raise DedupInputError(f"{where}: existing_df has {null_ids} row(s) with a null match_id")
    both = old.unionByName(new)
    _check_primary_key(both, primary_key, f"{where} (existing and new rows together)")
    scores = settings.compute_match_confidence_scores
    out_old = existing_df
    if scores and MATCH_CONFIDENCE_SCORE not in existing_df.columns:
        out_old = existing_df.withColumn(MATCH_CONFIDENCE_SCORE, F.lit(None).cast("double"))
    if not scores and MATCH_CONFIDENCE_SCORE in existing_df.columns:
        out_old = existing_df.drop(MATCH_CONFIDENCE_SCORE)
    id_type = existing_df.schema[MATCH_ID].dataType
    n_new = new.count()
    if n_new == 0:
        return out_old
    resolved = (
        _resolve_model(model) if model is not None
        else _fit(both, primary_key, settings, comparisons, None, None, where)[0]
    )
    _check_model_columns(new, resolved, where)
    spark = existing_df.sparkSession
    ensure_similarity_functions(spark)
    settings = dict(resolved.splink_settings)
    settings["blocking_rules_to_generate_predictions"] = [
        _incremental_rule(r) for r in resolved.blocking_rules
    ]
    settings["additional_columns_to_retain"] = [_NEW_FLAG]
    frame = (
        _prepared_frame(old, primary_key, resolved.columns).withColumn(_NEW_FLAG, F.lit(0))
        .unionByName(
            _prepared_frame(new, primary_key, resolved.columns).withColumn(_NEW_FLAG, F.lit(1))
        ).persist()
    )
    db_api = _spark_api(spark)
    linker = _linker(db_api, frame, settings)
    try:
        predictions = linker.inference.predict(
            threshold_match_probability=min(EDGE_FLOOR, threshold), warning_mode="never"
        ).as_spark_dataframe()
        new_ids = new.select(F.col(f"`{primary_key}`").alias(_UID))
        flagged = predictions.select(
            f"{_UID}_l", f"{_UID}_r", "match_probability",
            F.col(f"{_NEW_FLAG}_l").alias("nl"), F.col(f"{_NEW_FLAG}_r").alias("nr"),
        )
        new_new = _normalised_edges(flagged.filter("nl = 1 and nr = 1")).persist()
        # new -> existing edges, oriented (new key, existing key)
        cross = flagged.filter("nl + nr = 1").select(
            F.when(F.col("nl") == 1, F.col(f"{_UID}_l")).otherwise(F.col(f"{_UID}_r")).alias("n"),
            F.when(F.col("nl") == 1, F.col(f"{_UID}_r")).otherwise(F.col(f"{_UID}_l")).alias("e"),
            F.col("match_probability").cast("double").alias("p"),
        )
        existing_ids = existing_df.select(F.col(f"`{primary_key}`").alias("e"),
                                          F.col(MATCH_ID).alias("em"))
        cross = cross.join(existing_ids, "e").persist()
        groups = _connected_components(db_api, new_ids, new_new, threshold).withColumn(
            "own", F.min(_UID).over(Window.partitionBy("cluster_id"))
        )
        best = (
            groups.join(cross.filter(F.col("p") >= threshold), F.col(_UID) == F.col("n"))
            .groupBy("cluster_id", "em").agg(F.max("p").alias("p"))
            .withColumn("rank", F.row_number().over(
                Window.partitionBy("cluster_id").orderBy(F.desc("p"), F.asc("em"))))
            .filter("rank = 1").select("cluster_id", "em")
        )
        assigned = groups.join(best, "cluster_id", "left").select(
            _UID,
            F.coalesce(F.col("em"), F.col("own").cast(id_type)).alias(MATCH_ID),
        )
        if scores:
            everyone = assigned.unionByName(
                existing_df.select(F.col(f"`{primary_key}`").alias(_UID), F.col(MATCH_ID))
            )
            all_edges = new_new.unionByName(cross.select(
                F.least("n", "e").alias(f"{_UID}_l"), F.greatest("n", "e").alias(f"{_UID}_r"),
                F.col("p").alias("match_probability"),
            ))
            mapping = _confidence(everyone, all_edges).join(new_ids, _UID, "left_semi")
        else:
            mapping = assigned
        mapping = mapping.localCheckpoint(eager=True)
        new_new.unpersist()
        cross.unpersist()
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        frame.unpersist()
    matched_new = _attach(incremental_df, primary_key, mapping, scores)
    return out_old.unionByName(matched_new.select(*out_old.columns))


# -- evaluation ------------------------------------------------------------------------------


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate_matches(
    predicted_df: DataFrame, truth_column: str, *, match_id_column: str = MATCH_ID
) -> MatchEvaluation:
    """Pairwise and cluster precision, recall and F1 of ``match_id`` against a truth column.

    A pair is predicted when both records share a match_id and true when both share a truth
    value; a null truth value is an entity of its own. A cluster counts as correct when a
    predicted group holds exactly the records of one true entity.
    """
    require_columns(predicted_df.columns, [truth_column, match_id_column], "evaluate_matches")
    df = predicted_df.select(
        F.col(f"`{match_id_column}`").cast("string").alias("m"),
        F.coalesce(
            F.col(f"`{truth_column}`").cast("string"),
            F.concat(F.lit("\u0000row"), F.monotonically_increasing_id().cast("string")),
        ).alias("t"),
    )
    nulls = df.filter(F.col("m").isNull()).count()
    if nulls:
        raise DedupInputError(f"evaluate_matches: {nulls} row(s) have a null {match_id_column}")

    def pairs(col: Column) -> Column:
        return F.coalesce(F.sum(col * (col - 1) / 2), F.lit(0))

    by_m = df.groupBy("m").agg(F.count(F.lit(1)).alias("n"), F.countDistinct("t").alias("nt"),
                               F.first("t").alias("t"))
    by_t = df.groupBy("t").agg(F.count(F.lit(1)).alias("tn"))
    by_mt = df.groupBy("m", "t").count()
    pred = by_m.agg(pairs(F.col("n")).alias("p"), F.count(F.lit(1)).alias("c")).first()
    true = by_t.agg(pairs(F.col("tn")).alias("p"), F.count(F.lit(1)).alias("c")).first()
    both = by_mt.agg(pairs(F.col("count")).alias("p")).first()
    exact = by_m.filter("nt = 1").join(by_t, "t").filter("n = tn").count()
    assert pred is not None and true is not None and both is not None
    pp, tp, cp = int(pred["p"]), int(true["p"]), int(both["p"])
    precision = cp / pp if pp else 1.0
    recall = cp / tp if tp else 1.0
    c_prec = exact / pred["c"] if pred["c"] else 1.0
    c_rec = exact / true["c"] if true["c"] else 1.0
    return MatchEvaluation(
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=_f1(precision, recall),
        cluster_precision=c_prec,
        cluster_recall=c_rec,
        cluster_f1=_f1(c_prec, c_rec),
        true_pairs=tp,
        predicted_pairs=pp,
        correct_pairs=cp,
        true_clusters=int(true["c"]),
        predicted_clusters=int(pred["c"]),
        correct_clusters=exact,
    )


__all__ = [
    "DedupInputError",
    "DuplicatePrimaryKeyError",
    "LabelsFormatError",
    "MatchEvaluation",
    "MatchModel",
    "MatchModelError",
    "MatchRun",
    "MatchSettings",
    "MatchSettingsError",
    "NullPrimaryKeyError",
    "SimilarityFunctionsMissingError",
    "count_block_pairs",
    "ensure_similarity_functions",
    "evaluate_matches",
    "find_incremental_matches",
    "find_matches",
    "find_matches_detailed",
    "labels_to_pairs",
    "splink_jar_path",
    "train_match_model",
    "tradeoff_to_threshold",
]
