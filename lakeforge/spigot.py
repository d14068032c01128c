"""Glue's Spigot: write a sample of a frame as JSON lines and pass the frame on unchanged.

Writing is the point of this transform, so it lives in the runtime; the sample itself is
:func:`transforms.glue.spigot_sample` (pure). Paths may be local or s3://.

Example::

    spigot(orders, lake.path("samples", "orders"), top_k=10)
    Spigot.apply(frame=dyf, path="s3://bucket/samples/orders", options={"topk": 10})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame

from transforms.glue import GlueTransform, GlueTransformError, spigot_sample
from transforms.glue.wrappers import _as_dataframe

log = logging.getLogger(__name__)


def spigot(df: DataFrame, path: str, top_k: int | None = None, prob: float | None = None, *,
           seed: int | None = None, mode: str = "errorifexists") -> DataFrame:
    """Write :func:`transforms.glue.spigot_sample` of ``df`` as JSON to ``path``; return ``df``.

    One Spark job. ``mode`` is the Spark save mode; the default refuses to overwrite an
    existing sample.
    """
    spigot_sample(df, top_k, prob, seed=seed).write.mode(mode).json(path)
    log.info("spigot: wrote a sample of the frame to %s", path)
    return df


class Spigot(GlueTransform):
    """Write a sample of the frame (see :func:`spigot`)."""

    @classmethod
    def apply(cls, frame: Any, path: str, options: Mapping[str, Any] | None = None,
              transformation_ctx: str = "") -> Any:
        options = dict(options or {})
        unknown = sorted(set(options) - {"topk", "prob", "seed", "mode"})
        if unknown:
            raise GlueTransformError(f"Spigot: unknown option(s) {unknown}; use topk and prob")
        df, _ = _as_dataframe(frame)
        spigot(df, path, top_k=options.get("topk"), prob=options.get("prob"),
               seed=options.get("seed"), mode=options.get("mode", "errorifexists"))
        return frame


__all__ = ["Spigot", "spigot"]
