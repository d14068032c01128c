"""The trained :class:`MatchModel`: Splink settings with m/u values + how to prepare input.

Saving and loading files is the runtime's job: ``lakeforge.model_store.save_match_model`` /
``load_match_model`` (local folders and s3://).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transforms.dedup.settings import MODEL_FORMAT, MatchModelError

log = logging.getLogger(__name__)



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

    Pass it (or its ``to_dict()``) as ``model=``; ``lakeforge.model_store`` saves and loads it.
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

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> MatchModel:
        """A model from its JSON text; bad JSON or a wrong format names ``source``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MatchModelError(f"{source} is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise MatchModelError(f"{source}: a match model is a JSON object, got "
                                  f"{type(data).__name__}")
        return cls.from_dict(data, source)

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


def resolve_model(model: MatchModel | Mapping[str, Any]) -> MatchModel:
    if isinstance(model, MatchModel):
        return model
    if isinstance(model, Mapping):
        return MatchModel.from_dict(model)
    if isinstance(model, str):
        raise MatchModelError(
            f"model={model!r} is a path: load it first with "
            "lakeforge.model_store.load_match_model(path) (local or s3://)")
    raise MatchModelError(f"model must be a MatchModel or a dict, got {type(model).__name__}")
