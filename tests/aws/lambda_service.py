"""A local Lambda service for the real function binaries: the Lambda Invoke API on one side
(`POST /2015-03-31/functions/<name or ARN>/invocations`), the Lambda Runtime API on the other
(each function process gets its own endpoint in AWS_LAMBDA_RUNTIME_API, as on Lambda), so each
binary's real `main` and `lambda_runtime` loop run unchanged.

A function process serves one invocation at a time and is kept warm; a new one starts when all are
busy. Function errors answer 200 with `X-Amz-Function-Error: Unhandled` and the runtime's
`{"errorType", "errorMessage"}` body, as Lambda does, so Step Functions matches `errorType`.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_PROCESSES_PER_FUNCTION = 10


class Invocation:
    def __init__(self, payload: bytes, deadline_ms: int, arn: str):
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.deadline_ms = deadline_ms
        self.arn = arn
        self.done = threading.Event()
        self.result: bytes = b""
        self.error: dict[str, Any] | None = None


class _RuntimeHandler(BaseHTTPRequestHandler):
    """The Runtime API for one function process."""

    protocol_version = "HTTP/1.1"
    worker: "Worker"

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.endswith("/runtime/invocation/next"):
            inv = self.worker.next_invocation()
            self._answer(200, inv.payload, {
                "Lambda-Runtime-Aws-Request-Id": inv.id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": inv.arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                "Content-Type": "application/json",
            })
        else:
            self._answer(404)

    def do_POST(self) -> None:
        body = self._body()
        parts = self.path.split("/")
        if self.path.endswith("/init/error"):
            self.worker.init_failed(_error_body(body, "Runtime.InitError"))
            self._answer(202, b"{}")
        elif self.path.endswith("/response"):
            self.worker.finish(parts[-2], body, None)
            self._answer(202, b"{}")
        elif self.path.endswith("/error"):
            self.worker.finish(parts[-2], b"", _error_body(body, "Runtime.Unknown"))
            self._answer(202, b"{}")
        else:
            self._answer(404)


def _error_body(body: bytes, default_type: str) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = {}
    return {"errorType": doc.get("errorType") or default_type, "errorMessage": doc.get("errorMessage") or ""}


class Worker:
    """One function process and its Runtime API endpoint."""

    def __init__(self, function: "Function"):
        self.function = function
        self.inbox: "queue.Queue[Invocation]" = queue.Queue()
        self.current: Invocation | None = None
        self.busy = False
        self.ready_at: float | None = None
        handler = type("Handler", (_RuntimeHandler,), {"worker": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = dict(function.service.env)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": uuid.uuid4().hex,
        })
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [function.binary], env=env, stdin=subprocess.DEVNULL,
            stdout=function.service.log, stderr=function.service.log,
        )
        threading.Thread(target=self._watch_exit, daemon=True).start()

    def next_invocation(self) -> Invocation:
        if self.ready_at is None:
            self.ready_at = time.monotonic()
            self.function.record_cold_start(self.ready_at - self.started_at)
        inv = self.inbox.get()
        self.current = inv
        return inv

    def finish(self, request_id: str, result: bytes, error: dict[str, Any] | None) -> None:
        inv = self.current
        if inv is None or inv.id != request_id:
            return
        inv.result, inv.error = result, error
        self.current = None
        inv.done.set()

    def init_failed(self, error: dict[str, Any]) -> None:
        if self.current is not None:
            self.finish(self.current.id, b"", error)
        self.function.init_error = error

    def _watch_exit(self) -> None:
        code = self.process.wait()
        self.server.shutdown()
        self.function.retire(self)
        pending = self.current
        while pending is None:
            try:
                pending = self.inbox.get_nowait()
            except queue.Empty:
                break
        if pending is not None and not pending.done.is_set():
            error = self.function.init_error or {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {pending.id} Error: Runtime exited with error: exit status {code}",
            }
            pending.error = error
            pending.done.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


class Function:
    def __init__(self, service: "LambdaService", name: str, binary: str):
        self.service, self.name, self.binary = service, name, binary
        self.lock = threading.Lock()
        self.workers: list[Worker] = []
        self.invocations = 0
        self.cold_starts: list[float] = []
        self.init_error: dict[str, Any] | None = None

    def record_cold_start(self, seconds: float) -> None:
        with self.lock:
            self.cold_starts.append(seconds)

    def retire(self, worker: Worker) -> None:
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)

    def invoke(self, payload: bytes, timeout_s: float) -> Invocation:
        deadline = time.time() + timeout_s
        inv = Invocation(payload, int(deadline * 1000), f"arn:aws:lambda:{self.service.region}:123456789012:function:{self.name}")
        with self.lock:
            self.invocations += 1
            worker = next((w for w in self.workers if not w.busy), None)
            if worker is None:
                if len(self.workers) >= MAX_PROCESSES_PER_FUNCTION:
                    inv.error = {"errorType": "Lambda.TooManyRequestsException", "errorMessage": "Rate Exceeded."}
                    inv.done.set()
                    return inv
                worker = Worker(self)
                self.workers.append(worker)
            worker.busy = True
        worker.inbox.put(inv)
        if not inv.done.wait(timeout_s + 1):
            worker.stop()
            inv.error = {"errorType": "Sandbox.Timedout",
                         "errorMessage": f"Task timed out after {timeout_s:.2f} seconds"}
        worker.busy = False
        return inv


def _peak_rss_kb(pid: int) -> int:
    """The process's high-water resident set (VmHWM), as Lambda's "Max Memory Used" reports it."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class LambdaService:
    def __init__(self, bin_dir: str, env: dict[str, str], log_path: str | None, timeout_s: float = 120.0,
                 region: str = "us-east-1"):
        self.bin_dir, self.env, self.timeout_s, self.region = bin_dir, env, timeout_s, region
        self.log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.functions: dict[str, Function] = {}
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/_local/functions":
                    self._answer(200, json.dumps(service.stats()).encode())
                else:
                    self._answer(404, b"{}")

            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlparse(self.path).path
                prefix, suffix = "/2015-03-31/functions/", "/invocations"
                if not (path.startswith(prefix) and path.endswith(suffix)):
                    self._answer(404, b'{"message": "unknown path"}')
                    return
                name = urllib.parse.unquote(path[len(prefix):-len(suffix)])
                # An ARN (arn:aws:lambda:region:account:function:NAME[:qualifier]) names the same function.
                if name.startswith("arn:"):
                    name = name.split(":")[6]
                function = service.function(name)
                if function is None:
                    self._answer(404, json.dumps({"Type": "User", "message": f"Function not found: {name}"}).encode(),
                                 {"x-amzn-ErrorType": "ResourceNotFoundException"})
                    return
                inv = function.invoke(payload or b"{}", service.timeout_s)
                if inv.error is not None:
                    self._answer(200, json.dumps(inv.error).encode(),
                                 {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST",
                                  "x-amzn-RequestId": inv.id})
                else:
                    self._answer(200, inv.result, {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": inv.id})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def function(self, name: str) -> Function | None:
        with self.lock:
            if name not in self.functions:
                binary = os.path.join(self.bin_dir, name)
                if "/" in name or not os.access(binary, os.X_OK):
                    return None
                self.functions[name] = Function(self, name, binary)
            return self.functions[name]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {name: {"invocations": f.invocations, "processes": len(f.workers),
                           "cold_starts_ms": [round(s * 1000, 2) for s in f.cold_starts],
                           "peak_rss_kb": max((_peak_rss_kb(w.process.pid) for w in f.workers), default=0)}
                    for name, f in self.functions.items()}

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kill_workers(self) -> None:
        """Ends every function process and waits for it (bounded), before the server goes."""
        workers = [w for f in list(self.functions.values()) for w in list(f.workers)]
        for w in workers:
            w.stop()
        for w in workers:
            try:
                w.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        for f in list(self.functions.values()):
            for w in list(f.workers):
                w.stop()
        self.server.shutdown()
