"""Store many jobs fast, for the benchmarks that need a big Redis (``listing.py``, ``phases/operations.py``).

A job is made as the API makes it (``JobService.prepare``, once: its record, run message and TTL),
then copied under fresh ids, and stored by the very script ``JobStore.create`` runs, sent in
pipelines of ``BATCH`` calls: a job and its run message exist together, and the listing indexes and
the gauges' sets follow, as for a job created over HTTP, many times faster. No worker is needed:
the jobs stay pending (or scheduled).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace

import dramatiq
import redis

from app.services.jobs import JOB_ID_BYTES, JobRequest
from app.services.messages import is_quick_message, run_job_message
from app.storage.job_records import encode_input, encode_state
from app.storage.jobs import JobStore
from app.wiring import Services

BATCH = 2000


def store_jobs(
    services: Services,
    client: redis.Redis,
    count: int,
    request: JobRequest,
    owner: str = "_",
    vary: Callable[[int], dict] | None = None,
) -> list[str]:
    """Store ``count`` jobs of ``request`` for ``owner``; their ids. ``vary(i)`` (optional) gives
    fields of job ``i`` to change (say ``created_at``, ``algorithm``)."""
    prepared = services.jobs.prepare(request, owner, None)
    template = prepared.job
    quick = is_quick_message(dramatiq.Message.decode(prepared.message.data))  # as the API says it
    store: JobStore = services.jobs._store  # the bench mirrors JobStore.create, pipelined
    ids: list[str] = []
    for first in range(0, count, BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(first, min(first + BATCH, count)):
            job_id = secrets.token_hex(JOB_ID_BYTES)
            changes = vary(i) if vary else {}
            if "created_at" in changes:
                changes.setdefault("expires_at", changes["created_at"] + template.expires_at - template.created_at)
            job = replace(template, job_id=job_id, **changes)
            message = run_job_message(job_id, prepared.message.priority, prepared.message.delay_ms, quick)
            store._create(  # what JobStore.create sends (no Idempotency-Key)
                store._keys_of(job_id, message.queue),
                store._args(
                    ttl=prepared.ttl_seconds,
                    id=job_id,
                    idempotency="",
                    fingerprint="",
                    job_prefix=store._keys.job(""),
                    message=message.data,
                    priority=message.priority,
                    due_ms=prepared.due_ms,
                    delay_ms=message.delay_ms,
                    input=encode_input(job),
                ),
                encode_state(job),
                client=pipe,
            )
            ids.append(job_id)
        answers = pipe.execute()
        refused = sum(1 for answer in answers if answer[0] != b"created")
        if refused:
            raise RuntimeError(f"{refused} of {len(answers)} jobs were not created")
    return ids
