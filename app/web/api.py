"""flask-smorest, adapted to the API's error contract: one parser, one Blueprint class, one Api."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn

import flask
import flask_smorest
import marshmallow as ma
from flask import Flask, Request, Response
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser, is_json_request

from app.domain.errors import InvalidRequest, UnsupportedMediaType
from app.domain.validation import invalid_request
from app.schemas.errors import ErrorSchema
from app.schemas.jsonschema import complete
from app.web.error_handlers import register_error_handlers


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


class RequestParser(FlaskParser):
    """Parses request bodies strictly and raises ``VALIDATION_ERROR`` (400), never 422 or 500."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req: Request, schema: ma.Schema) -> Any:
        body = req.get_data(cache=True)
        if not body:
            raise InvalidRequest("Request body is required: a JSON object", {"field": "body"})
        if not is_json_request(req):
            raise UnsupportedMediaType()
        try:
            return json.loads(body, parse_constant=_reject_constant)
        except RecursionError:
            reason = "nested too deeply"
        except UnicodeDecodeError:
            reason = "not valid UTF-8"
        except json.JSONDecodeError as exc:
            reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        except ValueError as exc:
            # NaN/Infinity, or an integer literal past Python's 4300-digit conversion limit.
            reason = str(exc) if "JSON" in str(exc) else "integer literal too long"
        raise InvalidRequest("Request body is not valid JSON", {"reason": reason})

    def handle_error(self, error: ma.ValidationError, req: Request, schema: ma.Schema, **_: Any) -> NoReturn:
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            # webargs nests by location (json, query, headers): field names are clear without it.
            ((_location, messages),) = messages.items()
        raise invalid_request(messages, error.data)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = RequestParser()

    def arguments(self, schema: type[ma.Schema] | ma.Schema, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        # webargs builds a new instance of a Schema class for every request (copying every field):
        # schemas hold no request state, so one instance per route does.
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def errors(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document that a view may answer these statuses with the error body."""

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorate


def _header(description: str, kind: str = "integer") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


#: Headers of every response of a rate-limited endpoint, when RATE_LIMIT is set.
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": _header("Requests allowed in the window (when RATE_LIMIT is set)"),
    "X-RateLimit-Remaining": _header("Requests left in the window"),
    "X-RateLimit-Reset": _header("Unix time when the window resets"),
}
#: Headers of the error responses that carry more than the body.
_ERROR_HEADERS = {
    HTTPStatus.UNAUTHORIZED: {"WWW-Authenticate": _header("Bearer", "string")},
    HTTPStatus.TOO_MANY_REQUESTS: {"Retry-After": _header("Seconds to wait before retrying"), **RATE_LIMIT_HEADERS},
    HTTPStatus.SERVICE_UNAVAILABLE: {"Retry-After": _header("Seconds to wait before retrying")},
    HTTPStatus.METHOD_NOT_ALLOWED: {"Allow": _header("Methods this endpoint accepts", "string")},
}


#: The spec's top-level security requirement at this moment.
SecurityRequirement = Callable[[], list[dict[str, list[str]]]]


class Api(flask_smorest.Api):
    """Documents errors with the API's error body and renders them through ``app.web.error_handlers``.

    ``security``, when given, is asked for the spec's top-level security requirement each time the
    spec is served: whether API keys are required can change while the platform runs.
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app: Flask | None = None, *, security: SecurityRequirement | None = None, **kwargs: Any) -> None:
        self._security = security
        super().__init__(app, **kwargs)

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        complete(self.ma_plugin.converter)

    def _openapi_json(self) -> Response:
        # flask-smorest's view of /openapi.json, with the security requirement of this moment.
        spec = self.spec.to_dict()
        if self._security is not None:
            spec["security"] = self._security()
        return flask.current_app.response_class(
            flask.json.dumps(spec, indent=2, sort_keys=False), mimetype="application/json"
        )

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)

    def _register_responses(self) -> None:
        super()._register_responses()
        for status, headers in _ERROR_HEADERS.items():  # replaces flask-smorest's (lazy) component
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA, "headers": headers}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
