"""schemathesis hooks of the conformance test (loaded by ``st run`` through ``SCHEMATHESIS_HOOKS``).

Four adjustments, each to the test, none to what the spec says or what is checked:

- Factorising a large number takes its whole ``time_budget`` (up to 60 s, on /invoke in the request),
  and schemathesis draws numbers up to 2^1024. The conformance test is about the HTTP contract, not
  about PrimeChecker's speed: a positive case with a number that is not quick gets a 10 ms budget.
  Only values the spec allows are replaced, with a value it allows, so no case changes validity.
- A webhook's host must resolve at submission (the rule no schema can state; a host that does not
  gets 400 naming ``webhook``), and this machine resolves only its own names: the host of a
  generated webhook URL is replaced by ``localhost``, keeping the rest of the URL, so the URL stays
  one the spec allows and the case stays what it was.
- A ``run_at`` must lie between a minute ago and SCHEDULE_HORIZON_SECONDS ahead (relative to now,
  which no schema can state either): a generated one is replaced by a time a minute from now.
- The same for each job of a batch (``POST /batches``), and the batch's webhook.
- A wait (``?wait=N``, ``Prefer: wait=N``) on a job that will not end soon (a scheduled one) holds
  the answer N seconds, as documented, up to a minute: generated waits are shortened to a second, so
  that the run stays short (schemathesis gives a request 10 s).
- ``POST /jobs/{id}/webhook/redeliver`` of a job submitted without a webhook answers 404
  ``WEBHOOK_NOT_FOUND``, as documented: that job has no webhook to redeliver. schemathesis's
  "created resource not found" (ST302) assumes every sub-path of a created job exists; that one
  failure, and only with that error code, is dropped.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import schemathesis

from algorithms.prime_checker import MAX_TIME_BUDGET_SECONDS, QUICK_BELOW

#: Seconds of factorisation allowed to a generated PrimeChecker run on a large number.
TEST_TIME_BUDGET_SECONDS = 0.01


def _prime_checker_params(path: str, body: Any) -> dict[str, Any] | None:
    """The PrimeChecker params in a POST /invoke or /jobs body (the short form too), if any."""
    if not isinstance(body, dict):
        return None
    if "algorithm" not in body and path == "/invoke":
        return body
    params = body.get("params")
    return params if body.get("algorithm") == "PrimeChecker" and isinstance(params, dict) else None


def _allowed_budget(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_TIME_BUDGET_SECONDS


def _resolvable(url: str) -> str:
    """``url`` with its host replaced by ``localhost`` (scheme, credentials, port, path, query kept)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if not parts.hostname:
        return url
    credentials = parts.netloc.rpartition("@")[0]
    netloc = (credentials + "@" if credentials else "") + "localhost" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _runnable(job: dict[str, Any], path: str) -> None:
    """One submission (a body of POST /jobs or /invoke, or a job of a batch), adjusted in place."""
    if isinstance(job.get("webhook"), str):
        job["webhook"] = _resolvable(job["webhook"])
    if isinstance(job.get("run_at"), str):
        job["run_at"] = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    params = _prime_checker_params(path, job)
    if params is None:
        return
    number, budget = params.get("number"), params.get("time_budget", TEST_TIME_BUDGET_SECONDS)
    if isinstance(number, int) and not isinstance(number, bool) and number >= QUICK_BELOW and _allowed_budget(budget):
        params["time_budget"] = min(budget, TEST_TIME_BUDGET_SECONDS)


def _short_waits(case: Any) -> None:
    query = case.query
    if isinstance(query, dict) and isinstance(query.get("wait"), (int, float)) and query["wait"] > 1:
        case.query = {**query, "wait": 1}
    headers = case.headers
    if isinstance(headers, dict) and isinstance(headers.get("Prefer"), str) and "wait" in headers["Prefer"].lower():
        case.headers = {**headers, "Prefer": "wait=1"}


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    _short_waits(case)
    path = case.operation.path
    if case.operation.method.upper() != "POST" or path not in ("/invoke", "/jobs", "/batches"):
        return case
    body = copy.deepcopy(case.body)
    if not isinstance(body, dict):
        return case
    if path == "/batches":
        if isinstance(body.get("webhook"), str):
            body["webhook"] = _resolvable(body["webhook"])
        for job in body.get("jobs") or []:
            if isinstance(job, dict):
                _runnable(job, "/jobs")
    else:
        _runnable(body, path)
    case.body = body
    return case


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but ST302 on a redelivery answered WEBHOOK_NOT_FOUND."""
    if failure.code != "ST302" or not case.operation.path.endswith("/webhook/redeliver"):
        return True
    try:
        return json.loads(response.content).get("error") != "WEBHOOK_NOT_FOUND"
    except (ValueError, AttributeError):
        return True
