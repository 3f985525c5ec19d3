"""A closed-loop HTTP load generator: CONNECTIONS keep-alive connections, each sending a request as
soon as the previous answer is in, for SECONDS. Prints one JSON object (requests/s, latencies).

Usage: python bench/load.py URL [--method POST] [--body JSON] [--paths-file F] [--connections 32]
                            [--seconds 5] [--warmup 1]

Run as its own process, apart from the servers it loads. asyncio with hand-written HTTP/1.1 keeps
its cost per request low (a few tens of microseconds), so that the servers, not the generator, are
what is measured. Requests cycle through the paths of ``--paths-file`` (one per line) when given.
Targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
import urllib.parse


def _request(method: str, host: str, path: str, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fs-bench\r\nAccept: application/json\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one answer (its body read and dropped), and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep


async def _connection(
    host: str, port: int, requests: itertools.cycle, stop_at: float, record_from: float, out: dict
) -> None:
    reader = writer = None
    while time.perf_counter() < stop_at:
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        started = time.perf_counter()
        try:
            writer.write(next(requests))
            status, keep = await _read_answer(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            out["errors"] += 1
            writer.close()
            writer = None
            continue
        ended = time.perf_counter()
        if started >= record_from:
            out["latencies"].append(ended - started)
            out["statuses"][status] = out["statuses"].get(status, 0) + 1
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def run(
    url: str, method: str, body: bytes, paths: list[str], connections: int, seconds: float, warmup: float
) -> dict:
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("load targets 127.0.0.1 only")
    host = f"{parts.hostname}:{parts.port}"
    encoded = [_request(method, host, path, body) for path in paths]
    out: dict = {"latencies": [], "statuses": {}, "errors": 0}
    record_from = time.perf_counter() + warmup
    stop_at = record_from + seconds
    await asyncio.gather(
        *(
            _connection(
                parts.hostname,
                parts.port,
                itertools.cycle(encoded[i::connections] or encoded),
                stop_at,
                record_from,
                out,
            )
            for i in range(connections)
        )
    )
    latencies = sorted(out["latencies"])
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": pick(0.99) if latencies else None,
        "statuses": out["statuses"],
        "errors": out["errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/jobs (the path is used unless --paths-file)")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="", help="JSON body, sent with every request")
    parser.add_argument("--paths-file", help="paths to cycle through, one per line")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds run first and not counted")
    args = parser.parse_args()
    parts = urllib.parse.urlsplit(args.url)
    if args.paths_file:
        with open(args.paths_file) as f:
            paths = [line.strip() for line in f if line.strip()]
    else:
        paths = [urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))]
    result = asyncio.run(
        run(args.url, args.method, args.body.encode(), paths, args.connections, args.seconds, args.warmup)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
