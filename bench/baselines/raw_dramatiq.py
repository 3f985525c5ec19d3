"""The floor under the platform's workers: plain Dramatiq on Redis, with actors that do nothing.

Run as ``dramatiq raw_dramatiq --processes P --threads T`` (from this folder) with ``REDIS_URL``.
``trivial`` is drained for throughput; ``mark_done`` sets ``bare:done:<token>`` so that a client
polling Redis can tell when its message has been processed.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ["REDIS_URL"], namespace="bare-dramatiq")
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)
def trivial(number: int) -> None:
    pass


@dramatiq.actor(max_retries=0)
def mark_done(token: str) -> None:
    broker.client.set(f"bare:done:{token}", 1, ex=300)
