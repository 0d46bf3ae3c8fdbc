"""Local AWS for the tests and the demo: one moto server (Glue, Secrets Manager, SNS, STS, Step
Functions with its ASL interpreter executing state machines) on a loopback port.

Usage: python tests/aws/local_aws.py [--port 0] [--exit-on-stdin-eof]
Prints `LISTENING http://127.0.0.1:<port>` once ready. Lambda invocations made by executing state
machines go to http://localhost:$MOTO_PORT (moto's convention): set MOTO_PORT to where the Lambda
invoke server listens.
"""
import argparse
import os
import signal
import sys
import threading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()

    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"LISTENING http://{host}:{port}", flush=True)

    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            sys.stdin.read()
            os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        os._exit(0)


if __name__ == "__main__":
    main()
