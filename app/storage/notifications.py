"""The channel on which finished jobs are announced (their scripts publish; waiting requests listen)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from app.storage.keys import Keys
from app.storage.redis import OUTAGE, UNAVAILABLE, url_of

log = logging.getLogger(__name__)


class FinishedJobsChannel:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._channel = keys.finished_channel

    def listen(self, on_finished: Callable[[str], None], on_gap: Callable[[], None], stop: threading.Event) -> None:
        """Call ``on_finished(job_id)`` for each announcement until ``stop`` is set.

        Announcements made while not subscribed are lost: ``on_gap`` is called each time the
        subscription is (again) confirmed, so that listeners look again for themselves.
        """
        while not stop.is_set():
            pubsub = self._client.pubsub()
            try:
                pubsub.subscribe(self._channel)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        on_gap()
                    elif message["type"] == "message":
                        on_finished(message["data"].decode())
            except UNAVAILABLE as exc:
                OUTAGE.failed(exc, url_of(self._client))
                stop.wait(0.5)
            except Exception:
                log.exception("job announcements failed; listening again")
                stop.wait(0.5)
            finally:
                pubsub.close()
