"""WebhookDispatcher: makes webhook attempts when they are due, on a pool of its own threads.

It claims due attempts from Redis (never more than it has free threads, so that other dispatchers
share the load), sleeps until the next one is due or a thread frees up, and checks for new work at
least every ``POLL_SECONDS``. Receivers never run on the threads that run algorithms.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app.errors import StorageUnavailable
from app.services.signing import Signer
from app.services.webhooks import WebhookService
from app.storage.webhooks import Claim
from workers.patience import patiently
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)

#: Longest sleep between two looks at the schedule: bounds the delay of a first attempt.
POLL_SECONDS = 0.02


class WebhookDispatcher:
    def __init__(self, webhooks: WebhookService, sender: WebhookSender, threads: int) -> None:
        self._webhooks = webhooks
        self._sender = sender
        self._threads = threads
        self._busy = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        """Dispatch until ``stopping`` is set; then let the attempts under way finish."""
        signer = patiently(self._webhooks.signer)
        with ThreadPoolExecutor(self._threads, thread_name_prefix="webhook") as pool:
            while not self.stopping.is_set():
                self._wake.clear()
                with self._lock:
                    free = self._threads - self._busy
                try:
                    claims, next_in = self._webhooks.claim_due(free) if free else ([], None)
                except StorageUnavailable:
                    log.warning("webhook schedule unreachable: Redis is not answering")
                    self.stopping.wait(0.5)
                    continue
                except Exception:
                    # Redis refusing writes (read-only replica, disk full...): keep trying, loudly.
                    log.exception("claiming webhook attempts failed")
                    self.stopping.wait(1.0)
                    continue
                for claim in claims:
                    with self._lock:
                        self._busy += 1
                    pool.submit(self._attempt, claim, signer)
                if claims and len(claims) == free:
                    continue  # more may be due
                self._wake.wait(POLL_SECONDS if next_in is None else min(POLL_SECONDS, max(0.0, next_in)))

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def _attempt(self, claim: Claim, signer: Signer) -> None:
        try:
            delivery = self._webhooks.prepare(claim, signer)
            if delivery is None:
                return
            started_at = time.time()
            outcome = self._sender.send(delivery)
            patiently(self._webhooks.record, delivery, outcome, started_at)
        except Exception:
            # The lease runs out and the attempt is due again: nothing is lost.
            log.exception("webhook attempt %s failed unexpectedly; it will be retried", claim.member)
        finally:
            with self._lock:
                self._busy -= 1
            self._wake.set()
