"""What the cluster tests run on their client host: a steady submission load, and a webhook receiver.

``python client_host.py submit ...`` submits ``--count`` jobs at ``--rate`` per second (an open
loop: the schedule does not wait for answers), spread over the web hosts: job ``i`` goes through a
``Client`` of its own whose base URLs start at host ``i % n`` (each retry goes to the next host),
with API key ``i % len(keys)`` and an Idempotency-Key of its own. Each submission is a JSON line in ``--out``
as it is sent, and another (same ``index``) with its answer, or error, as that comes. It stops by
itself: after the last submission, or at ``--deadline``.

``python client_host.py receive ...`` answers 200 to every POST and appends it (arrival time,
headers, body) as a JSON line to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from functionalscaffold_client import ApiError, Client, ClientError
from support import WebhookReceiver


class Submitter:
    def __init__(self, urls: list[str], keys: list[str], timeout: float, retry_seconds: float) -> None:
        self._urls, self._keys = urls, keys
        self._timeout, self._retry_seconds = timeout, retry_seconds

    def submit(
        self, index: int, algorithm: str, params: dict[str, Any], webhook: str | None, sending: Callable[[dict], None]
    ) -> dict[str, Any]:
        start, key = index % len(self._urls), index % len(self._keys)
        # A client of its own: the load stays round-robin (a shared one would stay with the host that answered).
        urls = self._urls[start:] + self._urls[:start]
        client = Client(urls, self._keys[key], timeout=self._timeout, retry_seconds=self._retry_seconds)
        idempotency_key = uuid.uuid4().hex
        record: dict[str, Any] = {
            "index": index,
            "key": self._keys[key],
            "idempotency_key": idempotency_key,
            "first_url": self._urls[start],
            "sent_at": time.time(),
        }
        sending(record)
        began = time.monotonic()
        try:
            job = client.submit(algorithm, params, webhook, idempotency_key=idempotency_key)
            record.update(job_id=job.job_id, status=job.status)
        except (ApiError, ClientError) as exc:
            record.update(error=f"{type(exc).__name__}: {exc}")
        record.update(seconds=time.monotonic() - began, last_url=client.base_url)
        client.close()
        return record


def submit(args: argparse.Namespace) -> None:
    submitter = Submitter(args.urls.split(","), args.keys.split(","), args.timeout, args.retry_seconds)
    params = json.loads(args.params)
    lock = threading.Lock()
    deadline = time.monotonic() + args.deadline
    with open(args.out, "a") as out, ThreadPoolExecutor(max_workers=args.threads) as pool:

        def write(record: dict) -> None:
            with lock:
                out.write(json.dumps(record) + "\n")
                out.flush()

        def one(index: int) -> None:
            write(submitter.submit(index, args.algorithm, params, args.webhook, write))

        began = time.monotonic()
        for index in range(args.count):
            due = began + index / args.rate
            now = time.monotonic()
            if now > deadline:
                break
            if due > now:
                time.sleep(due - now)  # the load's own schedule, not a wait for anything
            pool.submit(one, index)


def receive(args: argparse.Namespace) -> None:
    receiver = WebhookReceiver(host=args.address, port=args.port, log_path=args.out).start()
    try:
        threading.Event().wait()
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("submit")
    load.add_argument("--urls", required=True, help="the web hosts' base URLs, comma-separated")
    load.add_argument("--keys", required=True, help="API keys, comma-separated, used in turn")
    load.add_argument("--count", type=int, required=True)
    load.add_argument("--rate", type=float, required=True, help="submissions per second")
    load.add_argument("--algorithm", required=True)
    load.add_argument("--params", required=True, help="JSON")
    load.add_argument("--webhook")
    load.add_argument("--out", required=True)
    load.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for one answer")
    load.add_argument("--retry-seconds", type=float, default=30.0)
    load.add_argument("--threads", type=int, default=32)
    load.add_argument("--deadline", type=float, default=300.0, help="no submission starts after this many seconds")
    sink = commands.add_parser("receive")
    sink.add_argument("--address", required=True)
    sink.add_argument("--port", type=int, required=True)
    sink.add_argument("--out", required=True)
    args = parser.parse_args()
    (submit if args.command == "submit" else receive)(args)


if __name__ == "__main__":
    main()
