"""Local AWS for the tests and the demo: one moto server (Glue, Secrets Manager, SNS, STS, Step
Functions with its ASL interpreter executing state machines) on a loopback port, and optionally a
local Lambda service running the real function binaries (lambda_service.py) that the state
machines' Lambda tasks invoke.

Usage: python tests/aws/local_aws.py [--port 0] [--exit-on-stdin-eof]
           [--lambda-bin-dir target/debug --lambda-env KEY=VALUE ... --lambda-log FILE]
           [--mock-config statemachine/mock-config.json]
Prints `LISTENING http://127.0.0.1:<port>` once ready (and `LAMBDA http://127.0.0.1:<port>` first
when the Lambda service runs). The functions get AWS_ENDPOINT_URL pointing at this server.
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
    parser.add_argument("--lambda-bin-dir")
    parser.add_argument("--lambda-env", action="append", default=[])
    parser.add_argument("--lambda-log")
    # Each function's timeout (Lambda's Timeout setting); short ones make long statements hand back.
    parser.add_argument("--lambda-timeout", type=float, default=120.0)
    parser.add_argument("--mock-config")
    args = parser.parse_args()
    if args.mock_config:
        import sfn_mocks

        sfn_mocks.install(args.mock_config)

    uncatchable_as_on_aws()
    keep_stopped_executions_aborted()
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # The ASL interpreter sends its SDK calls (SNS, ...) to localhost:$MOTO_PORT: this server.
    os.environ["MOTO_PORT"] = str(port)
    service = None
    if args.lambda_bin_dir:
        from lambda_service import LambdaService

        env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        env.update(kv.split("=", 1) for kv in args.lambda_env)
        service = LambdaService(args.lambda_bin_dir, env, args.lambda_log, timeout_s=args.lambda_timeout)
        service.start()
        route_lambda_tasks_to(f"http://127.0.0.1:{service.port}")
        print(f"LAMBDA http://127.0.0.1:{service.port}", flush=True)
    print(f"LISTENING http://{host}:{port}", flush=True)

    def exit_cleanly(*_: object) -> None:
        # The Lambda processes go first: left waiting on /runtime/invocation/next when this
        # server's sockets close, each would log a connection error (hyper IncompleteMessage).
        if service is not None:
            service.kill_workers()
        os._exit(0)

    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            sys.stdin.read()
            exit_cleanly()

        threading.Thread(target=watch_stdin, daemon=True).start()
    signal.signal(signal.SIGTERM, exit_cleanly)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        exit_cleanly()


def uncatchable_as_on_aws() -> None:
    """`States.ALL` does not match States.Runtime or States.DataLimitExceeded on AWS ("Error
    handling in Step Functions": a retry or catch on States.ALL won't catch them; the execution
    fails). moto's interpreter matches them, which would hide an uncatchable failure behind the
    definition's own failure path."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )

    original = ErrorEqualsDecl._eval_body
    uncatchable = {"States.Runtime", "States.DataLimitExceeded"}

    def _eval_body(self, env) -> None:
        error_name = env.stack[-1]
        if getattr(error_name, "error_name", None) in uncatchable and not any(
            n.error_name == error_name.error_name for n in self.error_names
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = _eval_body


def keep_stopped_executions_aborted() -> None:
    """StopExecution ends an execution ABORTED at once (AWS: StopExecution API reference; a Lambda
    already invoked runs on, its result discarded). moto reports RUNNING until the Task in flight
    returns, and lets a state that fails while being stopped (the Map iteration it interrupted)
    replace ABORTED with FAILED, because Environment.set_error overwrites any program state."""
    import datetime

    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution

    set_error = Environment.set_error

    def set_error_unless_stopped(self, error) -> None:
        if not isinstance(self._program_state, ProgramStopped):
            set_error(self, error)

    Environment.set_error = set_error_unless_stopped
    stop = Execution.stop

    def stop_now(self, stop_date, error, cause) -> None:
        stop(self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date or datetime.datetime.now(tz=datetime.timezone.utc)

    Execution.stop = stop_now


def route_lambda_tasks_to(url: str) -> None:
    """Lambda tasks of executing state machines invoke the local Lambda service."""
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    def boto_client_for(region, service, state_credentials=None):
        return boto3.client(service, region_name=region, endpoint_url=url, aws_access_key_id="ak",
                            aws_secret_access_key="sk",
                            config=Config(retries={"max_attempts": 0, "total_max_attempts": 1},
                                          read_timeout=900, connect_timeout=10))

    lambda_eval_utils.boto_client_for = boto_client_for


if __name__ == "__main__":
    main()
