"""The channel on which finished jobs are announced (their scripts publish; waiting requests listen)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

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
        listen(self._client, [self._channel], lambda _, data: on_finished(data), on_gap, stop, "job announcements")


def listen(
    client: redis.Redis,
    channels: Iterable[str],
    on_message: Callable[[str, str], None],
    on_gap: Callable[[], None],
    stop: threading.Event,
    what: str,
) -> None:
    """Call ``on_message(channel, data)`` for each message on ``channels`` until ``stop`` is set, subscribing
    again after any failure (``on_gap`` each time the subscription is confirmed: what was published
    meanwhile is lost); ``what`` names the messages in the log."""
    while not stop.is_set():
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(*channels)
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    on_gap()
                elif message["type"] == "message":
                    on_message(message["channel"].decode(), message["data"].decode())
        except UNAVAILABLE as exc:
            OUTAGE.failed(exc, url_of(client))
            stop.wait(0.5)
        except Exception:
            log.exception("%s failed; listening again", what)
            stop.wait(0.5)
        finally:
            pubsub.close()
