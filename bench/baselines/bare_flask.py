"""The floor under the platform's web API: bare Flask doing the least each endpoint must do.

``POST /jobs`` is one HSET and one LPUSH, ``GET /jobs/<id>`` one HGETALL, ``GET /hello`` a small
JSON answer. The benchmark serves it with the platform's own gunicorn config
(``gunicorn --config app/infra/gunicorn_conf.py bare_flask:app``) on the same Redis.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import redis
from flask import Flask, jsonify, request

app = Flask(__name__)
client = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.post("/jobs")
def create_job():
    body = request.get_json()
    job_id = uuid.uuid4().hex[:12]
    fields = {
        "status": "pending",
        "algorithm": body["algorithm"],
        "params": json.dumps(body["params"]),
        "created_at": time.time(),
    }
    client.hset(f"bare:job:{job_id}", mapping=fields)
    client.lpush("bare:queue", job_id)
    return jsonify(job_id=job_id, status="pending"), 202


@app.get("/jobs/<job_id>")
def get_job(job_id: str):
    fields = client.hgetall(f"bare:job:{job_id}")
    if not fields:
        return jsonify(error="JOB_NOT_FOUND"), 404
    return jsonify({k.decode(): v.decode() for k, v in fields.items()})


@app.get("/hello")
def hello():
    return jsonify(message="hello", ok=True)
