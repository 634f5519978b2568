"""The UWS 1.1 job as xpha keeps it: phases, the job record and the rules between phases."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Phase(StrEnum):
    """UWS 1.1 execution phases (the values are the protocol's words)."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


#: Phases in which a job may still change by itself: WAIT blocks only in these.
ACTIVE_PHASES = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})
#: Phases a job never leaves (until it is destroyed).
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})

#: Id of the one result of a TAP job, at ``{job}/results/result`` (what pyvo fetches).
RESULT_ID = "result"

#: The job ids this service issues: 128 random bits as 32 lower-case hex digits. The id is the
#: job's capability (whoever holds its URL may use it), so it must be unguessable, and anything
#: else a client puts where an id goes (``..``, ``.``, ``%2e%2e``) names no job.
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def new_job_id() -> str:
    """A fresh, unguessable job id."""
    return secrets.token_hex(16)


def is_job_id(text: str) -> bool:
    """Whether ``text`` has the form of an id this service issues."""
    return _JOB_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class Job:
    """One async TAP job as stored in ``uws.jobs``."""

    job_id: str
    phase: Phase
    parameters: dict[str, str]
    creation_time: datetime
    execution_duration: int  # seconds; 0 means unlimited (never granted by this service)
    destruction: datetime
    run_id: str | None = None
    owner_id: str | None = None
    owner_key: str | None = None
    client: str | None = None
    quote: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    attempts: int = 0
    result_path: str | None = None
    result_type: str | None = None
    result_size: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    upload_names: tuple[str, ...] = field(default=())

    @property
    def is_active(self) -> bool:
        return self.phase in ACTIVE_PHASES

    @property
    def has_result(self) -> bool:
        return self.phase == Phase.COMPLETED and self.result_path is not None


@dataclass(frozen=True)
class JobSummary:
    """What the job list shows of a job (cheap to read for thousands of jobs)."""

    job_id: str
    phase: Phase
    creation_time: datetime
    run_id: str | None = None
    owner_id: str | None = None
