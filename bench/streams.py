"""Hold many Server-Sent Event streams open at once: ``GET /jobs/{id}/events`` for each id given.

Usage: python bench/streams.py URL --ids-file F [--streams 200] [--seconds 60]

Opens the streams (each on its own connection), prints one JSON line when all are answered
(``{"ready": ..., "statuses": {...}, "open_ms": ...}``), keeps reading what they send, and after
``--seconds`` (or on SIGTERM) closes them and prints a last JSON line (events and keep-alives read,
streams the server ended). Run as its own process, apart from the servers; targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
import urllib.parse


async def _stream(host: str, port: int, path: str, out: dict, opened: asyncio.Queue, stop: asyncio.Event) -> None:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, asyncio.IncompleteReadError) as error:
        out["errors"] += 1
        await opened.put(("error", type(error).__name__, 0.0))
        return
    status = int(head.split(b" ", 2)[1])
    await opened.put(("status", status, time.perf_counter() - started))
    if status != 200:
        writer.close()
        return
    try:
        while not stop.is_set():
            read = asyncio.ensure_future(reader.read(65536))
            halt = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({read, halt}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                break
            halt.cancel()
            chunk = read.result()
            if not chunk:
                out["ended_by_server"] += 1
                break
            out["events"] += chunk.count(b"\nevent: ")
            out["keepalives"] += chunk.count(b": keep-alive")
    finally:
        writer.close()


async def run(url: str, paths: list[str], seconds: float) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("streams target 127.0.0.1 only")
    out = {"events": 0, "keepalives": 0, "ended_by_server": 0, "errors": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    opened: asyncio.Queue = asyncio.Queue()
    started = time.perf_counter()
    tasks = [asyncio.ensure_future(_stream(parts.hostname, parts.port, p, out, opened, stop)) for p in paths]
    statuses: dict[str, int] = {}
    open_ms = []
    for _ in paths:
        kind, value, took = await opened.get()
        key = str(value) if kind == "status" else value
        statuses[key] = statuses.get(key, 0) + 1
        open_ms.append(took * 1000)
    open_ms.sort()
    ready = {
        "ready": statuses.get("200", 0),
        "statuses": statuses,
        "all_open_ms": (time.perf_counter() - started) * 1000,
        "open_p50_ms": open_ms[len(open_ms) // 2] if open_ms else None,
        "open_max_ms": open_ms[-1] if open_ms else None,
    }
    print(json.dumps(ready), flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the web process, e.g. http://127.0.0.1:8000")
    parser.add_argument("--ids-file", required=True, help="job ids, one per line")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="longest the streams are held")
    args = parser.parse_args()
    with open(args.ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    paths = [f"/jobs/{ids[i % len(ids)]}/events" for i in range(args.streams)]
    asyncio.run(run(args.url.rstrip("/"), paths, args.seconds))


if __name__ == "__main__":
    main()
