"""A loopback address and port that swallows connections, the way a firewall that drops SYNs does.

    with BlackHole("127.0.9.1", port):
        ...   # a connect() to 127.0.9.1:port hangs until the client's own deadline

A listening socket with a backlog of 0 that never accepts: once its accept queue
is full, Linux drops further SYNs, so a client neither connects nor is refused.
The queue is filled on entry, and entry checks that one more connection stays
pending before it returns.
"""

from __future__ import annotations

import select
import socket
from types import TracebackType

MAX_FILL = 8  # connections made to fill the queue before giving up


class BlackHole:
    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> BlackHole:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.address, self.port))
        listener.listen(0)
        self._sockets.append(listener)
        for _ in range(MAX_FILL):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setblocking(False)
            client.connect_ex((self.address, self.port))
            self._sockets.append(client)
            _, writable, _ = select.select([], [client], [], 0.05)
            if not writable:  # still pending: the queue is full, SYNs are being dropped
                return self
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.address}:{self.port} keeps accepting; cannot black-hole it")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
