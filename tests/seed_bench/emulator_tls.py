"""The Snowflake SQL API emulator (tests/emulator) served over HTTPS with a certificate made at
bench time, as Snowflake serves its API: the Lambda verifies it against the bench's CA.

Usage: emulator_tls.py --cert server.pem --key server.key
Prints `LISTENING https://127.0.0.1:<port>` once ready; exits when stdin closes.
"""
import argparse
import os
import pathlib
import ssl
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "emulator"))

from snowflake_emulator.emulator import Emulator  # noqa: E402
from snowflake_emulator.server import make_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    server = make_server(Emulator(), "127.0.0.1", 0, tls=tls)
    print(f"LISTENING https://127.0.0.1:{server.server_address[1]}", flush=True)

    def exit_on_stdin_eof() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
