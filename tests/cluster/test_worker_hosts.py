"""Two worker hosts under a steady load: they share the jobs; one cut off mid-run has every job it held
run again on the other within the lease time + 2 s; when its link comes back its late outcomes are
fenced off, so no job ends twice and no webhook tells of two different endings.

The cluster runs with WORKER_LEASE_SECONDS=3 (``LEASE_SECONDS``) instead of 15, so that this takes
seconds. Which host ran a job is its ``worker_host``, written by the script that starts each run.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter, defaultdict

import pytest
from clusters import LEASE_SECONDS, Cluster
from support import wait_until

from app.domain.models import Job, JobStatus

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

JOB_SECONDS = 1.0
#: Submissions per second: about 3 jobs run at once, on 12 threads (6 a host), 6 when one host is left.
RATE = 3.0
COUNT = 72
#: Longest a worker step waits between two tries against a Redis it cannot reach, plus a connect timeout.
RETRY_SECONDS = 5.0 + 1.0
_FENCED = re.compile(r"job (\w+) had moved on; outcome \w+ of run \d+ not recorded")


def _jobs(cluster: Cluster, ids: list[str]) -> dict[str, Job]:
    return {job_id: cluster.job(job_id) for job_id in ids}


def _run_of(job: Job) -> tuple:
    """What a run writes: who ran it, when, and how it ended."""
    return (job.status, job.worker_host, job.attempts, job.started_at, job.completed_at, job.result, job.metadata)


def _all_finished(cluster: Cluster, ids: list[str]) -> dict[str, Job] | None:
    jobs = _jobs(cluster, ids)
    return jobs if all(job.status.finished for job in jobs.values()) else None


def test_worker_hosts_share_the_jobs_and_a_cut_one_is_replaced_then_fenced(cluster: Cluster, figures) -> None:
    # Napping is Sleeping under a name no other test uses: its completions are this test's jobs only.
    assert cluster.metric("jobs_completed_total", algorithm="Napping", status="completed") == 0
    params = {"seconds": JOB_SECONDS}
    load = cluster.start_load(
        count=COUNT, rate=RATE, keys=cluster.take_keys(12), algorithm="Napping", params=params, webhook=True
    )
    worker1 = cluster.hosts["worker1"]

    # Given a third of the load done by both hosts, and worker1 having just started a job
    def worker1_just_started_one() -> bool:
        answered = [r for r in load.answered() if "job_id" in r]
        if len(answered) < COUNT // 3:
            return False
        recent = _jobs(cluster, [r["job_id"] for r in answered[-6:]]).values()
        return any(
            job.status is JobStatus.RUNNING and job.worker_host == "worker1" and time.time() - job.started_at < 0.3
            for job in recent
        )

    wait_until(worker1_just_started_one, timeout=COUNT / RATE, interval=0.02, message="worker1 to start a job")

    # When worker1's link goes down
    cut_at = time.time()
    worker1.cut()
    wait_until(
        lambda: all("job_id" in r or "error" in r for r in load.records() if r["sent_at"] < cut_at),
        timeout=5,
        message="the submissions sent before the cut to be answered",
    )
    answered_ids = [r["job_id"] for r in load.answered() if "job_id" in r]
    held = [
        job_id
        for job_id, job in _jobs(cluster, answered_ids).items()
        if job.status is JobStatus.RUNNING and job.worker_host == "worker1"
    ]
    assert held, "worker1 held no job when it was cut off"

    # Then every job it held runs again on worker2, within the lease time + 2 s of the cut
    bound = LEASE_SECONDS + 2
    rerun = wait_until(
        lambda: _all_finished(cluster, held), timeout=bound + JOB_SECONDS + 5, message="the held jobs to run again"
    )
    delays = sorted(job.started_at - cut_at for job in rerun.values())
    assert {(job.status, job.worker_host, job.attempts) for job in rerun.values()} == {
        (JobStatus.COMPLETED, "worker2", 2)
    }
    assert delays[-1] <= bound, delays

    # And when its link comes back, worker1's late outcomes are fenced off
    restored_at = time.time()
    worker1.restore()
    fenced = wait_until(
        lambda: set(_FENCED.findall(worker1.log("worker"))) >= set(held) and _FENCED.findall(worker1.log("worker")),
        timeout=RETRY_SECONDS + 5,
        interval=0.05,
        message="worker1's late outcomes to arrive and be refused",
    )
    fenced_after = time.time() - restored_at
    assert {job_id: _run_of(job) for job_id, job in _jobs(cluster, held).items()} == {
        job_id: _run_of(job) for job_id, job in rerun.items()
    }  # nothing of their runs changed (their webhooks go on being delivered meanwhile)

    # The load runs to its end: every submission made one job, which ended once
    records = load.wait(timeout=COUNT / RATE + 30)
    assert [r.get("error") for r in records if "error" in r] == []
    ids = [r["job_id"] for r in records]
    assert len(set(ids)) == COUNT
    final = wait_until(lambda: _all_finished(cluster, ids), timeout=30, message="every job to finish")
    assert {job.status for job in final.values()} == {JobStatus.COMPLETED}
    wait_until(
        lambda: cluster.metric("jobs_completed_total", algorithm="Napping", status="completed") == COUNT,
        timeout=10,
        message="each job counted once in jobs_completed_total",
    )

    # Every webhook of a job tells the same ending (a delivery may repeat; its content never differs)
    def bodies() -> dict[str, list[dict]] | None:
        found: dict[str, list[dict]] = defaultdict(list)
        for delivery in cluster.webhooks():
            if delivery["body"]["job_id"] in final:
                found[delivery["body"]["job_id"]].append(delivery["body"])
        return found if len(found) == COUNT else None

    told = wait_until(bodies, timeout=20, message="a webhook for every job")
    for job_id, payloads in told.items():
        assert len({json.dumps(p, sort_keys=True) for p in payloads}) == 1, payloads
        assert payloads[0]["status"] == "completed" and payloads[0]["metadata"] == final[job_id].metadata

    # Shared: while both were up (before the cut, and once worker1 was back) each ran a fair part
    both_up = Counter(job.worker_host for job in final.values() if job.started_at < cut_at)
    alone = Counter(job.worker_host for job in final.values() if cut_at <= job.started_at < restored_at)
    rejoined = Counter(job.worker_host for job in final.values() if job.started_at >= restored_at)
    shared = both_up + rejoined
    assert min(shared["worker1"], shared["worker2"]) >= 0.25 * shared.total(), (both_up, rejoined)
    assert rejoined["worker1"] > 0 and set(alone) == {"worker2"}
    overall = Counter(job.worker_host for job in final.values())
    figures(
        f"worker hosts: {COUNT} jobs of {JOB_SECONDS:g} s at {RATE:g}/s from the client host, "
        f"WORKER_LEASE_SECONDS={LEASE_SECONDS:g} (pytest tests/cluster/test_worker_hosts.py)",
        [
            f"jobs per worker host: worker1 {overall['worker1']}, worker2 {overall['worker2']} "
            f"(both up: {both_up['worker1']}/{both_up['worker2']}; worker1 cut off: "
            f"{alone['worker1']}/{alone['worker2']}; after it came back: {rejoined['worker1']}/{rejoined['worker2']})",
            f"jobs worker1 held when cut: {len(held)}; each rerun on worker2 started "
            f"{', '.join(f'{d:.2f}' for d in delays)} s after the cut (median {statistics.median(delays):.2f}, "
            f"bound {bound:g})",
            f"late outcomes of worker1 fenced off: {len(fenced)} (all {len(held)} held jobs), the last "
            f"{fenced_after:.1f} s after its link came back; terminal states written twice: 0",
            f"webhooks: {sum(map(len, told.values()))} deliveries for {COUNT} jobs, "
            f"{sum(len(p) - 1 for p in told.values())} repeated, 0 telling another ending",
        ],
    )
