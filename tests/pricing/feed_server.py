"""A real HTTP server on loopback that plays a price feed (good, down, slow, HTML...), for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    """What the server answers: one (status, content type, body, delay) per request, the last repeating."""

    answers: list[tuple[int, str, bytes, float]] = field(default_factory=list)
    hits: int = 0
    #: (name, value) a request must carry, else HTTP 401 (as a feed with an API key answers)
    require_header: tuple[str, str] | None = None
    #: the headers of every request received (lower-case names)
    seen_headers: list[dict[str, str]] = field(default_factory=list)

    def next(self) -> tuple[int, str, bytes, float]:
        answer = self.answers[min(self.hits, len(self.answers) - 1)]
        self.hits += 1
        return answer


@contextmanager
def feed_server(script: Script) -> Iterator[str]:
    """Serve ``script`` on 127.0.0.1 (a free port); yields the feed URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.seen_headers.append({k.lower(): v for k, v in self.headers.items()})
            need = script.require_header
            if need is not None and self.headers.get(need[0]) != need[1]:
                status, ctype, body, delay = 401, "application/json", b'{"error": "invalid API key"}', 0.0
            else:
                status, ctype, body, delay = script.next()
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prices.csv"
    finally:
        server.shutdown()
        server.server_close()


def csv_answer(body: str, delay: float = 0.0) -> tuple[int, str, bytes, float]:
    return 200, "text/csv; charset=utf-8", body.encode(), delay
