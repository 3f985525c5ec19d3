"""A TCP relay on 127.0.0.1 in front of a Redis node, which holds back what it sends its replicas.

Everyone reaches the node through the relay (its public port); connections on which the client
asks for replication (``PSYNC``) get the node's answers ``delay_seconds`` late: a replica that runs
that far behind its master, as over a slower link. ``kill()`` is the node's host dying: every
connection is cut at once and what the relay still held back is gone, as the data in a dead
host's network buffers would be. The relay runs on an event loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import threading


class Relay:
    def __init__(self, port: int, upstream_port: int, delay_seconds: float) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self.delay_seconds = delay_seconds
        self._loop = asyncio.new_event_loop()
        self._transports: set[asyncio.BaseTransport] = set()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"relay-{port}", daemon=True)

    def start(self) -> Relay:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._transports.update((writer.transport, up_writer.transport))
        replica = asyncio.Event()

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
                    self._loop.call_later(self.delay_seconds, writer.write, data)
                else:
                    writer.write(data)
                    await writer.drain()
            self._loop.call_later(self.delay_seconds if replica.is_set() else 0, writer.close)

        try:
            await asyncio.gather(upstream(), downstream())
        except (ConnectionError, OSError, asyncio.CancelledError):  # cut, or killed (its task ends quietly)
            writer.transport.abort()
            up_writer.transport.abort()
        finally:
            self._transports.difference_update((writer.transport, up_writer.transport))

    def kill(self) -> None:
        """Cut every connection and drop what is held back (the loop stops before it is sent)."""

        async def cut() -> None:
            if self._server is not None:
                self._server.close()
            for transport in list(self._transports):
                transport.abort()
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
