"""Tests of AWS outbound identity federation over real HTTP: the emulator's STS GetWebIdentityToken
(called with botocore's own STS client, and by hand with botocore's SigV4 signer), the JWT it issues
used as `WIF.AWS.<jwt>`, and the rule that a workload identity with an ISSUER accepts only the JWT
form and one without only the signed-request form. Fixtures (its own emulator process): conftest.py.

Run: cd tests/emulator && ../../.venv/bin/python -m pytest -q
"""

import datetime
import hashlib
import json
import re
import time
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.session
import jwt
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec

from auth_helpers import (AWS_ACCOUNT, ROLE, WHO, WIF, accept_signed_requests, admin_ok, attestation, mint, ok_as,
                          rejected, typed, wif_submit)
from emulator_client import ACCOUNT, USER

AUDIENCE = "snowflakecomputing.com"
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
OTHER_ACCOUNT = "210987654321"
OTHER_ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/PostEtl-WarehouseRole"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
GOOD_BODY = f"Action=GetWebIdentityToken&Version=2011-06-15&Audience.member.1={AUDIENCE}&SigningAlgorithm=ES384"


def enable(c, account=AWS_ACCOUNT):
    return admin_ok(c, "POST", "/aws/outbound_federation", {"account": account})["issuer"]


def sts(c, creds, region="eu-west-1", path="/_emulator/sts", validate=False, secret=None, session_token=None):
    """botocore's STS client for the emulator's endpoint (no retries; server-side validation only,
    unless validate)."""
    return botocore.session.get_session().create_client(
        "sts", region_name=region, endpoint_url=f"http://127.0.0.1:{c.port}{path}",
        aws_access_key_id=creds["accessKeyId"], aws_secret_access_key=secret or creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"] if session_token is None else session_token,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate))


def web_identity_token(c, creds, audience=(AUDIENCE,), algorithm="ES384", **extra):
    answer = sts(c, creds).get_web_identity_token(Audience=list(audience), SigningAlgorithm=algorithm, **extra)
    return answer["WebIdentityToken"], answer["Expiration"]


def sts_error(call, status, code, message=None):
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    assert (info.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"]) == (status, code), error
    assert error["Type"] == "Sender"
    if message is not None:
        assert message in error["Message"], error["Message"]
    return error["Message"]


def signed_request(c, creds, body=GOOD_BODY, path="/_emulator/sts", region="eu-west-1", service="sts",
                   headers=None):
    """An awsQuery request signed by hand with botocore's SigV4Auth: (path, body bytes, headers)."""
    data = body.encode()
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{c.port}{path}", data=data,
                         headers={"Host": f"127.0.0.1:{c.port}", "Content-Type": FORM, **(headers or {})})
    SigV4Auth(Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"]),
              service, region).add_auth(request)
    return path, data, dict(request.headers.items())


def send(c, path, data, headers):
    status, text, resp = c.raw("POST", path, data, headers)
    return status, ET.fromstring(text), resp


def error_of(root):
    assert root.tag == NS + "ErrorResponse"
    error = root.find(NS + "Error")
    return error.findtext(NS + "Code"), error.findtext(NS + "Message")


def jwt_submit(c, token):
    return c.submit(WHO, headers=typed(c, WIF, "WIF.AWS." + token))


def trust(c, user="WL", arn=ROLE, issuer=None, default_role="LOADER"):
    identity = {"type": "AWS", "arn": arn, **({"issuer": issuer} if issuer else {})}
    return admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": user, "default_role": default_role,
                                          "workload_identity": identity})


@pytest.fixture
def outbound(c):
    """AWS_ACCOUNT enabled; user WL trusts (ROLE, its issuer); credentials minted for ROLE."""
    issuer = enable(c)
    trust(c, issuer=issuer)
    return issuer, mint(c, sessionName="lambda-1", durationSeconds=7200)


# ---------------------------------------------------------------- the account's issuer

def test_enable_outbound_federation_gives_one_issuer_per_account(c):
    issuer = enable(c)
    assert re.fullmatch(r"https://[0-9a-f-]{36}\.tokens\.sts\.global\.api\.aws", issuer)
    assert enable(c) == issuer
    other = enable(c, OTHER_ACCOUNT)
    assert other != issuer
    accounts = admin_ok(c, "GET", "/aws/outbound_federation")["accounts"]
    assert [(a["account"], a["issuer"]) for a in accounts] == [(AWS_ACCOUNT, issuer), (OTHER_ACCOUNT, other)]
    keys = {k["alg"]: k for k in accounts[0]["jwks"]["keys"]}
    assert (keys["ES384"]["kty"], keys["ES384"]["crv"], keys["RS256"]["kty"]) == ("EC", "P-384", "RSA")
    assert "d" not in keys["ES384"] and "d" not in keys["RS256"]   # public keys only
    for bad in ({"account": "12345"}, {"account": 123456789012}, {}):
        assert c.admin("POST", "/aws/outbound_federation", bad)[0] == 400, bad
    admin_ok(c, "POST", "/reset")
    assert admin_ok(c, "GET", "/aws/outbound_federation")["accounts"] == []


# ---------------------------------------------------------------- GetWebIdentityToken -> Snowflake

def test_botocore_gets_a_token_that_authenticates_the_trusting_user(c, outbound):
    issuer, creds = outbound
    token, expiration = web_identity_token(c, creds)
    assert abs(expiration.timestamp() - (time.time() + 300)) < 5            # DurationSeconds default 300
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "ES384" and header["kid"]
    assert claims["iss"] == issuer and claims["sub"] == ROLE and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]
    assert claims["https://sts.amazonaws.com/"] == {"aws_account": AWS_ACCOUNT, "source_region": "eu-west-1"}
    # It verifies with the issuer's published key, as any relying party would.
    jwk = next(k for k in admin_ok(c, "GET", "/aws/outbound_federation")["accounts"][0]["jwks"]["keys"]
               if k["kid"] == header["kid"])
    jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES384"], audience=AUDIENCE, issuer=issuer)
    ok_as(jwt_submit(c, token), "WL", "LOADER")
    ok_as(jwt_submit(c, token), "WL", "LOADER")   # reusable until it expires

    # RS256, the longest duration, request tags and several audiences (then `aud` is a list).
    token, expiration = web_identity_token(c, creds, audience=("other.example.com", AUDIENCE), algorithm="RS256",
                                           DurationSeconds=3600, Tags=[{"Key": "job", "Value": "load-1"}])
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256" and claims["aud"] == ["other.example.com", AUDIENCE]
    assert claims["exp"] - claims["iat"] == 3600 and abs(expiration.timestamp() - claims["exp"]) < 1
    assert claims["https://sts.amazonaws.com/"]["request_tags"] == {"job": "load-1"}
    ok_as(jwt_submit(c, token), "WL", "LOADER")


def test_role_path_and_trailing_slash_endpoint(c):
    issuer = enable(c)
    pathed = f"arn:aws:iam::{AWS_ACCOUNT}:role/service-role/etl/Pathed"
    creds = mint(c, pathed)
    # The AWS SDK for Rust appends the operation's "/" to an endpoint URL's path: both are the endpoint.
    token = sts(c, creds, path="/_emulator/sts/").get_web_identity_token(
        Audience=[AUDIENCE], SigningAlgorithm="ES384")["WebIdentityToken"]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == pathed   # STS keeps the path
    # The user's identity may name the role with or without its path, as for the signed request.
    trust(c, "P1", f"arn:aws:iam::{AWS_ACCOUNT}:role/Pathed", issuer)
    ok_as(jwt_submit(c, token), "P1", "LOADER")
    path, data, headers = signed_request(c, creds, path="/_emulator/sts/")
    status, root, _ = send(c, path, data, headers)
    assert status == 200 and root.tag == NS + "GetWebIdentityTokenResponse"


def test_awsquery_response_shapes(c, outbound):
    _, creds = outbound
    status, root, resp = send(c, *signed_request(c, creds))
    assert status == 200 and resp.getheader("Content-Type") == "text/xml"
    assert root.tag == NS + "GetWebIdentityTokenResponse"
    assert [e.tag for e in root] == [NS + "GetWebIdentityTokenResult", NS + "ResponseMetadata"]
    result = root.find(NS + "GetWebIdentityTokenResult")
    assert [e.tag for e in result] == [NS + "WebIdentityToken", NS + "Expiration"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result.findtext(NS + "Expiration"))
    request_id = root.find(NS + "ResponseMetadata").findtext(NS + "RequestId")
    assert re.fullmatch(r"[0-9a-f-]{36}", request_id) and resp.getheader("x-amzn-RequestId") == request_id
    ok_as(jwt_submit(c, result.findtext(NS + "WebIdentityToken")), "WL", "LOADER")

    status, root, resp = send(c, *signed_request(c, creds, body=GOOD_BODY.replace("ES384", "PS512")))
    assert status == 400 and resp.getheader("Content-Type") == "text/xml"
    assert [e.tag for e in root] == [NS + "Error", NS + "RequestId"]
    assert [e.tag for e in root.find(NS + "Error")] == [NS + "Type", NS + "Code", NS + "Message"]
    assert root.find(NS + "Error").findtext(NS + "Type") == "Sender"
    assert error_of(root)[0] == "ValidationError"
    # awsQuery parameters may also come in the query string (GET-style); the body's order is free.
    body = f"SigningAlgorithm=RS256&Audience.member.1={AUDIENCE}&Version=2011-06-15&Action=GetWebIdentityToken"
    assert send(c, *signed_request(c, creds, body=body))[0] == 200


# ---------------------------------------------------------------- STS failures

def test_sts_refuses_an_account_without_outbound_federation(c):
    creds = mint(c)
    message = sts_error(lambda: web_identity_token(c, creds), 403, "OutboundWebIdentityFederationDisabledException")
    assert "not enabled" in message
    enable(c, OTHER_ACCOUNT)   # another account's setting does not help
    sts_error(lambda: web_identity_token(c, creds), 403, "OutboundWebIdentityFederationDisabledException")
    enable(c)
    web_identity_token(c, creds)
    # The client's own typed exception is raised, so the shape is what SDKs expect.
    client = sts(c, mint(c, OTHER_ROLE.replace(OTHER_ACCOUNT, "111111111111")))
    with pytest.raises(client.exceptions.OutboundWebIdentityFederationDisabledException):
        client.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="ES384")


def test_sts_credentials_must_be_known_current_and_signed(c, outbound):
    _, creds = outbound
    unknown = {"accessKeyId": "ASIA" + "Z" * 16, "secretAccessKey": "s" * 40, "sessionToken": "t" * 200}
    assert sts_error(lambda: web_identity_token(c, unknown), 403, "InvalidClientTokenId") == \
        "The security token included in the request is invalid."
    sts_error(lambda: sts(c, creds, session_token=mint(c)["sessionToken"]).get_web_identity_token(
        Audience=[AUDIENCE], SigningAlgorithm="ES384"), 403, "InvalidClientTokenId")
    sts_error(lambda: sts(c, creds, secret="x" * 40).get_web_identity_token(
        Audience=[AUDIENCE], SigningAlgorithm="ES384"), 403, "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.")
    sts_error(lambda: web_identity_token(c, mint(c, durationSeconds=0)), 403, "ExpiredToken",
              "The security token included in the request is expired")
    # Credentials of the aws partition are unknown to STS in China.
    sts_error(lambda: sts(c, creds, region="cn-north-1").get_web_identity_token(
        Audience=[AUDIENCE], SigningAlgorithm="ES384"), 403, "InvalidClientTokenId")
    # The token may not outlive the role session it was asked with.
    short = mint(c, durationSeconds=600)
    sts_error(lambda: web_identity_token(c, short, DurationSeconds=900), 403, "SessionDurationEscalationException")
    web_identity_token(c, short, DurationSeconds=500)


def test_sts_signature_checks(c, outbound):
    _, creds = outbound
    path, data, headers = signed_request(c, creds)
    assert send(c, path, data, headers)[0] == 200
    # The body is signed: another duration after signing is another request.
    status, root, _ = send(c, path, data + b"&DurationSeconds=900", headers)
    assert (status, error_of(root)[0]) == (403, "SignatureDoesNotMatch")
    tampered = dict(headers, Authorization=headers["Authorization"][:-1] + ("0" if headers["Authorization"][-1] != "0"
                                                                            else "1"))
    status, root, _ = send(c, path, data, tampered)
    assert (status, error_of(root)[0]) == (403, "SignatureDoesNotMatch")
    status, root, _ = send(c, path, data, {k: v for k, v in headers.items() if k != "Authorization"})
    assert (status, *error_of(root)) == (403, "MissingAuthenticationToken", "Request is missing Authentication Token")
    status, root, _ = send(c, path, data, dict(headers, Authorization="AWS4-HMAC-SHA256 Credential=x"))
    assert (status, error_of(root)[0]) == (400, "IncompleteSignature")
    # Signed for another service, or with an x-amz-content-sha256 that is not the body's.
    status, root, _ = send(c, *signed_request(c, creds, service="iam"))
    assert (status, *error_of(root)) == (403, "SignatureDoesNotMatch", "Credential should be scoped to correct "
                                                                        "service: 'sts'.")
    status, root, _ = send(c, *signed_request(c, creds, headers={"X-Amz-Content-SHA256": "0" * 64}))
    assert (status, error_of(root)[0]) == (403, "SignatureDoesNotMatch")
    good_hash = hashlib.sha256(GOOD_BODY.encode()).hexdigest()
    assert send(c, *signed_request(c, creds, headers={"X-Amz-Content-SHA256": good_hash}))[0] == 200


def test_sts_date_window(c, outbound, monkeypatch):
    _, creds = outbound
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def at(offset):
        signed_at = now + datetime.timedelta(seconds=offset)
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: signed_at)
        try:
            return web_identity_token(c, creds)
        finally:
            monkeypatch.undo()

    sts_error(lambda: at(-16 * 60), 403, "SignatureDoesNotMatch", "Signature expired")
    sts_error(lambda: at(16 * 60), 403, "SignatureDoesNotMatch", "Signature not yet current")
    at(-14 * 60)
    at(14 * 60)


@pytest.mark.parametrize("args, message", [
    (dict(Audience=[""], SigningAlgorithm="ES384"), "'audience.1.member'"),
    (dict(Audience=[f"a{i}" for i in range(11)], SigningAlgorithm="ES384"), "less than or equal to 10"),
    (dict(Audience=["x" * 1001], SigningAlgorithm="ES384"), "'audience.1.member'"),
    (dict(SigningAlgorithm="ES384"), "Value null at 'audience'"),
    (dict(Audience=[AUDIENCE], SigningAlgorithm="HS256"), "Value 'HS256' at 'signingAlgorithm'"),
    (dict(Audience=[AUDIENCE], SigningAlgorithm="es384"), "at 'signingAlgorithm'"),
    (dict(Audience=[AUDIENCE]), "Value null at 'signingAlgorithm'"),
    (dict(Audience=[AUDIENCE], SigningAlgorithm="ES384", DurationSeconds=59), "Value '59' at 'durationSeconds'"),
    (dict(Audience=[AUDIENCE], SigningAlgorithm="ES384", DurationSeconds=3601), "Value '3601' at 'durationSeconds'"),
    (dict(Audience=[AUDIENCE], SigningAlgorithm="ES384", Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]),
     "Duplicate tag keys"),
])
def test_sts_validation_errors(c, outbound, args, message):
    _, creds = outbound
    text = sts_error(lambda: sts(c, creds).get_web_identity_token(**args), 400, "ValidationError", message)
    assert re.match(r"\d validation errors? detected: ", text), text


def test_sts_answers_only_get_web_identity_token(c, outbound):
    _, creds = outbound
    sts_error(lambda: sts(c, creds).get_caller_identity(), 400, "InvalidAction",
              "Could not find operation GetCallerIdentity for version 2011-06-15")
    status, root, _ = send(c, *signed_request(c, creds, body=GOOD_BODY.replace("2011-06-15", "2010-01-01")))
    assert (status, error_of(root)[0]) == (400, "InvalidAction")
    status, root, _ = send(c, *signed_request(c, creds, body=f"Audience.member.1={AUDIENCE}&SigningAlgorithm=ES384"))
    assert (status, error_of(root)[0]) == (400, "MissingAction")


# ---------------------------------------------------------------- Snowflake's side of the JWT

def signed_by_emulator(c, account=AWS_ACCOUNT, algorithm="ES384", **claims):
    return admin_ok(c, "POST", "/aws/outbound_federation/sign",
                    {"account": account, "algorithm": algorithm, "claims": {"sub": ROLE, **claims}})["token"]


@pytest.mark.parametrize("claims, reason", [
    (dict(exp=int(time.time()) - 60), "token expired"),
    (dict(iat=int(time.time()) + 600), "token issued in the future (iat)"),
    (dict(nbf=int(time.time()) + 600), "token is not valid yet (nbf)"),
    (dict(aud="example.com"), "audience 'example.com' does not contain snowflakecomputing.com"),
    (dict(aud=["a", "b"]), "does not contain snowflakecomputing.com"),
    (dict(aud=None), "audience None"),
    (dict(exp=None), "missing claim 'exp'"),
    (dict(iat=None), "missing claim 'iat'"),
    (dict(sub=f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/PostEtl-WarehouseRole/s1"), "is not an IAM role ARN"),
    (dict(sub=None), "subject None is not an IAM role ARN"),
    (dict(iss="https://00000000-0000-0000-0000-000000000000.tokens.sts.global.api.aws"),
     "is not the issuer of an AWS account with outbound identity federation enabled"),
])
def test_jwt_claim_checks(c, outbound, claims, reason):
    msg = rejected(jwt_submit(c, signed_by_emulator(c, **claims)), "390191", reason)
    assert msg.startswith("Workload identity federation attestation is invalid. [")


def test_jwt_leeway_and_rs256(c, outbound):
    ok_as(jwt_submit(c, signed_by_emulator(c, exp=int(time.time()) - 10, iat=int(time.time()) - 310)), "WL", "LOADER")
    ok_as(jwt_submit(c, signed_by_emulator(c, algorithm="RS256", nbf=int(time.time()))), "WL", "LOADER")


def test_expired_sts_token_is_rejected(c, outbound):
    _, creds = outbound
    token, _ = web_identity_token(c, creds, DurationSeconds=60)
    ok_as(jwt_submit(c, token), "WL", "LOADER")
    claims = jwt.decode(token, options={"verify_signature": False})
    # The same claims 91 s later, as the issuer signs them: expired beyond the 30 s leeway.
    late = signed_by_emulator(c, **{**claims, "iat": claims["iat"] - 91, "exp": claims["exp"] - 91})
    rejected(jwt_submit(c, late), "390191", "token expired")


def test_forged_and_foreign_tokens(c, outbound):
    issuer, creds = outbound
    token, _ = web_identity_token(c, creds)
    head, payload, signature = token.split(".")
    # Another subject with the original signature.
    other_payload = jwt.utils.base64url_encode(json.dumps(
        {**jwt.decode(token, options={"verify_signature": False}), "sub": OTHER_ROLE}).encode()).decode()
    rejected(jwt_submit(c, f"{head}.{other_payload}.{signature}"), "390191", "signature verification failed")
    # The issuer's kid and claims, signed with a key of one's own.
    own = ec.generate_private_key(ec.SECP384R1())
    forged = jwt.encode(jwt.decode(token, options={"verify_signature": False}), own, algorithm="ES384",
                        headers={"kid": jwt.get_unverified_header(token)["kid"]})
    rejected(jwt_submit(c, forged), "390191", "signature verification failed")
    # Signed by another account's issuer but claiming this one: its kid is not this issuer's.
    enable(c, OTHER_ACCOUNT)
    rejected(jwt_submit(c, signed_by_emulator(c, OTHER_ACCOUNT, iss=issuer)), "390191", "the issuer's JWKS has no ES384 key")
    # Algorithms STS never uses.
    rejected(jwt_submit(c, jwt.encode({"iss": issuer, "sub": ROLE}, "k" * 32, algorithm="HS256")), "390191",
             "unsupported JWT algorithm 'HS256'")
    unsigned = jwt.encode({"iss": issuer, "sub": ROLE}, None, algorithm="none")
    rejected(jwt_submit(c, unsigned), "390191", "unsupported JWT algorithm 'none'")
    rejected(jwt_submit(c, "abc.def.ghi"), "390191", "the web identity token is not a well-formed JWT")


def test_token_from_another_accounts_issuer_finds_no_user(c, outbound):
    issuer, _ = outbound
    other_issuer = enable(c, OTHER_ACCOUNT)
    token, _ = web_identity_token(c, mint(c, OTHER_ROLE))
    msg = rejected(jwt_submit(c, token), "390192")
    assert msg == ("Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN "
                   f"'{OTHER_ROLE}'")
    # A user trusting the other role but with this account's issuer does not accept it either.
    trust(c, "X", OTHER_ROLE, issuer)
    rejected(jwt_submit(c, token), "390192")
    trust(c, "X", OTHER_ROLE, other_issuer)
    ok_as(jwt_submit(c, token), "X", "LOADER")


def test_issuer_decides_which_form_a_user_accepts(c):
    issuer = enable(c)
    creds = mint(c, sessionName="job-1", durationSeconds=7200)
    token, _ = web_identity_token(c, creds)
    # No issuer: the signed request only (where it is accepted at all).
    accept_signed_requests(c)
    trust(c, "WL", ROLE)
    ok_as(wif_submit(c, attestation(creds)), "WL", "LOADER")
    msg = rejected(jwt_submit(c, token), "390192")
    assert msg.endswith(f"with ARN '{ROLE}'")
    # With an issuer: the JWT only.
    trust(c, "WL", ROLE, issuer)
    ok_as(jwt_submit(c, token), "WL", "LOADER")
    msg = rejected(wif_submit(c, attestation(creds)), "390192")
    assert msg.endswith(f"with ARN 'arn:aws:sts::{AWS_ACCOUNT}:assumed-role/PostEtl-WarehouseRole/job-1'")
    # Both, while a workload moves from one form to the other; then the signed one is removed.
    added = admin_ok(c, "POST", "/users/workload_identities", {"account": ACCOUNT, "user": "WL",
                                                               "add": {"type": "AWS", "arn": ROLE}})
    assert added["workload_identities"] == [{"type": "AWS", "arn": ROLE, "issuer": issuer},
                                            {"type": "AWS", "arn": ROLE}]
    ok_as(jwt_submit(c, token), "WL", "LOADER")
    ok_as(wif_submit(c, attestation(creds)), "WL", "LOADER")
    left = admin_ok(c, "POST", "/users/workload_identities", {"account": ACCOUNT, "user": "WL",
                                                              "remove": {"type": "AWS", "arn": ROLE}})
    assert left["workload_identities"] == [{"type": "AWS", "arn": ROLE, "issuer": issuer}]
    rejected(wif_submit(c, attestation(creds)), "390192")
    ok_as(jwt_submit(c, token), "WL", "LOADER")
    # Removing by ARN removes every identity naming it.
    assert admin_ok(c, "POST", "/users/workload_identities", {"account": ACCOUNT, "user": "WL", "remove": ROLE}) == \
        {"workload_identities": []}
    rejected(jwt_submit(c, token), "390192")


def test_issuer_admin_validation_and_listing(c):
    issuer = enable(c)
    body = trust(c, "WL", ROLE, issuer)
    assert body["workload_identities"] == [{"type": "AWS", "arn": ROLE, "issuer": issuer}]
    listed = next(u for u in admin_ok(c, "GET", "/users")["users"] if u["user"] == "WL")
    assert listed["workload_identities"] == [{"type": "AWS", "arn": ROLE, "issuer": issuer}]
    base = {"account": ACCOUNT, "user": "WL"}
    for bad in ("http://x.tokens.sts.global.api.aws", "https://", "https://x.example/?a=1", "https://u@x.example",
                "x.tokens.sts.global.api.aws", 12, "", "https://x.example/#f"):
        status, answer = c.admin("POST", "/users/workload_identities",
                                 {**base, "add": {"type": "AWS", "arn": ROLE, "issuer": bad}})
        assert status == 400 and "'issuer'" in answer["error"], bad
    session = f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/PostEtl-WarehouseRole/s1"
    status, answer = c.admin("POST", "/users/workload_identities",
                             {**base, "add": {"type": "AWS", "arn": session, "issuer": issuer}})
    assert status == 400 and "must name an IAM role ARN" in answer["error"]
    # (arn, issuer) belongs to one user; the same ARN without the issuer may belong to another.
    status, answer = c.admin("POST", "/users", {"account": ACCOUNT, "user": "OTHER", "workload_identity":
                                                {"type": "AWS", "arn": ROLE, "issuer": issuer}})
    assert status == 400 and f"with issuer {issuer} already belongs to user XY12345.WL" in answer["error"]
    trust(c, "OTHER", ROLE)


# ---------------------------------------------------------------- logs

def test_request_log_tells_the_two_forms_apart_and_logs_sts_calls(c, outbound):
    _, creds = outbound
    accept_signed_requests(c)
    token, _ = web_identity_token(c, creds)
    sts_error(lambda: web_identity_token(c, creds, algorithm="HS256"), 400, "ValidationError")
    sent = [jwt_submit(c, token)[0], wif_submit(c, attestation(creds))[0], jwt_submit(c, "abc.def.ghi")[0],
            c.submit(WHO)[0], c.submit(WHO, headers=typed(c, WIF, "WIF.AWS.!!!"))[0]]
    assert sent == [200, 401, 401, 200, 401]
    log = admin_ok(c, "GET", "/log")
    assert [(r["status"], r["token_type"], r["wif_form"], r["user"], r["code"]) for r in log["requests"]] == [
        (200, WIF, "jwt", "WL", None),
        (401, WIF, "signed_request", None, "390192"),
        (401, WIF, "jwt", None, "390191"),
        (200, "KEYPAIR_JWT", None, USER, None),
        (401, WIF, "signed_request", None, "390191"),
    ]
    assumed = f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/PostEtl-WarehouseRole/lambda-1"
    assert [(e["action"], e["status"], e["code"], e["arn"], e["audience"], e["signingAlgorithm"],
             e["durationSeconds"]) for e in log["sts"]] == [
        ("GetWebIdentityToken", 200, None, assumed, [AUDIENCE], "ES384", 300),
        ("GetWebIdentityToken", 400, "ValidationError", assumed, None, None, None),
    ]
    assert {e["path"] for e in log["sts"]} == {"/_emulator/sts"}
    text = json.dumps(log)
    for secret in (token, token.split(".")[2], creds["sessionToken"], creds["secretAccessKey"]):
        assert secret not in text
