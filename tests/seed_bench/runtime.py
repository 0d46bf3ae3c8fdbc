"""A minimal stand-in for Lambda's Python runtime (awslambdaric's bootstrap loop): import the
handler module during init, then GET the next event from the Runtime API in AWS_LAMBDA_RUNTIME_API,
call `handler.lambda_handler(event, context)`, POST the result. It does less than the real
runtime (no logging setup, no X-Ray), so the Python side is, if anything, measured fast.

Usage: runtime.py (the handler module is handler.py beside this file)
"""
import http.client
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import handler  # noqa: E402  (init: what Lambda runs before the first event)


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "seed")

    def get_remaining_time_in_millis(self):
        return max(0, self.deadline_ms - int(time.time() * 1000))


def main() -> None:
    api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    base = "/2018-06-01/runtime/invocation"
    while True:
        api.request("GET", f"{base}/next")
        answer = api.getresponse()
        event = json.loads(answer.read() or b"{}")
        context = Context(answer.headers)
        try:
            body = json.dumps(handler.lambda_handler(event, context)).encode()
            path = f"{base}/{context.aws_request_id}/response"
        except Exception as e:  # reported as Lambda's runtime reports an unhandled error
            body = json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}).encode()
            path = f"{base}/{context.aws_request_id}/error"
        api.request("POST", path, body, {"Content-Type": "application/json"})
        api.getresponse().read()


if __name__ == "__main__":
    main()
