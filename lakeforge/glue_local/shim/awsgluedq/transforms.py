"""awsgluedq.transforms on Lakeforge (lakeforge.glue_local.dq)."""

from lakeforge.glue_local.dq import EvaluateDataQuality

__all__ = ["EvaluateDataQuality"]
