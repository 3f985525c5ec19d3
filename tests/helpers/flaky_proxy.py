"""A real HTTP proxy on 127.0.0.1 that misbehaves on cue, for testing what the client retries.

Each request takes the next scripted ``Act`` (then ``FORWARD`` once the script is used up, or
the last act again with ``repeat_last``):

- ``FORWARD``: pass the request to the upstream and its answer back;
- ``DROP``: close the connection without forwarding or answering;
- ``FORWARD_THEN_DROP``: forward (the upstream acts on it) but close instead of answering, as when
  an answer is lost on the way back;
- ``HANG``: say nothing for ``hang_seconds``, then close;
- ``answer(status, retry_after=..., body=...)``: answer without forwarding, in the API's error
  shape unless ``body`` (with ``content_type``) is given, as a gateway's HTML page would be.

With ``strip_wait`` the ``wait`` query parameter is removed, as from a server without long polls.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

FORWARD, DROP, FORWARD_THEN_DROP, HANG = "forward", "drop", "forward-then-drop", "hang"
_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "JOB_NOT_FOUND",
    409: "JOB_ALREADY_FINISHED",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None = None
    body: bytes | None = None
    content_type: str = "application/json"


def answer(
    status: int, retry_after: str | None = None, body: bytes | None = None, content_type: str = "text/html"
) -> Answer:
    return Answer(status, retry_after, body, content_type if body is not None else "application/json")


@dataclass
class Seen:
    at: float  # time.monotonic() on arrival
    method: str
    path: str  # with the query, as the client sent it
    headers: dict[str, str]
    act: str | Answer
    client_port: int


@dataclass
class FlakyProxy:
    upstream: str = "http://127.0.0.1:9"
    script: list[str | Answer] = field(default_factory=list)
    repeat_last: bool = False
    strip_wait: bool = False
    hang_seconds: float = 2.0
    seen: list[Seen] = field(default_factory=list)

    def start(self) -> FlakyProxy:
        proxy = self
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                act = proxy._next(self)
                if act in (DROP, HANG):
                    if act == HANG:
                        proxy._stopping.wait(proxy.hang_seconds)
                    self.close_connection = True
                    return
                if isinstance(act, Answer):
                    self._answer_error(act)
                    return
                upstream = proxy._forward(self.command, self.path, dict(self.headers), body)
                if act == FORWARD_THEN_DROP:
                    self.close_connection = True
                    return
                self.send_response(upstream.status_code)
                for name, value in upstream.headers.items():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def _answer_error(self, act: Answer) -> None:
                body = act.body if act.body is not None else self._error_body(act.status)
                self.send_response(act.status)
                self.send_header("Content-Type", act.content_type)
                self.send_header("Content-Length", str(len(body)))
                if act.retry_after is not None:
                    self.send_header("Retry-After", act.retry_after)
                self.end_headers()
                self.wfile.write(body)

            @staticmethod
            def _error_body(status: int) -> bytes:
                error = {
                    "error": _CODES.get(status, f"HTTP_{status}"),
                    "message": f"proxy says {status}",
                    "details": {},
                    "request_id": "proxy",
                    "retryable": status in (429, 503),
                }
                return json.dumps(error).encode()

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *_: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _next(self, handler: BaseHTTPRequestHandler) -> str | Answer:
        with self._lock:
            if self.script:
                act = self.script[0] if self.repeat_last and len(self.script) == 1 else self.script.pop(0)
            else:
                act = FORWARD
            self.seen.append(
                Seen(
                    time.monotonic(),
                    handler.command,
                    handler.path,
                    dict(handler.headers),
                    act,
                    handler.client_address[1],
                )
            )
            return act

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
        if self.strip_wait:
            parts = urllib.parse.urlsplit(path)
            query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "wait"]
            path = urllib.parse.urlunsplit(("", "", parts.path, urllib.parse.urlencode(query), ""))
        headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection", "content-length")}
        return self._session.request(method, self.upstream + path, headers=headers, data=body, timeout=90)

    def requests_to(self, method: str, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and s.path.startswith(path_prefix)]

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._session.close()
