"""The parts of /openapi.json that depend on the deployment: the algorithms' request bodies and API keys.

Routes name the component that documents their body (``body(JOB_CREATE)``); ``document_algorithms``
builds those components from the algorithms this process loaded, so that each algorithm's params
are tied to its name (``oneOf`` with a ``discriminator`` on ``algorithm``), using the same JSON
Schema of the params that ``GET /algorithms`` shows. ``security`` says whether a key is needed now:
keys can be created while the platform runs, so the spec's answer is computed per request.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow.openapi import OpenAPIConverter

import algorithms
from app.domain.errors import ServiceError
from app.schemas.algorithms import description, params_json_schema
from app.schemas.invoke import SHORTHAND_ALGORITHM, InvokeRequestSchema
from app.schemas.jobs import AttemptSchema, JobCreateSchema
from app.services.auth import AuthService
from app.services.batches import MAX_BATCH_JOBS

#: Components documenting the bodies of POST /invoke and POST /jobs.
INVOKE_REQUEST, JOB_CREATE, BATCH_CREATE = "InvokeRequest", "JobCreate", "BatchCreate"
#: The security scheme: an API key sent as a bearer token.
API_KEY = "apiKey"
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer <key>"}


def _ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component}"}


def body(component: str) -> dict[str, Any]:
    """The ``requestBody`` documentation of a JSON body described by ``component`` (for ``Blueprint.doc``)."""
    return {"content": {"application/json": {"schema": _ref(component)}}}


def security(auth: AuthService) -> list[dict[str, list[str]]]:
    """The spec's top-level security requirement: a key when keys are configured, else optional.

    While Redis cannot say whether keys exist (before its first answer), both are documented: the
    job endpoints answer 503 then anyway.
    """
    try:
        required = auth.required()
    except ServiceError:
        required = False
    return [{API_KEY: []}] if required else [{}, {API_KEY: []}]


def document_algorithms(
    spec: APISpec,
    converter: OpenAPIConverter,
    catalog: Iterable[algorithms.Algorithm],
    max_timeout_seconds: float,
    schedule_horizon_seconds: float,
) -> None:
    """Register the request bodies of /invoke and /jobs, one variant per algorithm, in ``spec``.

    ``<Name>Params`` is the algorithm's params (with its example), ``<Name>Invocation`` and
    ``<Name>JobCreate`` the bodies naming it. ``InvokeRequest`` is one of the invocations or, the
    short form, PrimeChecker's params alone; ``JobCreate`` one of the job submissions.
    """
    invocation = converter.schema2jsonschema(InvokeRequestSchema)
    job = converter.schema2jsonschema(JobCreateSchema)
    job["properties"]["timeout"]["maximum"] = max_timeout_seconds
    job["properties"]["delay_seconds"]["maximum"] = schedule_horizon_seconds
    job["not"] = {"required": ["run_at", "delay_seconds"], "description": "run_at or delay_seconds, not both"}
    # A policy or null (apispec documents a nullable nested schema as "it, or any object").
    retry = job["properties"]["retry"]
    job["properties"]["retry"] = {"allOf": [_ref("Retry")], "nullable": True, "description": retry["description"]}
    if "Attempt" not in spec.components.schemas:  # named by JobSchema's attempt_history
        spec.components.schema("Attempt", schema=AttemptSchema)
    names = []
    for algorithm in catalog:
        names.append(algorithm.name)
        params = {**params_json_schema(algorithm.Params), "example": algorithm.example}
        spec.components.schema(f"{algorithm.name}Params", params)
        spec.components.schema(f"{algorithm.name}Invocation", _naming(invocation, algorithm))
        spec.components.schema(f"{algorithm.name}JobCreate", _naming(job, algorithm))
    general = _one_of(names, "Invocation")
    if SHORTHAND_ALGORITHM in names:
        spec.components.schema("Invocation", general)
        general = {
            "oneOf": [_ref("Invocation"), _ref(f"{SHORTHAND_ALGORITHM}Params")],
            "description": f'`{{"algorithm": name, "params": {{...}}}}`, or the short form: '
            f"{SHORTHAND_ALGORITHM}'s params alone, which {SHORTHAND_ALGORITHM} runs.",
        }
    spec.components.schema(INVOKE_REQUEST, general)
    spec.components.schema(JOB_CREATE, _one_of(names, "JobCreate"))
    batch = {
        "type": "object",
        "properties": {
            "jobs": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_JOBS, "items": _ref(JOB_CREATE)},
            "webhook": job["properties"]["webhook"],
        },
        "required": ["jobs"],
        "additionalProperties": False,
        "description": f"1 to {MAX_BATCH_JOBS} jobs, each as POST /jobs takes it, and the batch's webhook",
    }
    spec.components.schema(BATCH_CREATE, batch)


def _naming(base: dict[str, Any], algorithm: algorithms.Algorithm) -> dict[str, Any]:
    """``base`` (a body with ``algorithm`` and ``params``) for one algorithm: its name, its params."""
    variant = copy.deepcopy(base)
    variant["title"] = algorithm.name
    variant["description"] = description(algorithm)
    variant["properties"]["algorithm"] = {"type": "string", "enum": [algorithm.name], "example": algorithm.name}
    variant["properties"]["params"] = _ref(f"{algorithm.name}Params")
    return variant


def _one_of(names: list[str], suffix: str) -> dict[str, Any]:
    return {
        "oneOf": [_ref(name + suffix) for name in names],
        "discriminator": {
            "propertyName": "algorithm",
            "mapping": {name: _ref(name + suffix)["$ref"] for name in names},
        },
    }
