"""The settings of the TAP service: the server, TAP queries and uploads, what one request or
client may take, cone search and async jobs; ``XPHA_*`` variables, on top of the database's
(which keep the published schema and the TAP role, since migrations create that role)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from sql.settings import Settings, cached_settings


class TapSettings(Settings):
    """Database settings plus everything ``xpha serve`` (TAP, SCS, UWS) reads."""

    # --- the server -----------------------------------------------------------------------
    tap_host: str = Field("127.0.0.1", description="Address `xpha serve` listens on.")
    tap_port: int = Field(8000, description="Port `xpha serve` listens on.")
    tap_base_url: str | None = Field(
        None,
        description="Public URL of the TAP service itself, ending in /tap (e.g. "
        "https://astro.example.org/xpha/tap behind a proxy), used in VOSI and UWS links; "
        "derived from each request when unset.",
    )
    # TAP service core (tap_service/query.py, app.py, scs.py)
    tap_maxrec_default: int = Field(
        10_000, ge=0, description="Rows a TAP query returns when the client gives no MAXREC."
    )
    tap_hard_limit: int = Field(
        2_000_000, ge=1, description="Most rows any TAP query returns, whatever MAXREC says."
    )
    tap_sync_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Statement timeout of a /sync query; longer queries belong in async.",
    )
    tap_async_timeout_s: float = Field(
        3600.0, gt=0, description="Statement timeout of a query run by an async job."
    )
    tap_pool_size: int = Field(
        8, ge=1, description="Database connections (as the TAP role) shared by sync and async."
    )
    tap_pool_wait_s: float = Field(
        10.0, gt=0, description="How long a query waits for a free connection before a 503."
    )
    tap_fetch_rows: int = Field(
        5000, ge=1, description="Rows fetched from the server-side cursor per batch (memory bound)."
    )
    tap_copy_fetch: bool = Field(
        True,
        description="Fetch all-numeric results by binary COPY into numpy columns (fast); off: "
        "row tuples for every result.",
    )
    tap_upload_max_bytes: int = Field(
        20_000_000, ge=0, description="Largest TAP_UPLOAD VOTable accepted, in bytes."
    )
    tap_upload_max_rows: int = Field(
        1_000_000, ge=0, description="Most rows one TAP_UPLOAD table may hold."
    )
    tap_upload_http: bool = Field(
        True,
        description="Let TAP_UPLOAD name an http(s) URL the server fetches itself (TAPRegExt's "
        "upload-http); inline uploads always work.",
    )
    tap_upload_http_private: bool = Field(
        False,
        description="Also fetch upload URLs that resolve to loopback, private or link-local "
        "addresses (off: a client cannot make the server reach its own network).",
    )
    tap_upload_max_columns: int = Field(
        500, ge=1, description="Most columns (FIELDs) one TAP_UPLOAD table may have."
    )
    tap_upload_max_decoded_bytes: int = Field(
        100_000_000,
        ge=0,
        description="Most bytes a TAP_UPLOAD VOTable may decompress to (gzip, bzip2, xz); "
        "checked while decompressing.",
    )
    tap_upload_http_timeout_s: float = Field(
        15.0,
        gt=0,
        description="Deadline of a whole upload-URL fetch (connect, headers and body), in seconds.",
    )
    tap_catalog_ttl_s: float = Field(
        60.0, ge=0, description="How long the TAP_SCHEMA catalogue is cached before re-reading it."
    )
    # What one request or one client may take (tap_service/limits.py); see README "Security".
    tap_request_max_bytes: int = Field(
        25_000_000,
        ge=1024,
        description="Largest request body, in bytes, refused before it is read (413).",
    )
    tap_query_max_chars: int = Field(
        100_000,
        ge=100,
        description="Longest QUERY, in characters; long lists of ids or positions belong in a "
        "TAP_UPLOAD table.",
    )
    tap_sync_per_client: int = Field(
        4, ge=1, description="Queries (/sync and /scs) one client may run at once; more get 503."
    )
    tap_allowed_hosts: str = Field(
        "localhost,127.0.0.1,::1",
        description="Host names (comma-separated) the service answers to when "
        "XPHA_TAP_BASE_URL is unset (links are built from the request's Host); other Host "
        "headers get 400.",
    )
    tap_auth: Literal["none", "bearer"] = Field(
        "none",
        description="none: anonymous TAP (a job's URL is its secret); bearer: every /tap and "
        "/scs request needs `Authorization: Bearer TOKEN` from the tokens file, and jobs "
        "belong to the token's user.",
    )
    tap_tokens_file: Path | None = Field(
        None,
        description="Bearer tokens (`xpha tap token add NAME`); var_dir/secrets/tap-tokens "
        "when unset.",
    )
    scs_max_sr_deg: float = Field(
        5.0, gt=0, description="Largest cone-search radius (SR, degrees) /scs accepts."
    )
    scs_maxrec_default: int = Field(
        10_000, ge=0, description="Rows a cone search returns when the client gives no MAXREC."
    )

    # --- TAP async jobs (UWS 1.1, tap_service/uws) --------------------------------------------
    uws_dir: Path | None = Field(
        None, description="Directory of async result files; var_dir/uws when unset."
    )
    uws_workers: int = Field(2, ge=1, description="Worker threads executing async jobs.")
    uws_queue_size: int = Field(
        100,
        ge=1,
        description="Most jobs QUEUED at once; PHASE=RUN beyond it answers 503 TransientFault "
        "and leaves the job PENDING, so the client can retry.",
    )
    uws_wait_max_s: float = Field(
        30.0, ge=0, description="Cap of a blocking WAIT on a job (UWS 1.1), in seconds."
    )
    uws_execution_duration_s: int = Field(
        3600, ge=1, description="Default executionDuration of a job, in seconds."
    )
    uws_execution_duration_max_s: int = Field(
        4 * 3600, ge=1, description="Longest executionDuration a client may ask for, in seconds."
    )
    uws_destruction_s: int = Field(
        7 * 86400, ge=1, description="Default lifetime of a job and its result, in seconds."
    )
    uws_destruction_max_s: int = Field(
        30 * 86400, ge=1, description="Longest job lifetime a client may ask for, in seconds."
    )
    uws_max_attempts: int = Field(
        2,
        ge=1,
        description="Executions a job may start; a job interrupted by a server crash is re-queued "
        "until it has used them, then ends in ERROR.",
    )
    uws_housekeeping_s: float = Field(
        1.0,
        gt=0,
        description="Period of the heartbeat, executionDuration checks and destruction reaper.",
    )
    uws_list_limit: int = Field(
        1000, ge=1, description="Most jobs a job list returns (newest first) without LAST."
    )
    uws_pending_per_client: int = Field(
        20, ge=1, description="Most PENDING and QUEUED jobs one client may hold at once."
    )
    uws_pending_max: int = Field(
        1000, ge=1, description="Most PENDING and QUEUED jobs of all clients together."
    )
    uws_upload_bytes_per_client: int = Field(
        200_000_000,
        ge=0,
        description="Most bytes of stored job uploads one client may hold (until its jobs end).",
    )
    uws_upload_bytes_max: int = Field(
        2_000_000_000, ge=0, description="Most bytes of stored job uploads of all clients."
    )

    @property
    def uws_results_dir(self) -> Path:
        """Where async result files are written."""
        return self.uws_dir or self.var_dir / "uws"

    @property
    def tap_tokens_path(self) -> Path:
        """The bearer-token file (`xpha tap token add`)."""
        return self.tap_tokens_file or self.var_dir / "secrets" / "tap-tokens"


def get_settings() -> TapSettings:
    """The TAP service's settings of this process (entry points only; the service itself is
    handed its settings, see ``tap_service.factory``)."""
    return cached_settings(TapSettings)
