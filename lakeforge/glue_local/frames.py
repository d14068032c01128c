"""DynamicFrame on a Spark DataFrame, DynamicFrameCollection, and the reader/writer fronts.

A :class:`DynamicFrame` holds a DataFrame and the choice columns found when it was read
(:mod:`.choice`); its methods run Lakeforge's Glue transforms (:mod:`transforms.glue`) on the
DataFrame and carry the choices of the columns they leave unchanged. Method names and
signatures are Glue's. A Glue method that is not implemented raises
:class:`~lakeforge.glue_local.errors.GlueApiNotImplementedError` naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.errors import MissingColumnsError
from lakeforge.glue_local import choice as choice_mod
from lakeforge.glue_local.errors import GlueApiNotImplementedError
from lakeforge.glue_local.records import DynamicRecord, filter_records, map_records
from transforms.glue import (
    apply_mapping,
    drop_fields,
    join,
    relationalize,
    rename_field,
    resolve_choice,
    select_fields,
    split_fields,
    split_rows,
    unbox,
    unnest,
)
from transforms.glue.field_paths import has_path, parse_path

log = logging.getLogger(__name__)

_NOT_IMPLEMENTED = {
    "unnest_ddb_json": "unnest DynamoDB JSON with from_json on toDF() and fromDF",
    "simplify_ddb_json": "unnest DynamoDB JSON with from_json on toDF() and fromDF",
    "mapPartitions": "use toDF().rdd.mapPartitions and DynamicFrame.fromDF",
    "mapPartitionsWithIndex": "use toDF().rdd.mapPartitionsWithIndex and DynamicFrame.fromDF",
    "with_frame_schema": "cast toDF()'s columns and use DynamicFrame.fromDF",
}


class DynamicFrame:
    """Glue's DynamicFrame, backed by a DataFrame.

    Example::

        dyf = DynamicFrame.fromDF(df, glue_context, "orders")
        dyf.resolveChoice(specs=[("price", "cast:double")]).toDF()
    """

    def __init__(self, jdf: DataFrame, glue_ctx: Any, name: str = "",
                 choices: Mapping[str, Sequence[str]] | None = None,
                 errors: DataFrame | None = None) -> None:
        if not isinstance(jdf, DataFrame):
            raise TypeError(f"DynamicFrame: expected a pyspark DataFrame, got "
                            f"{type(jdf).__name__} (use DynamicFrame.fromDF(df, glue_ctx, name))")
        self._df = jdf
        self.glue_ctx = glue_ctx
        self.name = name
        self._choices = {k: tuple(v) for k, v in (choices or {}).items()}
        # Error records of every stage up to this frame, and of the stage that made it.
        self._errors = errors
        self._stage_errors = errors

    # ------------------------------------------------------------------ conversion

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx: Any, name: str = "") -> DynamicFrame:  # noqa: N802
        """A DynamicFrame of ``dataframe`` (no choice columns: a DataFrame has none)."""
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: Sequence[Any] | None = None) -> DataFrame:  # noqa: N802
        """The DataFrame; choice columns show as ``struct<int:int,string:string>``.
        ``options`` (``ResolveOption``) resolve choices on the way out."""
        if not options:
            return self._df
        specs = []
        for option in options:
            action = getattr(option, "action", "")
            if action == "KeepAsStruct":
                specs.append((option.path, "make_struct"))
            elif action in ("Project", "Cast"):
                target = getattr(option, "target", None)
                if target is None:
                    raise ValueError(f"Missing target type for resolve action {action}.")
                text = target.simpleString() if isinstance(target, T.DataType) else str(target)
                specs.append((option.path, f"{action.lower()}:{text}"))
            else:
                raise GlueApiNotImplementedError(
                    f"DynamicFrame.toDF(ResolveOption action={action!r})",
                    "use KeepAsStruct, Project or Cast")
        return self.resolveChoice(specs=specs).toDF()

    def _derive(self, df: DataFrame, name: str = "", renames: Mapping[str, str] | None = None,
                resolved: Sequence[str] = ()) -> DynamicFrame:
        """A frame of ``df`` keeping the choices of columns it still has unchanged."""
        fields = {f.name: f.dataType for f in df.schema.fields}
        kept = {}
        for col, members in self._choices.items():
            new = (renames or {}).get(col, col)
            if col not in resolved and fields.get(new) == choice_mod.choice_type(members):
                kept[new] = members
        out = DynamicFrame(df, self.glue_ctx, name or self.name, kept, self._errors)
        out._stage_errors = None
        return out

    def _with_stage_errors(self, df: DataFrame, stage_errors: DataFrame, name: str
                           ) -> DynamicFrame:
        """A frame of ``df`` whose stage made ``stage_errors`` (added to the earlier ones)."""
        out = self._derive(df, name)
        out._errors = (stage_errors if self._errors is None
                       else self._errors.unionByName(stage_errors, allowMissingColumns=True))
        out._stage_errors = stage_errors
        return out

    def choices(self) -> dict[str, tuple[str, ...]]:
        """Choice columns and their member types (Lakeforge's addition)."""
        return dict(self._choices)

    # ------------------------------------------------------------------ inspection

    def schema(self) -> T.StructType:
        """The frame's schema as a Spark StructType (choices as their structs)."""
        return self._df.schema

    def printSchema(self) -> None:  # noqa: N802
        """Print the schema as Glue does, choices as ``choice`` with their member types."""
        lines = ["root"]
        for f in self._df.schema.fields:
            if f.name in self._choices:
                lines.append(f"|-- {f.name}: choice")
                lines += [f"|    |-- {m}" for m in self._choices[f.name]]
            else:
                lines.append(f"|-- {f.name}: {f.dataType.simpleString()}")
        print("\n".join(lines))  # noqa: T201 - printing is this API's purpose

    def show(self, num_rows: int = 20) -> None:
        """Print the first ``num_rows`` records as JSON, as Glue does."""
        for row in self._df.limit(num_rows).toJSON().collect():
            print(row)  # noqa: T201 - printing is this API's purpose

    def count(self) -> int:
        return self._df.count()

    def getNumPartitions(self) -> int:  # noqa: N802
        return self._df.rdd.getNumPartitions()

    def errorsCount(self) -> int:  # noqa: N802
        """Error records of every stage up to this frame: records that could not be parsed
        when it was read, and records a ``filter`` / ``map`` function failed on."""
        return 0 if self._errors is None else self._errors.count()

    def stageErrorsCount(self) -> int:  # noqa: N802
        """Error records of the stage that made this frame (its read, filter or map)."""
        return 0 if self._stage_errors is None else self._stage_errors.count()

    def errorsAsDynamicFrame(self) -> DynamicFrame:  # noqa: N802
        """The error records: ``_corrupt_record`` (the unparseable line, or the record a
        function failed on as JSON) and, for function failures, ``errorMessage``."""
        spark = self._df.sparkSession
        errors = self._errors if self._errors is not None else spark.createDataFrame(
            [], "_corrupt_record string")
        return DynamicFrame(errors, self.glue_ctx, f"{self.name}_errors")

    def assertErrorThreshold(self) -> None:  # noqa: N802
        if self.errorsCount():
            raise RuntimeError(f"DynamicFrame {self.name!r}: {self.errorsCount()} error "
                               "record(s) (errorsAsDynamicFrame() shows them)")

    # ------------------------------------------------------------------ transforms

    def apply_mapping(self, mappings: Sequence[Sequence[str]], case_sensitive: bool = False,
                      transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,  # noqa: N803
                      totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """ApplyMapping; a choice column mapped to a type is cast to it first, as Glue does.

        As awsglue: a lone tuple is one mapping, each mapping must be a tuple, and source
        names match regardless of case unless ``case_sensitive``. awsglue also hands 2- and
        3-tuples to Glue's JVM, whose meaning of them is not documented: they are refused
        here (GlueApiNotImplementedError)."""
        if isinstance(mappings, tuple):
            mappings = [mappings]
        for mapping in mappings:
            if not isinstance(mapping, tuple):
                raise TypeError(f"apply_mapping: mapping {mapping!r} must be a tuple "
                                "(source, source_type, target, target_type), as awsglue "
                                "requires")
            if len(mapping) in (2, 3):
                raise GlueApiNotImplementedError(
                    f"apply_mapping with a {len(mapping)}-tuple mapping {mapping!r}",
                    "write it as (source, source_type, target, target_type)")
            if len(mapping) != 4:
                raise ValueError(f"apply_mapping: mapping tuple must be of length 2, 3, or 4; "
                                 f"got {mapping!r} of length {len(mapping)}")
        df, resolved = self._df, []
        by_name = {c if case_sensitive else c.lower(): c for c in self._choices}
        for mapping in mappings:
            source = by_name.get(mapping[0] if case_sensitive else str(mapping[0]).lower())
            if source is not None and source not in resolved:
                df = choice_mod.resolve(df, self._choices, [(source, f"cast:{mapping[3]}")])
                resolved.append(source)
        out = apply_mapping(df, mappings=list(mappings), case_sensitive=case_sensitive)
        return self._derive(out, resolved=resolved)

    applyMapping = apply_mapping  # noqa: N815 - Glue's alias

    def resolveChoice(self, specs: Sequence[Sequence[str]] | None = None, choice: str = "",  # noqa: N802
                      database: str | None = None, table_name: str | None = None,
                      transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,  # noqa: N803
                      totalThreshold: int = 0, catalog_id: str | None = None) -> DynamicFrame:  # noqa: N803
        """ResolveChoice with Glue's actions on the frame's choice columns; specs for columns
        that are not choices go to :func:`transforms.glue.resolve_choice`."""
        if specs and choice:
            raise choice_mod.ChoiceResolutionError(
                "resolveChoice: give specs or choice, not both (Glue: with specs, choice must "
                "be empty)")
        if not specs and not choice:
            raise choice_mod.ChoiceResolutionError(
                "resolveChoice: give specs=[(path, action), ...] or choice='<action>'")
        if isinstance(specs, tuple):
            specs = [specs]  # one (path, action) pair, as awsglue accepts
        todo = ([(s[0], s[1]) for s in specs] if specs
                else [(c, choice) for c in self._choices])
        mine = [(p, a) for p, a in todo if p in self._choices]
        # A field of one type is no choice: make_cols / make_struct leave it as it is (Glue
        # resolves choice types only); cast, project and match_catalog still convert it.
        others = [(p, a) for p, a in todo if p not in self._choices
                  and str(a).strip() not in ("make_cols", "make_struct")]
        missing = [p for p, _ in todo if p not in self._choices
                   and not has_path(self._df.schema, parse_path(p))]
        if missing:
            raise MissingColumnsError(missing, self._df.columns, "resolveChoice")
        catalog_types = None
        if any(a == "match_catalog" for _, a in mine):
            catalog_types = self.glue_ctx._catalog_types(database, table_name)
        df = choice_mod.resolve(self._df, self._choices, mine, catalog_types)
        if others and specs:
            df = resolve_choice(df, specs=others, database=database, table_name=table_name,
                                catalog=self.glue_ctx._runtime.catalog)
        elif choice == "match_catalog" and not mine:
            df = resolve_choice(df, choice=choice, database=database, table_name=table_name,
                                catalog=self.glue_ctx._runtime.catalog)
        return self._derive(df, resolved=[p for p, _ in mine])

    def drop_fields(self, paths: Sequence[str], transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        return self._derive(drop_fields(self._df, paths=_paths(paths)))

    def select_fields(self, paths: Sequence[str], transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        return self._derive(select_fields(self._df, paths=_paths(paths)))

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "",  # noqa: N803
                     info: str = "", stageThreshold: int = 0,  # noqa: N803
                     totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        out = rename_field(self._df, old_name=oldName, new_name=newName)
        return self._derive(out, renames={oldName: newName})

    def split_fields(self, paths: Sequence[str], name1: str, name2: str,
                     transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,  # noqa: N803
                     totalThreshold: int = 0) -> DynamicFrameCollection:  # noqa: N803
        parts = split_fields(self._df, paths=_paths(paths), name1=name1, name2=name2)
        return DynamicFrameCollection({k: self._derive(v, k) for k, v in parts.items()},
                                      self.glue_ctx)

    def split_rows(self, comparison_dict: Mapping[str, Mapping[str, Any]], name1: str,
                   name2: str, transformation_ctx: str = "", info: str = "",
                   stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrameCollection:  # noqa: N803
        parts = split_rows(self._df, comparison_dict=comparison_dict, name1=name1, name2=name2)
        return DynamicFrameCollection({k: self._derive(v, k) for k, v in parts.items()},
                                      self.glue_ctx)

    def join(self, paths1: Sequence[str], paths2: Sequence[str], frame2: DynamicFrame,
             transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,  # noqa: N803
             totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Inner equality join (:func:`transforms.glue.join`); the choices of both frames are
        kept. Glue joins records, so a field both frames have appears once: here its value
        is the first frame's, or the second's where the first's is null (a field of the same
        name and a different type is refused). A key of the same name on both sides is kept
        once (the join makes the values equal)."""
        left, right = self._df, frame2.toDF()
        keys1 = [paths1] if isinstance(paths1, str) else list(paths1)
        keys2 = [paths2] if isinstance(paths2, str) else list(paths2)
        same_keys = [k2 for k1, k2 in zip(keys1, keys2, strict=False) if k1 == k2]
        types1 = {f.name: f.dataType for f in left.schema.fields}
        types2 = {f.name: f.dataType for f in right.schema.fields}
        shared = [c for c in types2 if c in types1 and c not in keys2]
        clash = [c for c in shared if types1[c] != types2[c]]
        if clash:
            raise GlueApiNotImplementedError(
                f"DynamicFrame.join of frames that both have field(s) {clash} with different "
                "types", "rename or drop them in one frame first (rename_field, drop_fields)")
        temp = {c: f"__right_{i}_{c}" for i, c in enumerate(shared + same_keys)}
        right = right.select(*[F.col(f"`{c}`").alias(temp.get(c, c)) for c in right.columns])
        keys2 = [temp.get(k, k) for k in keys2]
        out = join(left, right, keys1=keys1, keys2=keys2)
        if shared:
            log.warning("join %s: field(s) %s are in both frames; the first frame's value is "
                        "kept unless null", transformation_ctx or self.name, shared)
            out = out.select(*[
                F.coalesce(F.col(f"`{c}`"), F.col(f"`{temp[c]}`")).alias(c) if c in shared
                else F.col(f"`{c}`") for c in out.columns if c not in set(temp.values())
                or c in keys2])
        out = out.drop(*[temp[k] for k in same_keys])
        merged = DynamicFrame(self._df, self.glue_ctx, self.name,
                              {**frame2.choices(), **self._choices})
        return merged._derive(out, self.name + frame2.name)

    def union(self, other_frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
              stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Records of both frames; columns matched by name, missing ones null."""
        out = self._df.unionByName(other_frame.toDF(), allowMissingColumns=True)
        return self._derive(out)

    def mergeDynamicFrame(self, stage_dynamic_frame: DynamicFrame,  # noqa: N802
                          primary_keys: Sequence[str], transformation_ctx: str = "",
                          options: Mapping[str, Any] | None = None, info: str = "",
                          stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Records of this frame whose keys the stage frame lacks, plus every stage record."""
        stage = stage_dynamic_frame.toDF()
        keys = _paths(primary_keys)
        if not keys:
            raise ValueError("mergeDynamicFrame: primary_keys must name at least one field")
        kept = self._df.join(stage.select(*keys).distinct(), on=keys, how="left_anti")
        return self._derive(kept.unionByName(stage, allowMissingColumns=True))

    def unnest(self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,  # noqa: N803
               totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        return self._derive(unnest(self._df))

    def unbox(self, path: str, format: str, transformation_ctx: str = "", info: str = "",  # noqa: A002
              stageThreshold: int = 0, totalThreshold: int = 0,  # noqa: N803
              **options: Any) -> DynamicFrame:
        """Unbox; needs ``withSchema`` (see docs/transforms.md: inferring it costs a job)."""
        with_schema = options.pop("withSchema", None)
        out = unbox(self._df, path=path, format=format, with_schema=with_schema, **options)
        return self._derive(out)

    def relationalize(self, root_table_name: str, staging_path: str | None = None,
                      options: Mapping[str, Any] | None = None, transformation_ctx: str = "",
                      info: str = "", stageThreshold: int = 0,  # noqa: N803
                      totalThreshold: int = 0) -> DynamicFrameCollection:  # noqa: N803
        tables = relationalize(self._df, root_table_name=root_table_name)
        return DynamicFrameCollection(
            {k: DynamicFrame(v, self.glue_ctx, k) for k, v in tables.items()}, self.glue_ctx)

    def filter(self, f: Callable[[DynamicRecord], bool], transformation_ctx: str = "",
               info: str = "", stageThreshold: int = 0,  # noqa: N803
               totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Records for which ``f(record)`` is true (``f`` runs in Python on each record).
        As awsglue: a KeyError, ValueError or TypeError in ``f`` drops the record; any other
        exception makes it an error record (``errorsCount()``) instead of failing the job."""
        kept, errors = filter_records(self._df, f)
        return self._with_stage_errors(kept, errors, self.name)

    def map(self, f: Callable[[DynamicRecord], Mapping[str, Any]],
            preservesPartitioning: bool = False, transformation_ctx: str = "",  # noqa: N803
            info: str = "", stageThreshold: int = 0,  # noqa: N803
            totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """``f(record)`` for each record. Fields keep their types and order while ``f``'s
        values fit them; new fields are appended with the types of their values (one Spark
        job finds them). As awsglue: a record on which ``f`` raises or returns None is an
        error record (``errorsCount()``), and the job goes on."""
        out, errors = map_records(self._df, f)
        return self._with_stage_errors(out, errors, self.name)

    def repartition(self, num_partitions: int, transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        return self._derive(self._df.repartition(num_partitions))

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0,  # noqa: N803
                 totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        df = (self._df.repartition(num_partitions) if shuffle
              else self._df.coalesce(num_partitions))
        return self._derive(df)

    def spigot(self, path: str, options: Mapping[str, Any] | None = None,
               transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,  # noqa: N803
               totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Write a sample (Glue's Spigot) with :mod:`lakeforge.spigot`; returns the frame."""
        from lakeforge.spigot import spigot

        opts = dict(options or {})
        self.glue_ctx._runtime.map_uri(path)
        spigot(self._df, path, top_k=opts.get("topk"), prob=opts.get("prob"))
        return self

    def write(self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
              format: str | None = None, format_options: Mapping[str, Any] | None = None,  # noqa: A002
              accumulator_size: int = 0) -> DynamicFrame:
        return self.glue_ctx.write_dynamic_frame_from_options(
            self, connection_type, connection_options or {}, format, format_options or {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        instead = _NOT_IMPLEMENTED.get(name, "work on toDF() and wrap the result with "
                                       "DynamicFrame.fromDF, or open an issue")
        raise GlueApiNotImplementedError(f"DynamicFrame.{name}", instead)


class DynamicFrameCollection:
    """Named DynamicFrames (SplitFields, SplitRows, Relationalize results).

    As awsglue: built from a dict, or from a list of frames keyed by their names; ``select``
    of a key the collection lacks gives an empty frame of that name (Relationalize makes no
    table for an array the data does not have)."""

    def __init__(self, dynamic_frames: Mapping[str, DynamicFrame] | Sequence[DynamicFrame],
                 glue_ctx: Any) -> None:
        if isinstance(dynamic_frames, list):
            self._frames = {frame.name: frame for frame in dynamic_frames}
        elif isinstance(dynamic_frames, Mapping):
            self._frames = dict(dynamic_frames)
        else:
            raise TypeError(f"DynamicFrameCollection: dynamic_frames must be a list or a dict "
                            f"of DynamicFrames, got {type(dynamic_frames).__name__}")
        self._glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def keys(self) -> Any:
        return self._frames.keys()

    def values(self) -> Any:
        return self._frames.values()

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        if key in self._frames:
            return self._frames[key]
        log.warning("DynamicFrameCollection.select(%r): no such frame (it has %s); an empty "
                    "frame, as on Glue", key, sorted(self._frames))
        spark = self._glue_ctx.spark_session
        return DynamicFrame(spark.createDataFrame([], T.StructType([])), self._glue_ctx, key)

    def map(self, callable: Callable[[DynamicFrame, str], DynamicFrame],  # noqa: A002
            transformation_ctx: str = "") -> DynamicFrameCollection:
        out: dict[str, DynamicFrame] = {}
        for k, v in self._frames.items():
            result = callable(v, f"{transformation_ctx}:{k}")
            if not isinstance(result, DynamicFrame):
                raise TypeError(f"DynamicFrameCollection.map: the callable must return a "
                                f"DynamicFrame; for {k!r} it returned {type(result).__name__}")
            out[k] = result
        return DynamicFrameCollection(out, self._glue_ctx)

    def flatmap(self, f: Callable[[DynamicFrame, str], Any],
                transformation_ctx: str = "") -> DynamicFrameCollection:
        """``f`` on every frame; a frame it returns is keyed by its name, the frames of a
        collection it returns by their keys (as awsglue)."""
        out: dict[str, DynamicFrame] = {}
        for frame in self._frames.values():
            result = f(frame, f"{transformation_ctx}:{frame.name}")
            if isinstance(result, DynamicFrame):
                out[result.name] = result
            elif isinstance(result, DynamicFrameCollection):
                out.update(result._frames)
            else:
                raise TypeError(f"DynamicFrameCollection.flatmap: the function must return a "
                                f"DynamicFrame or a DynamicFrameCollection; for "
                                f"{frame.name!r} it returned {type(result).__name__}")
        return DynamicFrameCollection(out, self._glue_ctx)


class DynamicFrameReader:
    """``glue_context.create_dynamic_frame``: from_options / from_catalog / from_rdd."""

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context

    def from_rdd(self, data: Any, name: str, schema: Any = None,
                 sampleRatio: float | None = None) -> DynamicFrame:  # noqa: N803
        return self._glue_context.create_dynamic_frame_from_rdd(data, name, schema, sampleRatio)

    def from_options(self, connection_type: str,
                     connection_options: Mapping[str, Any] | None = None,
                     format: str | None = None, format_options: Mapping[str, Any] | None = None,  # noqa: A002
                     transformation_ctx: str = "", push_down_predicate: str = "",
                     **kwargs: Any) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type, connection_options or {}, format, format_options or {},
            transformation_ctx, push_down_predicate, **kwargs)

    def from_catalog(self, database: str | None = None, table_name: str | None = None,
                     redshift_tmp_dir: str = "", transformation_ctx: str = "",
                     push_down_predicate: str = "",
                     additional_options: Mapping[str, Any] | None = None,
                     catalog_id: str | None = None, **kwargs: Any) -> DynamicFrame:
        database = _database(database, kwargs)
        if table_name is None:
            raise ValueError("Parameter table_name is missing.")
        return self._glue_context.create_dynamic_frame_from_catalog(
            database, table_name, redshift_tmp_dir, transformation_ctx, push_down_predicate,
            additional_options or {}, catalog_id, **kwargs)


class DynamicFrameWriter:
    """``glue_context.write_dynamic_frame``: from_options / from_catalog / from_jdbc_conf."""

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context

    def from_options(self, frame: DynamicFrame, connection_type: str,
                     connection_options: Mapping[str, Any] | None = None,
                     format: str | None = None, format_options: Mapping[str, Any] | None = None,  # noqa: A002
                     transformation_ctx: str = "") -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options or {}, format, format_options or {},
            transformation_ctx)

    def from_catalog(self, frame: DynamicFrame, database: str | None = None,
                     table_name: str | None = None, redshift_tmp_dir: str = "",
                     transformation_ctx: str = "",
                     additional_options: Mapping[str, Any] | None = None,
                     catalog_id: str | None = None, **kwargs: Any) -> DynamicFrame:
        database = _database(database, kwargs)
        if table_name is None:
            raise ValueError("Parameter table_name is missing.")
        return self._glue_context.write_dynamic_frame_from_catalog(
            frame, database, table_name, redshift_tmp_dir, transformation_ctx,
            additional_options or {}, catalog_id)

    def from_jdbc_conf(self, frame: DynamicFrame, catalog_connection: str,
                       connection_options: Mapping[str, Any] | None = None,
                       redshift_tmp_dir: str = "", transformation_ctx: str = "") -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_jdbc_conf(
            frame, catalog_connection, connection_options or {}, redshift_tmp_dir,
            transformation_ctx)


def _paths(paths: str | Sequence[str]) -> list[str]:
    """A list of paths; one path given as a string is a list of one, as awsglue makes it."""
    return [paths] if isinstance(paths, str) else list(paths)


def _database(database: str | None, kwargs: dict[str, Any]) -> str:
    if database is not None and "name_space" in kwargs:
        raise ValueError("Parameter name_space and database are both specified, choose one.")
    if database is None and "name_space" not in kwargs:
        raise ValueError("Parameter name_space or database is missing.")
    return str(kwargs.pop("name_space")) if database is None else database
