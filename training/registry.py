"""The model registry (``ml.models``): what was trained, on what, where its artefact is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from psycopg.types.json import Jsonb

from sql import serving
from sql.database import connect, one_row, transaction
from sql.errors import XphaError
from sql.published_statistics import refresh_published_statistics
from training import queries
from training.artifacts import sha256_dir


class UnknownModelError(XphaError):
    """The model asked for is not in ml.models."""


@dataclass(frozen=True)
class ModelRecord:
    model_id: int
    kind: str
    version: str
    artifact_path: Path
    artifact_sha256: str | None

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.version}"


def _dumps(value: object) -> str:
    """JSON for jsonb columns; paths (e.g. the feed_snapshot setting) become strings."""
    return json.dumps(value, default=str)


def register(
    url: str,
    kind: str,
    version: str,
    model_dir: Path,
    config: dict,
    metrics: dict,
    data_snapshot: dict,
    latent_dim: int | None,
) -> int:
    """Insert one trained model (artefact hashed now) and return its model_id."""
    with transaction(url) as conn:
        cursor = conn.execute(
            queries.INSERT_MODEL,
            (
                kind,
                version,
                Jsonb(config, dumps=_dumps),
                Jsonb(metrics),
                str(model_dir),
                sha256_dir(model_dir),
                json.dumps(data_snapshot, sort_keys=True),
                latent_dim,
            ),
        )
        model_id = one_row(cursor)[0]
    return int(model_id)


def find(url: str, ref: str | int) -> ModelRecord:
    """A model by id (``12``), by name (``xgboost-2026-11-22T01:00:00``) or ``current``."""
    with connect(url) as conn:
        if str(ref) == "current":
            row = conn.execute(queries.SELECT_CURRENT_MODEL).fetchone()
        elif isinstance(ref, int) or str(ref).isdigit():
            row = conn.execute(queries.SELECT_MODEL_BY_ID, (int(ref),)).fetchone()
        else:
            kind, _, version = str(ref).partition("-")
            row = conn.execute(queries.SELECT_MODEL_BY_NAME, (kind, version)).fetchone()
    if row is None:
        raise UnknownModelError(f"no model {ref!r} in ml.models (see `xpha models list`)")
    return ModelRecord(int(row[0]), row[1], row[2], Path(row[3]), row[4])


def latent_model(url: str, record: ModelRecord) -> ModelRecord | None:
    """The autoencoder model that publishes latents beside ``record``: None when ``record``
    has latents itself or no autoencoder model is registered."""
    with connect(url) as conn:
        has = conn.execute(queries.MODEL_HAS_LATENTS, (record.model_id,)).fetchone()
        if has is None or has[0]:
            return None
        row = conn.execute(queries.SELECT_LATENT_MODEL, (record.version,)).fetchone()
    return None if row is None else ModelRecord(int(row[0]), row[1], row[2], Path(row[3]), row[4])


def verify(record: ModelRecord) -> None:
    """The artefact on disk must be the one registered (same hash)."""
    if not record.artifact_path.exists():
        raise XphaError(f"model {record.name}: artefact {record.artifact_path} is missing")
    if record.artifact_sha256 and sha256_dir(record.artifact_path) != record.artifact_sha256:
        raise XphaError(f"model {record.name}: {record.artifact_path} changed since registration")


def set_current(url: str, model_id: int) -> None:
    """Make one model the current one; the published candidates table follows it."""
    with transaction(url) as conn:
        conn.execute(queries.CLEAR_CURRENT)
        conn.execute(queries.SET_CURRENT, (model_id,))
    serving.publish(url)
    with transaction(url) as conn:  # after the build: the candidates' true size, pictures
        refresh_published_statistics(conn)


def list_models(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(queries.LIST_MODELS).fetchall()
