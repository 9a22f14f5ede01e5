"""One TCP connection of a host probe: bounded reads into the reply parser, one reply at a time.

Every read and write goes through :func:`bot.probe.errors.translate`, the one seam where
low-level errors become :class:`~bot.probe.errors.ProbeError` values.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from bot.probe.errors import ConnectionLost, translate
from bot.probe.smtp import READ_SIZE, Reply, ReplyParser, Step


async def open_stream(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        address, port, limit=READ_SIZE * 4, flags=socket.AI_NUMERICHOST
    )


class Session:
    """One TCP connection: bounded reads into the reply parser, one reply at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str):
        self.reader, self.writer, self.where = reader, writer, where
        self.parser = ReplyParser()
        self.queue: list[Reply] = []

    async def reply(self, stage: Step) -> Reply:
        while not self.queue:
            with translate(stage, self.where):
                data = await self.reader.read(READ_SIZE)
                if not data:
                    raise ConnectionLost(f"{self.where} closed the connection {stage.value}")
                self.queue += self.parser.feed(data)
        return self.queue.pop(0)

    async def send(self, line: bytes, stage: Step) -> None:
        with translate(stage, self.where):
            self.writer.write(line)
            await self.writer.drain()

    async def close(self) -> None:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            self.writer.transport.abort()  # the deadline passed: no polite goodbye
            return
        self.writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            self.writer.transport.abort()
        except BaseException:  # the deadline arrived while closing: drop it, then go on
            self.writer.transport.abort()
            raise
