"""Two web hosts, stateless: one cut off mid-load costs clients a retry on the other, never a
submission or a duplicate; rate limits and ``?wait=`` are the same whichever host answers."""

from __future__ import annotations

import statistics
import time

import pytest
import requests
from clusters import RATE_LIMIT_PER_HOUR, Cluster
from support import wait_until

from app.domain.models import JobStatus

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

#: Submissions per second, spread over both web hosts, and how many.
RATE, COUNT = 8.0, 96
#: Submissions first sent to the cut host, and answered by the other, before its link comes back.
FAILED_OVER = 12


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_cut_web_host_costs_a_retry_never_a_submission_or_a_duplicate(cluster: Cluster, figures) -> None:
    keys = cluster.take_keys(16)  # 6 submissions a key, within its rate limit with the check below
    load = cluster.start_load(count=COUNT, rate=RATE, keys=keys, algorithm="Sleeping", params={"seconds": 0.05})
    web1, web2 = cluster.web_urls
    wait_until(lambda: len(load.answered()) >= COUNT // 4, timeout=COUNT / RATE, message="a quarter of the load")

    cut_at = time.time()
    cluster.hosts["web1"].cut()

    def failed_over() -> list[dict]:
        return [
            r for r in load.answered() if r["sent_at"] >= cut_at and r["first_url"] == web1 and r["last_url"] == web2
        ]

    wait_until(lambda: len(failed_over()) >= FAILED_OVER, timeout=30, message="submissions to fail over to web2")
    restored_at = time.time()
    cluster.hosts["web1"].restore()

    records = load.wait(timeout=COUNT / RATE + 60)
    assert [r["error"] for r in records if "error" in r] == []  # no submission lost
    ids = [r["job_id"] for r in records]
    assert len(ids) == len(set(ids)) == COUNT
    jobs = wait_until(
        lambda: all(cluster.job(i).status.finished for i in ids) and [cluster.job(i) for i in ids],
        timeout=30,
        message="every job to finish",
    )
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}
    for key in keys:  # no duplicate: each key owns exactly the jobs its submissions were answered with
        page = requests.get(f"{web2}/jobs", params={"limit": 100}, headers=_auth(key), timeout=5).json()
        assert sorted(job["job_id"] for job in page["jobs"]) == sorted(r["job_id"] for r in records if r["key"] == key)

    during = [r for r in records if cut_at <= r["sent_at"] < restored_at and r["first_url"] == web1]
    moved = failed_over()
    in_flight = [r for r in records if r["sent_at"] < cut_at and r["first_url"] == web1 and r["last_url"] == web2]
    after = [r for r in records if r["sent_at"] >= restored_at]
    assert {r["last_url"] for r in after if r["first_url"] == web1} == {web1}  # back in use at once
    seconds = sorted(r["seconds"] for r in moved)
    figures(
        f"web hosts: {COUNT} submissions at {RATE:g}/s from the client host, round-robin over both, "
        "the Python client given both URLs (timeout 2 s) (pytest tests/cluster/test_web_hosts.py)",
        [
            f"web1 cut for {restored_at - cut_at:.1f} s: {len(during)} submissions sent to it then, "
            f"{len(moved)} answered by web2 after a retry (took {statistics.median(seconds):.2f} s at the median, "
            f"{seconds[-1]:.2f} s at most), the others by web1 once back; {len(in_flight)} in flight to web1 "
            "at the cut, answered by web2",
            f"lost submissions: 0 of {COUNT}; duplicate jobs: 0 (every key owns exactly its {COUNT // len(keys)} jobs)",
        ],
    )


def test_rate_limits_are_counted_once_for_both_web_hosts(cluster: Cluster, figures) -> None:
    (key,) = cluster.take_keys(1)
    remaining, hosts = [], cluster.web_urls
    for n in range(RATE_LIMIT_PER_HOUR):
        answer = requests.get(f"{hosts[n % 2]}/algorithms", headers=_auth(key), timeout=5)
        assert answer.status_code == 200
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(RATE_LIMIT_PER_HOUR - 1, -1, -1))  # one budget, whichever host counts
    for url in hosts:
        refused = requests.get(f"{url}/algorithms", headers=_auth(key), timeout=5)
        assert refused.status_code == 429 and refused.json()["error"] == "RATE_LIMIT_EXCEEDED"
        assert int(refused.headers["Retry-After"]) > 0
    figures(
        f"rate limits: RATE_LIMIT={RATE_LIMIT_PER_HOUR}/hour (pytest tests/cluster/test_web_hosts.py)",
        [
            f"{RATE_LIMIT_PER_HOUR} requests alternating web1/web2: X-RateLimit-Remaining "
            f"{remaining[0]}, {remaining[1]}, ..., {remaining[-1]}; the next on either host: 429"
        ],
    )


def test_a_wait_ends_when_the_job_does_whichever_host_holds_it(cluster: Cluster, figures) -> None:
    (key,) = cluster.take_keys(1)
    job_seconds, lags = 1.0, {}
    body = {"algorithm": "Sleeping", "params": {"seconds": job_seconds}}
    for submit_to, wait_on in (("web1", "web2"), ("web2", "web1")):
        created = requests.post(f"{cluster.web_url(submit_to)}/jobs", json=body, headers=_auth(key), timeout=5)
        assert created.status_code == 202
        job_id = created.json()["job_id"]
        began = time.monotonic()
        held = requests.get(
            f"{cluster.web_url(wait_on)}/jobs/{job_id}", params={"wait": 20}, headers=_auth(key), timeout=30
        )
        answered_at = time.time()
        assert held.json()["status"] == "completed" and time.monotonic() - began < job_seconds + 3
        lags[f"submitted to {submit_to}, waited on {wait_on}"] = answered_at - cluster.job(job_id).completed_at
    for host in ("web1", "web2"):
        began = time.monotonic()
        headers = {**_auth(key), "Prefer": "wait=20"}
        done = requests.post(f"{cluster.web_url(host)}/jobs", json=body, headers=headers, timeout=30)
        assert done.status_code == 200 and done.json()["status"] == "completed"
        assert time.monotonic() - began < job_seconds + 3
        lags[f"Prefer: wait on {host}"] = time.time() - cluster.job(done.json()["job_id"]).completed_at
    assert max(lags.values()) < 1.0
    figures(
        "waiting (?wait=, Prefer: wait) across hosts (pytest tests/cluster/test_web_hosts.py)",
        [f"{name}: answered {lag * 1000:.0f} ms after the job completed" for name, lag in lags.items()],
    )
