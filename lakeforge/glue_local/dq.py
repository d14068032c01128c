"""``awsgluedq.transforms.EvaluateDataQuality`` on DynamicFrames: :mod:`quality.dqdl`'s
evaluator, with DynamicFrames unwrapped on the way in and the results wrapped on the way out
(``process_rows`` returns a DynamicFrameCollection with ``originalData``, ``ruleOutcomes``,
``rowLevelOutcomes``, as Glue)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakeforge.glue_local.frames import DynamicFrame, DynamicFrameCollection
from quality.dqdl.evaluate import EvaluateDataQuality as _DataFrameEvaluator


def _frame(value: Any) -> Any:
    return value.toDF() if isinstance(value, DynamicFrame) else value


class EvaluateDataQuality:
    """Glue Data Quality's transform: ``EvaluateDataQuality().process_rows(frame=..., ruleset=...)``
    or ``EvaluateDataQuality.apply(frame=..., ruleset=...)`` (the rule outcomes)."""

    def __init__(self, repository: Any = None) -> None:
        self._evaluator = _DataFrameEvaluator(repository)

    def process_rows(self, frame: Any, ruleset: str,
                     publishing_options: Mapping[str, Any] | None = None,
                     additional_options: Mapping[str, Any] | None = None) -> Any:
        options = dict(additional_options or {})
        if options.get("additionalDataSources"):
            options["additionalDataSources"] = {
                k: _frame(v) for k, v in dict(options["additionalDataSources"]).items()}
        out = self._evaluator.process_rows(_frame(frame), ruleset, publishing_options, options)
        if not isinstance(frame, DynamicFrame):
            return out
        return DynamicFrameCollection(
            {k: DynamicFrame(v, frame.glue_ctx, k) for k, v in out.items()}, frame.glue_ctx)

    @staticmethod
    def apply(frame: Any, ruleset: str, publishing_options: Mapping[str, Any] | None = None,
              additional_options: Mapping[str, Any] | None = None) -> Any:
        out = EvaluateDataQuality().process_rows(frame, ruleset, publishing_options,
                                                 additional_options)
        return out.select("ruleOutcomes") if isinstance(out, DynamicFrameCollection) \
            else out["ruleOutcomes"]
