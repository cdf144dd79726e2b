"""A loopback TCP proxy that can be paused: a partition or a frozen server, without touching it."""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType

CHUNK = 65536


class PausableProxy:
    """Forwards 127.0.0.1:port to an upstream address; while paused, forwards nothing.

    Paused, both sockets stay open and the kernel still acknowledges what is sent, as it does
    for a stopped (SIGSTOP) PostgreSQL: keepalives succeed and no server-side timer fires.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        # close() does not wake a blocked accept(): poll, so the thread sees the proxy closed.
        self._listener.settimeout(0.1)
        self._running = threading.Event()
        self._running.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def pause(self) -> None:
        """Stop forwarding, in both directions, on every connection (new ones too)."""
        self._running.clear()

    def resume(self) -> None:
        """Forward again."""
        self._running.set()

    def close(self) -> None:
        """Close the listener and every connection."""
        self._closed.set()
        self._running.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> PausableProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            thread = threading.Thread(target=self._pump, args=(client, server), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while not self._closed.is_set():
                if not self._running.wait(0.05):
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in readable:
                    if not self._running.is_set():
                        break
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            # A socket the proxy's own close() shut from another thread: select() sees its
            # descriptor as -1 (ValueError) or the read fails (OSError); the pump is done.
            return
        finally:
            client.close()
            server.close()
