"""What operators see of a cluster: with jobs running on both worker hosts, pending behind them and
scheduled, the gauges on /metrics of either web host, GET /queues and /workers, and a count made by
hand from the job records in Redis all say the same."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests
from clusters import ADMIN_KEYS, LEASE_SECONDS, Cluster
from support import metric_value, wait_until

from app.domain.models import JobStatus

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

#: Job states the gauges count (the rest are history).
ACTIVE = ("pending", "scheduled", "running")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _active_by_hand(cluster: Cluster) -> Counter[str]:
    """Every job record's status, read one by one from Redis, counting the active ones."""
    client = cluster.redis
    counts: Counter[str] = Counter()
    for key in client.scan_iter("fs:job:*", count=1000):
        if key.count(b":") == 2:  # the job's state hash, not its input, output or logs
            status = client.hget(key, "status")
            if status and status.decode() in ACTIVE:
                counts[status.decode()] += 1
    return counts


def _metrics(cluster: Cluster, web: str) -> str:
    return requests.get(cluster.web_url(web) + "/metrics", timeout=5).text


def test_gauges_queues_and_a_count_by_hand_agree_across_hosts(cluster: Cluster, figures) -> None:
    wait_until(
        lambda: (
            {(w["host"], w["role"]) for w in cluster.registry.alive(ttl_ms=int(LEASE_SECONDS * 1000))}
            >= {("worker1", "jobs"), ("worker2", "jobs")}
        ),
        timeout=30,
        message="both worker hosts registered",
    )
    assert _active_by_hand(cluster) == Counter(), "jobs of an earlier test still active"
    slots = int(metric_value(_metrics(cluster, "web1"), "worker_slots"))
    assert slots >= 2
    keys = cluster.take_keys(4)
    web1, web2 = cluster.web_urls

    def submit(number: int, **extra: object) -> list[str]:
        ids = []
        for n in range(number):
            answer = requests.post(
                f"{(web1, web2)[n % 2]}/jobs",
                json={"algorithm": "Sleeping", "params": {"seconds": 120}, **extra},
                headers=_auth(keys[n % len(keys)]),
                timeout=5,
            )
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["job_id"])
        return ids

    running = submit(slots)
    wait_until(
        lambda: all(cluster.job(i).status is JobStatus.RUNNING for i in running),
        timeout=30,
        message="a job on every slot of both hosts",
    )
    pending, scheduled = submit(3), submit(2, delay_seconds=600)
    try:
        by_hand = _active_by_hand(cluster)
        assert by_hand == {"running": slots, "pending": 3, "scheduled": 2}
        hosts_running = Counter(cluster.job(i).worker_host for i in running)
        assert set(hosts_running) == {"worker1", "worker2"}, hosts_running

        for web in ("web1", "web2"):  # each replica answers for the whole cluster
            queues = requests.get(cluster.web_url(web) + "/queues", headers=_auth(ADMIN_KEYS[0]), timeout=5).json()
            [jobs_queue] = [q for q in queues["queues"] if q["name"] == "jobs"]
            assert (jobs_queue["pending"], jobs_queue["scheduled"], jobs_queue["running"]) == (3, 2, slots), web
            assert 0 <= jobs_queue["oldest_pending_age_seconds"] < 60
            metrics = _metrics(cluster, web)
            assert metric_value(metrics, "jobs_pending", queue="jobs") == 3, web
            assert metric_value(metrics, "jobs_scheduled") == 2, web
            assert metric_value(metrics, "jobs_running") == slots, web
            assert metric_value(metrics, "workers_online", role="jobs") == 2, web
            assert metric_value(metrics, "workers_online", role="webhooks") == 2, web
            assert 0 <= metric_value(metrics, "job_queue_oldest_age_seconds", queue="jobs") < 60, web
        wait_until(
            lambda: metric_value(_metrics(cluster, "web2"), "worker_slots_busy") == slots,
            timeout=2 * LEASE_SECONDS,
            message="the heartbeats to show every slot busy",
        )
        workers = requests.get(web2 + "/workers", headers=_auth(ADMIN_KEYS[1]), timeout=5).json()["workers"]
        shown = {w["host"]: sorted(r["job_id"] for r in w["running"]) for w in workers if w["role"] == "jobs"}
        assert shown == {
            host: sorted(i for i in running if cluster.job(i).worker_host == host) for host in ("worker1", "worker2")
        }
    finally:
        for n, job_id in enumerate(running + pending + scheduled):
            requests.post(f"{web1}/jobs/{job_id}/cancel", headers=_auth(ADMIN_KEYS[2 + n % 2]), timeout=5)
    wait_until(lambda: _active_by_hand(cluster) == Counter(), timeout=30, message="every job cancelled")
    metrics = _metrics(cluster, "web1")
    assert [metric_value(metrics, name) for name in ("jobs_running", "jobs_scheduled")] == [0, 0]
    assert metric_value(metrics, "jobs_pending", queue="jobs") == 0
    figures(
        "operators' view of the cluster (pytest tests/cluster/test_operations.py)",
        [
            f"{slots} jobs running ({dict(hosts_running)}), 3 pending, 2 scheduled: /metrics of web1 and web2, "
            "/queues of both, /workers and the job records read one by one agree",
        ],
    )


def _events(response: requests.Response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a Server-Sent Events stream, read until the server closes it."""
    events, fields = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "event" in fields:
                events.append((fields["event"], json.loads(fields["data"])))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return events


def test_a_jobs_events_stream_from_the_other_web_host(cluster: Cluster, figures) -> None:
    """Submitted to web1, followed on web2 (and the reverse): the stream starts with the job's state, sees
    each change made by a worker host, and ends with the job; the subscription of each web process
    hears what the job scripts publish, whoever ran them."""
    [key] = cluster.take_keys(1)
    for submit_to, follow_on in (("web1", "web2"), ("web2", "web1")):
        answer = requests.post(
            cluster.web_url(submit_to) + "/jobs",
            json={"algorithm": "Sleeping", "params": {"seconds": 0.5}, "delay_seconds": 1},
            headers=_auth(key),
            timeout=5,
        )
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]
        with requests.get(
            cluster.web_url(follow_on) + f"/jobs/{job_id}/events", headers=_auth(key), stream=True, timeout=30
        ) as stream:
            assert stream.status_code == 200
            events = _events(stream)
        statuses = [data["status"] for kind, data in events if kind == "status"]
        assert statuses[0] == "scheduled" and "running" in statuses and statuses[-1] == "completed", statuses
        assert events[-1] == ("end", {"status": "completed"})
    figures(
        "event streams across web hosts (pytest tests/cluster/test_operations.py)",
        ["a job submitted to one web host and followed on the other: scheduled → running → completed, then end"],
    )
