"""Plain request/response values passed between the HTTP layer and the API handlers."""

import json
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    query: dict          # first value of each query parameter
    raw_query: str
    headers: object      # email.message.Message: case-insensitive .get()
    body: bytes
    principal: object = None  # set once authenticated, for the request log

    def json(self):
        """Parsed JSON body, or raises ValueError."""
        return json.loads(self.body.decode("utf-8") if self.body else "")


@dataclass
class Response:
    status: int
    body: object = None              # dict/list -> JSON; str -> text
    content_type: str = None
    headers: dict = field(default_factory=dict)
    drop: bool = False               # close the connection without answering

    def payload(self):
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if self.body is None:
            return b"", self.content_type or "application/json"
        return str(self.body).encode(), self.content_type or "text/plain; charset=utf-8"


def error(status, code, message):
    return Response(status, {"code": code, "message": message})
