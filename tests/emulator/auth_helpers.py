"""Helpers of the authentication tests (test_auth_methods.py, test_aws_outbound.py): answers checked
as a user and role or as a rejection, admin calls, and workload identity federation with AWS:
credentials from the emulator's STS and botocore-signed GetCallerIdentity attestations.
"""

import base64
import json

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator_client import data_of

WHO = "SELECT CURRENT_USER(), CURRENT_ROLE()"


def ok_as(result, user, role):
    status, body = result
    assert status == 200, body
    assert data_of(body) == [[user, role]]


def rejected(result, code, reason=None):
    status, body = result
    assert (status, body["code"]) == (401, code), body
    if reason is not None:
        assert reason in body["message"], body["message"]
    return body["message"]


def admin_ok(c, method, path, body=None):
    status, answer = c.admin(method, path, body)
    assert status == 200, answer
    return answer


def typed(c, token_type, token):
    return c.headers(token, **{"X-Snowflake-Authorization-Token-Type": token_type})


# ---------------------------------------------------------------- workload identity federation (AWS)

AWS_ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{AWS_ACCOUNT}:role/PostEtl-WarehouseRole"
WIF = "WORKLOAD_IDENTITY_FEDERATION"
QUERY = "/?Action=GetCallerIdentity&Version=2011-06-15"


def mint(c, role=ROLE, **extra):
    return admin_ok(c, "POST", "/aws/credentials", {"roleArn": role, **extra})


def attestation(creds, region="eu-west-1", host=None, url=None, audience="snowflakecomputing.com",
                signed_audience=True, session_token=None, secret=None, at=None, monkeypatch=None):
    """What Snowflake's drivers build: a botocore-signed STS GetCallerIdentity request, as a dict."""
    host = host or f"sts.{region}.amazonaws.com"
    headers = {"Host": host}
    if audience is not None and signed_audience:
        headers["X-Snowflake-Audience"] = audience
    request = AWSRequest(method="POST", url=url or f"https://{host}{QUERY}", headers=headers)
    aws_creds = Credentials(creds["accessKeyId"], secret or creds["secretAccessKey"],
                            creds["sessionToken"] if session_token is None else session_token)
    if at is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: at)
    SigV4Auth(aws_creds, "sts", region).add_auth(request)
    if at is not None:
        monkeypatch.undo()
    doc = {"url": request.url, "method": request.method, "headers": dict(request.headers.items())}
    if audience is not None and not signed_audience:
        doc["headers"]["X-Snowflake-Audience"] = audience  # present, but not in SignedHeaders
    return doc


def wif_token(doc):
    return "WIF.AWS." + base64.b64encode(json.dumps(doc).encode()).decode()


def wif_submit(c, doc):
    return c.submit(WHO, headers=typed(c, WIF, wif_token(doc) if isinstance(doc, dict) else doc))


def accept_signed_requests(c):
    """Opts in to the signed GetCallerIdentity attestation, which Snowflake documents for its drivers'
    login only: the SQL API takes the GetWebIdentityToken JWT (see wif_aws.verify_wif)."""
    admin_ok(c, "POST", "/config", {"accept_wif_signed_request": True})
