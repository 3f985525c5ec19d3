"""gunicorn settings for ``functionalscaffold web`` (and the Procfile's ``web:``), from the environment.

Prometheus multiprocess mode is set up here, before any worker imports prometheus_client, so that
/metrics adds up the HTTP metrics of every gunicorn worker. gunicorn loads this file by path; it
imports nothing from the app.
"""

import os
import shutil
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# Each open event stream (GET /jobs/{id}/events) holds a thread: they come on top of WEB_THREADS.
# (EVENT_STREAMS_MAX's default is app.infra.config's; this file imports nothing from the app.)
threads = int(os.environ.get("WEB_THREADS", "160")) + int(os.environ.get("EVENT_STREAMS_MAX", "200"))
# Requests may legitimately run up to a minute (/invoke with a long factorisation budget).
timeout = int(os.environ.get("WEB_TIMEOUT", "90"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
# gunicorn 27's control socket lives at one fixed path per user: a second instance would take it over.
control_socket_disable = True

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="fs-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    # Counts of a previous run would otherwise be added to this one's. Only the metric files go:
    # the directory may be one the operator chose.
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, name))


def post_worker_init(worker):
    # SIGTERM lets a worker finish its requests (graceful_timeout); requests held by ?wait= would
    # hold it up to a minute, event streams for minutes: they are answered at once instead, with
    # the job as it is, and streams end (their clients reconnect, to another process). (From a
    # thread of its own: a signal handler must not take the locks that releasing them takes.)
    import queue
    import signal
    import threading

    from app.routes import EXTENSION_KEY

    services = getattr(worker.wsgi, "extensions", {}).get(EXTENSION_KEY)
    if services is None:  # another app under this config (the benchmarks' bare Flask)
        return

    def release() -> None:
        inbox.get()
        services.waiter.release_all()
        services.events.release_all()

    inbox = queue.SimpleQueue()
    threading.Thread(target=release, daemon=True).start()
    graceful = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        inbox.put(True)
        graceful(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def child_exit(server, worker):
    # Imported here, not above: prometheus_client picks its storage when first imported, which
    # must happen after PROMETHEUS_MULTIPROC_DIR is set (the workers inherit this process's modules).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
