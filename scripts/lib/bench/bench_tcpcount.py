"""A byte-counting TCP relay on loopback, in front of a real S3 server, for scripts/bench.

Not a fake: it changes nothing, it counts. Every byte a client sends is relayed to the server
and every byte of the answer back, with splice(2) through a pipe (in the kernel, no copy into
Python), so it costs almost no CPU; it counts the bytes each way, HTTP headers included: the
bytes a tool uploaded and downloaded. SigV4 signs the Host header, and the server checks it
against the Host the client sent (this relay's address), so signatures hold.
"""
import os
import socket
import threading

CHUNK = 1 << 20


class TcpCounter:
    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.counts = {"sent_bytes": 0, "received_bytes": 0, "connections": 0}
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def totals(self):
        with self.lock:
            return dict(self.counts)

    def _add(self, key, n):
        with self.lock:
            self.counts[key] += n

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._add("connections", 1)
            done = []
            lock = threading.Lock()

            def finish(a=client, b=server, done=done, lock=lock):
                with lock:
                    done.append(1)
                    if len(done) == 2:
                        a.close()
                        b.close()
            threading.Thread(target=self._pump, args=(client, server, "sent_bytes", finish), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "received_bytes", finish), daemon=True).start()

    def _pump(self, source, destination, key, finish):
        read_end, write_end = os.pipe()
        try:
            while True:
                n = os.splice(source.fileno(), write_end, CHUNK)
                if n == 0:
                    break
                self._add(key, n)
                left = n
                while left:
                    left -= os.splice(read_end, destination.fileno(), left)
        except OSError:
            pass
        finally:
            os.close(read_end)
            os.close(write_end)
            try:
                destination.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            finish()

    def close(self):
        self.closed = True
        self.listener.close()
