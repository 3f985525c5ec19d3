"""One worker process: runs jobs (a Dramatiq worker) or delivers webhooks, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import dramatiq

from app.config import Config
from app.logs import configure_logging
from app.storage import redis as redis_storage
from app.storage.queue import JOBS_QUEUE
from app.wiring import build_services
from workers.actors import declare_actors
from workers.broker import CloseOnShutdown, build_worker_broker
from workers.cancel_watch import CancelWatch
from workers.dispatcher import WebhookDispatcher
from workers.executor import ProcessExecutor
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)

#: What a process can do, as ``--role`` names it.
ROLES = ("jobs", "webhooks")


def start_worker(config: Config, threads: int) -> dramatiq.Worker:
    """Build this process's broker, services and actor, and start running jobs on ``threads`` threads.

    Each thread runs its algorithms in a child process of its own (see ``workers.executor``).
    """
    client = redis_storage.connect(config)
    broker = build_worker_broker(config, client)
    services = build_services(config, client=client)
    executor = ProcessExecutor(threads)
    cancel_watch = CancelWatch(services.runs.cancel_requested)
    declare_actors(broker, services, executor, cancel_watch)
    broker.add_middleware(CloseOnShutdown(cancel_watch, executor, services.metrics))
    worker = dramatiq.Worker(broker, queues={JOBS_QUEUE}, worker_threads=threads, worker_timeout=config.worker_poll_ms)
    # Dramatiq's default (twice the threads) would keep jobs waiting in a busy worker while another idles.
    worker.queue_prefetch = config.worker_prefetch or threads
    broker.emit_after("process_boot")
    worker.start()
    return worker


def start_dispatcher(config: Config, threads: int) -> tuple[WebhookDispatcher, threading.Thread]:
    """Start delivering webhooks on ``threads`` threads; stop with ``dispatcher.stop()``, then join."""
    services = build_services(config)
    sender = WebhookSender(config.webhook_timeout_seconds, config.webhook_allow_private_networks)
    dispatcher = WebhookDispatcher(services.webhooks, sender, threads)

    def run() -> None:
        try:
            dispatcher.run()
        finally:
            services.metrics.close()

    thread = threading.Thread(target=run, name="webhook-dispatcher")
    thread.start()
    return dispatcher, thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    config = Config.from_env()
    configure_logging(config.log_level)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.role == "jobs":
        worker = start_worker(config, args.threads)
        log.info("job worker ready: %d threads", args.threads)
        stop.wait()
        log.info("stopping: letting running jobs finish (up to %ss)", config.worker_shutdown_timeout_seconds)
        worker.stop(timeout=int(config.worker_shutdown_timeout_seconds * 1000))
        worker.broker.close()
    else:
        dispatcher, thread = start_dispatcher(config, args.threads)
        log.info("webhook dispatcher ready: %d threads", args.threads)
        while not stop.wait(1.0):
            if not thread.is_alive():
                log.error("the webhook dispatcher stopped; exiting so that the supervisor starts another")
                sys.exit(1)
        log.info("stopping: letting attempts under way finish")
        dispatcher.stop()
        thread.join()


if __name__ == "__main__":
    main()
