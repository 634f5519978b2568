"""TAP async: UWS 1.1 jobs persisted in PostgreSQL, executed by a worker pool.

``tap_service.handlers.uws`` serves ``/async...`` (the app mounts it under ``/tap``);
``tap_service.factory`` builds the job service from settings and runs it while the app runs.

Modules: ``model`` (phases, the job record), ``store`` (every SQL statement on ``uws.*``; the
table is also the queue), ``service`` (workers, limits, WAIT, crash recovery, reaper, no HTTP),
``documents`` (UWS XML, from vo-models).

Behaviour worth knowing:
- POST /async answers 303 to the job; PHASE=RUN at creation queues it. TAP parameters are
  judged when the job runs (a bad query ends in ERROR with a UsageFault errorSummary and a
  DALI VOTable at /error), UWS parameters at once (400).
- The queue is bounded (``XPHA_UWS_QUEUE_SIZE``): PHASE=RUN on a full queue answers 503
  TransientFault and the job stays PENDING, so the client may send RUN again later.
- WAIT blocks while the job is PENDING, QUEUED or EXECUTING, at most ``XPHA_UWS_WAIT_MAX_S``,
  and returns at once when the PHASE hint differs from the job's phase.
- executionDuration: past it the job ends in ERROR ("execution duration exceeded") and its
  database query is cancelled (pg_cancel_backend on the job's application_name); the
  statement timeout stops it 2 s later in any case.
- Results are files under ``settings.uws_results_dir`` (written chunk by chunk, renamed when
  complete); destruction removes the job row, its uploads and its files.
- Restart: each server beats a heartbeat in ``uws.servers``; EXECUTING jobs of a server whose
  heartbeat stopped (kill -9) are re-queued, or set to ERROR with a message once they have
  used ``XPHA_UWS_MAX_ATTEMPTS`` executions. A clean shutdown re-queues its running jobs.
"""
