#!/usr/bin/env python3
"""A webhook receiver for trying scenarios out: prints every request it gets and answers 200.

    python3 examples/receiver.py            # listens on 127.0.0.1:9000
    python3 examples/receiver.py 9100       # another port

Standard library only. Point an ``action.webhook`` at ``http://127.0.0.1:9000/...`` and start the
server with ``AUTOMATION_OUTBOUND_ALLOWLIST=127.0.0.1`` (outgoing calls never reach loopback
otherwise). Not for production: it accepts anything from anyone on the machine.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            shown = json.dumps(json.loads(body), ensure_ascii=False, indent=2) if body else ""
        except ValueError:
            shown = body.decode("utf-8", errors="replace")
        print(f"{self.command} {self.path}  webhook-id: {self.headers.get('webhook-id', '-')}", flush=True)
        if shown:
            print(shown, flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "11")
        self.end_headers()
        self.wfile.write(b'{"ok":true}')

    do_POST = do_PUT = do_GET = _answer

    def log_message(self, format, *args):  # the request line is printed above
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
