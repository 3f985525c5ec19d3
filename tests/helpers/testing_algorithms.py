"""Algorithms for tests only, loaded through ALGORITHM_MODULES so that worker child processes have them too."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields

from algorithms import Algorithm, Context, PermanentError, register


@register
class Failing(Algorithm):
    """Always raises, as a buggy algorithm would."""

    name = "Failing"
    version = "0.0.1"
    example = {"n": 1}

    class Params(Schema):
        n = fields.Integer(required=True)

    def run(self, params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("number must be positive")


@register
class Sleeping(Algorithm):
    """Takes ``seconds`` to answer, in small steps of Python code."""

    name = "Sleeping"
    version = "0.0.1"
    example = {"seconds": 0.01}

    class Params(Schema):
        seconds = fields.Float(required=True)

    def run(self, params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(params["seconds"])
        return {"slept": params["seconds"]}


@register
class Napping(Sleeping):
    """Sleeping under a name of its own: a test that counts completions by algorithm
    (``jobs_completed_total{algorithm=...}``) counts only its own jobs, whatever ran before it."""

    name = "Napping"
    version, example, Params = Sleeping.version, Sleeping.example, Sleeping.Params


@register
class Stuck(Algorithm):
    """Spends hours in a single native call (summing a huge range in C): no thread can interrupt it."""

    name = "Stuck"
    version = "0.0.1"
    example = {"terms": 10}

    class Params(Schema):
        terms = fields.Integer(required=True)
        report = fields.Boolean(load_default=False)  # says so (progress 0) before the long call

    def run(self, params: dict[str, Any], context: Context) -> dict[str, Any]:
        if params["report"]:
            context.progress(0.0, "summing")
        return {"sum": sum(range(params["terms"]))}


@register
class WhereRun(Algorithm):
    """Answers with the id of the process that ran it; declared quick when ``quick`` is true."""

    name = "WhereRun"
    version = "0.0.1"
    example = {"quick": True}

    class Params(Schema):
        quick = fields.Boolean(required=True)

    def is_quick(self, params: dict[str, Any]) -> bool:
        return params["quick"]

    def run(self, params: dict[str, Any], context: Context) -> dict[str, Any]:
        context.progress(1.0, "here")
        return {"pid": os.getpid()}


@register
class Gated(Algorithm):
    """Reports that it waits (and creates the file ``mark``, when given), waits until the file ``gate``
    exists, then answers with its process id."""

    name = "Gated"
    version = "0.0.1"
    example = {"gate": "/"}

    class Params(Schema):
        gate = fields.String(required=True)
        mark = fields.String(load_default=None)

    def run(self, params: dict[str, Any], context: Context) -> dict[str, Any]:
        context.progress(0.0, "at the gate")
        if params["mark"]:
            with open(params["mark"], "a"):
                pass
        while not os.path.exists(params["gate"]):
            time.sleep(0.005)
        context.progress(1.0, "through")
        return {"pid": os.getpid()}


@register
class Deep(Algorithm):
    """Raises from ``depth`` calls down, with a message of ``length`` characters."""

    name = "Deep"
    version = "0.0.1"
    example = {"depth": 1, "length": 10}

    class Params(Schema):
        depth = fields.Integer(required=True)
        length = fields.Integer(required=True)

    def run(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._down(params["depth"], params["length"])

    def _down(self, depth: int, length: int) -> dict[str, Any]:
        if depth <= 0:
            raise RuntimeError("x" * length)
        return self._down(depth - 1, length)


@register
class FailsFirst(Algorithm):
    """Fails its first ``failures`` runs, counted in the file ``counter`` (runs may be in other
    processes), then succeeds; raises ``PermanentError`` instead when ``permanent``."""

    name = "FailsFirst"
    version = "0.0.1"
    example = {"counter": "", "failures": 0}

    class Params(Schema):
        counter = fields.String(required=True)
        failures = fields.Integer(required=True)
        permanent = fields.Boolean(load_default=False)

    def run(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params["counter"]:
            return {"run": 1}
        path = Path(params["counter"])
        runs = int(path.read_text() or 0) + 1 if path.exists() else 1
        path.write_text(str(runs))
        if params["permanent"]:
            raise PermanentError("this input can never work")
        if runs <= params["failures"]:
            raise RuntimeError(f"run {runs} fails")
        return {"run": runs}


@register
class Stepping(Algorithm):
    """Goes through ``steps`` steps, each when the file ``<gates>/<n>`` exists, reporting progress
    ``n / steps`` after each: a test moves it forward step by step, with no clock involved."""

    name = "Stepping"
    version = "0.0.1"
    example = {"gates": "/", "steps": 0}

    class Params(Schema):
        gates = fields.String(required=True)
        steps = fields.Integer(required=True)

    def run(self, params: dict[str, Any], context: Context) -> dict[str, Any]:
        steps = params["steps"]
        context.progress(0.0, f"step 0 of {steps}")
        for step in range(1, steps + 1):
            while not os.path.exists(os.path.join(params["gates"], str(step))):
                time.sleep(0.005)
            context.progress(step / steps, f"step {step} of {steps}")
        return {"steps": steps}
