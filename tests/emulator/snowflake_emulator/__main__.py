"""Command line: bind, print `LISTENING http://host:port` on stdout, serve until signaled.

With --exit-on-stdin-eof the process exits when its stdin closes, so it never outlives the test
process that started it (even if that one is killed without cleanup).
"""

import argparse
import os
import signal
import sys
import threading

from .emulator import Emulator
from .server import make_server


def _exit_on_stdin_eof():
    try:
        while sys.stdin.buffer.read1(65536):
            pass
    except (OSError, ValueError):
        pass
    os._exit(0)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="snowflake_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port chosen by the OS")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args(argv)

    emulator = Emulator()
    server = make_server(emulator, args.host, args.port)
    port = server.server_address[1]

    def stop(signum, frame):
        # os._exit: worker threads may be inside DuckDB; interpreter shutdown must not wait for them.
        server.server_close()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True, name="stdin-eof").start()

    print(f"LISTENING http://{args.host}:{port}", flush=True)
    print(f"snowflake emulator listening on {args.host}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
