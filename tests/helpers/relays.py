"""A TCP relay on 127.0.0.1 in front of a Redis node, which holds back what it sends its replicas.

Everyone reaches the node through the relay (its public port); connections on which the client
asks for replication (``PSYNC``) get the node's answers ``delay_seconds`` late: a replica that runs
that far behind its master, as over a slower link. ``kill()`` is the node's host dying: every
connection is cut at once and what the relay still held back is gone, as the data in a dead
host's network buffers would be. The relay is a process of its own (``python relays.py PORT
UPSTREAM_PORT DELAY_SECONDS``), so that what else the test process does never delays it further.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

from support import wait_until

from app.infra.embedded_redis import die_with_parent


class Relay:
    """The relay's process: ``start`` it, ``kill`` it (SIGKILL: what it held back is gone)."""

    def __init__(self, port: int, upstream_port: int, delay_seconds: float, log_path: Path) -> None:
        self.port, self.upstream_port, self.delay_seconds = port, upstream_port, delay_seconds
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Relay:
        arguments = [str(self.port), str(self.upstream_port), str(self.delay_seconds)]
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, __file__, *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        wait_until(self._listening, timeout=10, interval=0.02, message=f"the relay on port {self.port}")
        return self

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "the relay exited"
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


async def serve(port: int, upstream_port: int, delay_seconds: float) -> None:
    """Relay 127.0.0.1:``port`` to ``upstream_port``, holding replication back ``delay_seconds``."""
    loop = asyncio.get_running_loop()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            writer.transport.abort()
            return
        replica = asyncio.Event()

        def send(data: bytes) -> None:
            if not writer.is_closing():  # the replica may have gone meanwhile
                writer.write(data)

        async def upstream() -> None:
            while data := await reader.read(65536):
                if b"PSYNC" in data:
                    replica.set()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if replica.is_set():
                    loop.call_later(delay_seconds, send, data)
                else:
                    writer.write(data)
                    await writer.drain()
            loop.call_later(delay_seconds if replica.is_set() else 0, writer.close)

        try:
            await asyncio.gather(upstream(), downstream())
        except (ConnectionError, OSError):
            writer.transport.abort()
            up_writer.transport.abort()

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
