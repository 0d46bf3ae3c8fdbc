"""fakesnow's HTTP server (the stand-in for Snowflake that seed 000's Python connector talks to),
served over TLS with a certificate made at bench time, on a free loopback port.

Usage: fakesnow_tls.py --cert server.pem --key server.key
Prints `LISTENING https://127.0.0.1:<port>` once it accepts connections; exits when stdin closes.
"""
import argparse
import os
import socket
import sys
import threading
import time

import uvicorn

import fakesnow.server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(fakesnow.server.app, log_level="warning", ssl_certfile=args.cert,
                            ssl_keyfile=args.key)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    for _ in range(600):  # bounded: 60 s
        if server.started:
            break
        time.sleep(0.1)
    else:
        sys.exit("fakesnow did not start")
    print(f"LISTENING https://127.0.0.1:{port}", flush=True)
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
