"""HTTP layer: a threading HTTP/1.1 server (keep-alive, exact Content-Length) routing to the
Snowflake API and the admin API. One stderr line per request: method path status."""

import socket
import ssl
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import admin, api
from .httpmsg import Request, Response


def _log(line):
    print(line, file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SnowflakeEmulator/1.0"

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass  # one line per request is written by _respond instead

    def setup(self):
        super().setup()
        # Headers and body are written separately; without this, Nagle + delayed ACK adds ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        if isinstance(self.connection, ssl.SSLSocket):
            # In this connection's thread, so a slow or failed handshake never holds up accept().
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError) as e:
                _log(f"TLS handshake failed: {e}")
                return
        super().handle()

    def do_GET(self):
        self._handle()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        req = Request(self.command, url.path, query, url.query, self.headers, body)
        emulator = self.server.emulator
        try:
            if url.path.startswith("/_emulator/"):
                resp = admin.handle(emulator, req)
            elif url.path.startswith("/api/v2/statements"):
                resp = api.handle(emulator.state, req)
            else:
                resp = Response(404, {"code": "390404", "message": f"Not found: {url.path}"})
        except Exception as e:  # an emulator bug: answer 500 and show it
            traceback.print_exc(file=sys.stderr)
            resp = Response(500, {"code": "390500", "message": f"emulator internal error: {e}"})
        self._respond(resp)

    def _respond(self, resp):
        if resp.drop:
            _log(f"{self.command} {urlsplit(self.path).path} DROPPED")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload, content_type = resp.payload()
        self.send_response_only(resp.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Date", self.date_time_string())
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        _log(f"{self.command} {urlsplit(self.path).path} {resp.status}")

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the connection was dropped on purpose or by the client


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, emulator, tls=None):
        super().__init__(address, Handler)
        self.emulator = emulator
        self.tls = tls

    def get_request(self):
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address


def make_server(emulator, host="127.0.0.1", port=0, tls=None):
    """`tls`: an optional server-side `ssl.SSLContext` (HTTPS with a certificate made by the test)."""
    return EmulatorServer((host, port), emulator, tls)
