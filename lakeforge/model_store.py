"""Match models on storage: save and load ``transforms.dedup.MatchModel`` JSON (local or s3://).

transforms/ computes models and writes no files; this is where they are kept.

Example::

    model = train_match_model(people, primary_key="id")
    save_match_model(model, "s3://bucket/models/people.json")
    find_matches(people, primary_key="id", model=load_match_model("s3://bucket/models/people.json"))
"""

from __future__ import annotations

import logging

from lakeforge import io
from transforms.dedup import MatchModel, MatchModelError

log = logging.getLogger(__name__)


def save_match_model(model: MatchModel, uri: str, *, overwrite: bool = False) -> str:
    """Write the model as JSON; refuses to replace an existing file unless ``overwrite``."""
    if io.uri_exists(uri) and not overwrite:
        raise FileExistsError(f"model file {uri} exists; pass overwrite=True to replace it")
    io.write_text(uri, model.to_json())
    log.info("match model saved to %s", uri)
    return uri


def load_match_model(uri: str) -> MatchModel:
    """Read a model saved by :func:`save_match_model`; a missing or bad file names ``uri``."""
    if not io.uri_exists(uri):
        raise MatchModelError(f"model file {uri} does not exist")
    return MatchModel.from_json(io.read_text(uri), f"model file {uri}")


__all__ = ["load_match_model", "save_match_model"]
