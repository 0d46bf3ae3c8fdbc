"""Tests of the authentication methods over real HTTP (fixtures: conftest.py; helpers: auth_helpers.py):
RSA key slots and rotation, workload identity federation with AWS (attestations signed by botocore,
checked by the emulator's own SigV4), programmatic access tokens, External OAuth, and the request log.
Keys are made at test time.

Run: cd tests/emulator && ../../.venv/bin/python -m pytest -q
"""

import base64
import datetime
import json
import time

import jwt
import pytest

from auth_helpers import (AWS_ACCOUNT, QUERY, ROLE, WHO, WIF, accept_signed_requests, admin_ok, attestation, mint,
                          ok_as, rejected, typed, wif_submit, wif_token)
from emulator_client import ACCOUNT, KEY1, KEY2, KEY3, USER, fingerprint, make_token, public_pem


# ---------------------------------------------------------------- key slots (rotation)

def test_key_rotation_through_the_two_slots(c):
    admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": "ROT", "public_keys": [public_pem(KEY1)],
                                   "default_role": "R"})
    a, b = make_token(KEY1, user="ROT"), make_token(KEY2, user="ROT")
    ok_as(c.submit(WHO, token=a), "ROT", "R")
    rejected(c.submit(WHO, token=b), "390144", "public key fingerprint is not registered")

    fps = admin_ok(c, "POST", "/users/keys", {"account": ACCOUNT, "user": "rot", "rsa_public_key_2": public_pem(KEY2)})
    assert fps == {"rsa_public_key_fp": fingerprint(KEY1), "rsa_public_key_2_fp": fingerprint(KEY2)}
    ok_as(c.submit(WHO, token=a), "ROT", "R")
    ok_as(c.submit(WHO, token=b), "ROT", "R")

    fps = admin_ok(c, "POST", "/users/keys", {"account": ACCOUNT, "user": "ROT", "rsa_public_key": None})
    assert fps == {"rsa_public_key_fp": None, "rsa_public_key_2_fp": fingerprint(KEY2)}
    msg = rejected(c.submit(WHO, token=make_token(KEY1, user="ROT")), "390144")
    assert msg == "JWT token is invalid. [public key fingerprint is not registered]"
    ok_as(c.submit(WHO, token=make_token(KEY2, user="ROT")), "ROT", "R")

    # Slot 1 takes the next key; the user keeps the default role it had.
    fps = admin_ok(c, "POST", "/users/keys", {"account": ACCOUNT, "user": "ROT", "rsa_public_key": public_pem(KEY3)})
    assert fps == {"rsa_public_key_fp": fingerprint(KEY3), "rsa_public_key_2_fp": fingerprint(KEY2)}
    ok_as(c.submit(WHO, token=make_token(KEY3, user="ROT")), "ROT", "R")


def test_key_slot_admin_errors(c):
    assert c.admin("POST", "/users/keys", {"account": ACCOUNT, "user": "NOBODY", "rsa_public_key": None})[0] == 404
    assert c.admin("POST", "/users/keys", {"account": ACCOUNT, "user": USER})[0] == 400
    status, body = c.admin("POST", "/users/keys", {"account": ACCOUNT, "user": USER, "rsa_public_key": "nope"})
    assert status == 400 and "rsa_public_key" in body["error"]
    status, _ = c.admin("POST", "/users", {"account": ACCOUNT, "user": "X",
                                          "public_keys": [public_pem(KEY1), public_pem(KEY2), public_pem(KEY3)]})
    assert status == 400
    assert c.admin("POST", "/users", {"account": ACCOUNT})[0] == 400


def test_user_without_keys_and_re_registration_keeps_other_credentials(c):
    body = admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": "WL", "public_keys": [],
                                          "workload_identity": {"type": "AWS", "arn": ROLE}})
    assert body["fingerprints"] == [] and body["workload_identities"] == [{"type": "AWS", "arn": ROLE}]
    rejected(c.submit(WHO, token=make_token(KEY1, user="WL")), "390144", "not registered")
    pat = admin_ok(c, "POST", "/users/pat", {"account": ACCOUNT, "user": "WL", "name": "ci"})
    creds = mint(c)
    accept_signed_requests(c)

    # Registering again (new keys, a default role) updates the user in place.
    body = admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": "WL", "public_keys": [public_pem(KEY1)],
                                          "default_role": "LOADER"})
    assert body["rsa_public_key_fp"] == fingerprint(KEY1) and body["rsa_public_key_2_fp"] is None
    assert body["workload_identities"] == [{"type": "AWS", "arn": ROLE}]
    assert [p["name"] for p in body["pats"]] == ["CI"]
    ok_as(c.submit(WHO, token=make_token(KEY1, user="WL")), "WL", "LOADER")
    ok_as(c.submit(WHO, headers=typed(c, "PROGRAMMATIC_ACCESS_TOKEN", pat["token"])), "WL", "LOADER")
    ok_as(wif_submit(c, attestation(creds)), "WL", "LOADER")
    listed = next(u for u in admin_ok(c, "GET", "/users")["users"] if u["user"] == "WL")
    assert listed["pats"] == [{"name": "CI", "expiresAt": pat["expiresAt"], "roleRestriction": None}]
    assert pat["token"] not in json.dumps(listed)


# ---------------------------------------------------------------- workload identity federation (AWS)

def test_signed_request_refused_on_the_sql_api_unless_opted_in(c):
    admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": "WL", "default_role": "LOADER",
                                   "workload_identity": {"type": "AWS", "arn": ROLE}})
    creds = mint(c)
    rejected(wif_submit(c, attestation(creds)), "390191", "not a signed GetCallerIdentity request")
    assert c.admin("POST", "/config", {"accept_wif_signed_request": "yes"})[0] == 400
    accept_signed_requests(c)
    ok_as(wif_submit(c, attestation(creds)), "WL", "LOADER")


@pytest.fixture
def wl(c):
    """User WL trusts ROLE (default role LOADER); credentials minted for ROLE; signed requests
    accepted (these tests are about their verification)."""
    accept_signed_requests(c)
    admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": "WL", "default_role": "LOADER",
                                   "workload_identity": {"type": "AWS", "arn": ROLE}})
    return mint(c, sessionName="lambda-1")


def test_minted_credentials_look_like_sts(c):
    creds = mint(c, f"arn:aws:iam::{AWS_ACCOUNT}:role/service-role/team/Path-Role", sessionName="s1",
                 durationSeconds=900)
    assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20
    assert creds["accessKeyId"][4:].isalnum() and creds["accessKeyId"].isupper()
    assert len(creds["secretAccessKey"]) == 40 and len(creds["sessionToken"]) > 100
    assert creds["arn"] == f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/Path-Role/s1"
    expires = datetime.datetime.strptime(creds["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    expires = expires.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert abs(expires - (time.time() + 900)) < 5
    assert mint(c)["arn"].startswith(f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/PostEtl-WarehouseRole/")
    for bad in ({"roleArn": "arn:aws:iam::12345:role/X"}, {"roleArn": f"arn:aws:iam::{AWS_ACCOUNT}:user/X"},
                {"roleArn": ROLE, "durationSeconds": 50000}, {"roleArn": ROLE, "sessionName": "bad name"}, {}):
        assert c.admin("POST", "/aws/credentials", bad)[0] == 400, bad


def test_wif_regional_global_and_china_hosts(c, wl):
    ok_as(wif_submit(c, attestation(wl)), "WL", "LOADER")
    ok_as(wif_submit(c, attestation(wl, region="us-east-1", host="sts.amazonaws.com")), "WL", "LOADER")
    rejected(wif_submit(c, attestation(wl, region="eu-west-1", host="sts.amazonaws.com")), "390191",
             "credential scope region 'eu-west-1' does not match the host's region 'us-east-1'")
    # Credentials of the aws partition are unknown to STS in China, and the reverse.
    rejected(wif_submit(c, attestation(wl, region="cn-north-1", host="sts.cn-north-1.amazonaws.com.cn")),
             "390191", "The security token included in the request is invalid")
    cn_role = f"arn:aws-cn:iam::{AWS_ACCOUNT}:role/CnRole"
    admin_ok(c, "POST", "/users/workload_identities", {"account": ACCOUNT, "user": "WL",
                                                       "add": {"type": "AWS", "arn": cn_role}})
    cn = mint(c, cn_role)
    ok_as(wif_submit(c, attestation(cn, region="cn-north-1", host="sts.cn-north-1.amazonaws.com.cn")), "WL", "LOADER")


def test_botocore_signed_attestation_accepted_with_any_header_case(c, wl):
    doc = attestation(wl)
    assert set(doc["headers"]) == {"Host", "X-Snowflake-Audience", "X-Amz-Date", "X-Amz-Security-Token",
                                   "Authorization"}
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token;x-snowflake-audience," in doc["headers"]["Authorization"]
    ok_as(wif_submit(c, doc), "WL", "LOADER")
    lower = dict(doc, headers={k.lower(): v for k, v in doc["headers"].items()})  # what the Rust signer writes
    ok_as(wif_submit(c, lower), "WL", "LOADER")
    twice = dict(doc, headers={**doc["headers"], "host": doc["headers"]["Host"]})
    rejected(wif_submit(c, twice), "390191", "appears more than once")


@pytest.mark.parametrize("header, value, reason", [
    ("X-Amz-Date", None, "does not match the signature you provided"),   # one second later
    ("X-Amz-Security-Token", "x", "The security token included in the request is invalid"),
    ("X-Snowflake-Audience", "snowflakecomputing.com.evil", "X-Snowflake-Audience must be snowflakecomputing.com"),
    ("Host", "sts.eu-west-2.amazonaws.com", "Host header must equal the url's host"),
    ("Authorization", None, "does not match the signature you provided"),  # signature's last digit
])
def test_tampered_attestations_are_rejected(c, wl, header, value, reason):
    doc = attestation(wl)
    ok_as(wif_submit(c, doc), "WL", "LOADER")
    h = doc["headers"]
    if header == "X-Amz-Date":
        signed = datetime.datetime.strptime(h[header], "%Y%m%dT%H%M%SZ") - datetime.timedelta(seconds=1)
        h[header] = signed.strftime("%Y%m%dT%H%M%SZ")
    elif header == "Authorization":
        h[header] = h[header][:-1] + ("0" if h[header][-1] != "0" else "1")
    elif header == "X-Amz-Security-Token":
        h[header] = h[header][:-1] + ("A" if h[header][-1] != "A" else "B")
    else:
        h[header] = value
    rejected(wif_submit(c, doc), "390191", reason)


def test_wif_rejects_foreign_hosts_and_other_requests(c, wl):
    for host in ("sts.example.com", "sts.eu-west-1.amazonaws.com.evil.example", "evil.example",
                 "sts.cn-north-1.amazonaws.com", "sts.eu-west-1.amazonaws.com.cn", "sts.amazonaws.com:443"):
        msg = rejected(wif_submit(c, attestation(wl, host=host)), "390191", "not an STS endpoint")
        assert msg.startswith("Workload identity federation attestation is invalid. [")
    rejected(wif_submit(c, attestation(wl, url=f"http://sts.eu-west-1.amazonaws.com{QUERY}")), "390191",
             "not an STS endpoint")
    for url in ("https://sts.eu-west-1.amazonaws.com/?Action=AssumeRole&Version=2011-06-15",
                f"https://sts.eu-west-1.amazonaws.com{QUERY}&Extra=1",
                "https://sts.eu-west-1.amazonaws.com/x?Action=GetCallerIdentity&Version=2011-06-15"):
        rejected(wif_submit(c, attestation(wl, url=url)), "390191", "url must be /?Action=GetCallerIdentity")
    rejected(wif_submit(c, dict(attestation(wl), method="GET")), "390191", "method must be POST")
    # Version before Action is the same request.
    ok_as(wif_submit(c, attestation(wl, url="https://sts.eu-west-1.amazonaws.com/?Version=2011-06-15&"
                                            "Action=GetCallerIdentity")), "WL", "LOADER")


def test_wif_audience_must_be_present_signed_and_right(c, wl):
    rejected(wif_submit(c, attestation(wl, audience=None)), "390191", "X-Snowflake-Audience header is missing")
    rejected(wif_submit(c, attestation(wl, signed_audience=False)), "390191",
             "x-snowflake-audience must be a signed header")
    rejected(wif_submit(c, attestation(wl, audience="example.com")), "390191",
             "X-Snowflake-Audience must be snowflakecomputing.com")


def test_wif_date_window(c, wl, monkeypatch):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for offset, reason in ((-16 * 60, "Signature expired"), (6 * 60, "Signature not yet current")):
        doc = attestation(wl, at=now + datetime.timedelta(seconds=offset), monkeypatch=monkeypatch)
        rejected(wif_submit(c, doc), "390191", reason)
    for offset in (-14 * 60, 4 * 60):
        ok_as(wif_submit(c, attestation(wl, at=now + datetime.timedelta(seconds=offset), monkeypatch=monkeypatch)),
              "WL", "LOADER")


def test_wif_credentials_must_be_known_current_and_complete(c, wl):
    unknown = {"accessKeyId": "ASIA" + "Z" * 16, "secretAccessKey": "s" * 40, "sessionToken": "t" * 200}
    msg = rejected(wif_submit(c, attestation(unknown)), "390191")
    assert msg == ("Workload identity federation attestation is invalid. "
                   "[The security token included in the request is invalid]")
    rejected(wif_submit(c, attestation(wl, session_token=mint(c)["sessionToken"])), "390191",
             "The security token included in the request is invalid")
    rejected(wif_submit(c, attestation(wl, session_token="")), "390191",
             "The security token included in the request is invalid")
    rejected(wif_submit(c, attestation(wl, secret="x" * 40)), "390191", "does not match the signature you provided")
    expired = mint(c, durationSeconds=0)
    rejected(wif_submit(c, attestation(expired)), "390191", "The security token included in the request is expired")


def test_wif_malformed_tokens(c, wl):
    good = wif_token(attestation(wl))
    for token, reason in (("WIF.AWS.!!!", "not standard base64"), ("AWS.abc", "WIF.<provider>.<attestation>"),
                          ("WIF.AZURE." + good[8:], "provider 'AZURE' is not emulated"),
                          ("WIF.AWS." + base64.b64encode(b"[1]").decode(), "must be a JSON object"),
                          ("WIF.AWS.abc", "not standard base64"),
                          ("WIF.AWS." + base64.urlsafe_b64encode(b"\xfb\xff" * 30).decode(), "not standard base64")):
        rejected(wif_submit(c, token), "390191", reason)
    rejected(c.submit(WHO, headers=typed(c, WIF, None) | {"Authorization": "Basic x"}), "390191",
             "missing 'Authorization: Bearer <token>' header")


def test_wif_trust_is_per_role(c, wl):
    other = mint(c, f"arn:aws:iam::{AWS_ACCOUNT}:role/Untrusted", sessionName="job-7")
    msg = rejected(wif_submit(c, attestation(other)), "390192")
    assert msg == ("Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN "
                   f"'arn:aws:sts::{AWS_ACCOUNT}:assumed-role/Untrusted/job-7'")
    # ALTER USER .. ADD WORKLOAD IDENTITY: a second role, and a role registered with its path.
    for arn in (f"arn:aws:iam::{AWS_ACCOUNT}:role/Untrusted", f"arn:aws:iam::{AWS_ACCOUNT}:role/jobs/Pathed"):
        answer = admin_ok(c, "POST", "/users/workload_identities",
                          {"account": ACCOUNT, "user": "WL", "add": {"type": "AWS", "arn": arn}})
        assert {"type": "AWS", "arn": arn} in answer["workload_identities"]
    ok_as(wif_submit(c, attestation(other)), "WL", "LOADER")
    ok_as(wif_submit(c, attestation(mint(c, f"arn:aws:iam::{AWS_ACCOUNT}:role/jobs/Pathed"))), "WL", "LOADER")
    # REMOVE WORKLOAD IDENTITY: the first role is no longer trusted.
    admin_ok(c, "POST", "/users/workload_identities", {"account": ACCOUNT, "user": "WL", "remove": ROLE})
    rejected(wif_submit(c, attestation(wl)), "390192", "assumed-role/PostEtl-WarehouseRole/lambda-1'")
    # A user may trust exactly one assumed-role session.
    session = mint(c, f"arn:aws:iam::{AWS_ACCOUNT}:role/Sessions", sessionName="one")
    admin_ok(c, "POST", "/users", {"account": ACCOUNT, "user": "ONE", "workload_identity":
                                   {"type": "AWS", "arn": session["arn"]}})
    ok_as(wif_submit(c, attestation(session)), "ONE", "PUBLIC")
    rejected(wif_submit(c, attestation(mint(c, f"arn:aws:iam::{AWS_ACCOUNT}:role/Sessions", sessionName="two"))),
             "390192")


def test_workload_identity_admin_errors(c, wl):
    base = {"account": ACCOUNT, "user": "WL"}
    assert c.admin("POST", "/users/workload_identities", base)[0] == 400
    assert c.admin("POST", "/users/workload_identities", {**base, "add": {"type": "GCP", "arn": ROLE}})[0] == 400
    assert c.admin("POST", "/users/workload_identities", {**base, "add": {"type": "AWS", "arn": "x"}})[0] == 400
    assert c.admin("POST", "/users/workload_identities", {**base, "remove": "arn:aws:iam::1:role/none"})[0] == 404
    assert c.admin("POST", "/users/workload_identities", {**base, "user": "NOBODY", "remove": ROLE})[0] == 404
    status, body = c.admin("POST", "/users", {"account": ACCOUNT, "user": "OTHER",
                                              "workload_identity": {"type": "AWS", "arn": ROLE}})
    assert status == 400 and "already belongs to user XY12345.WL" in body["error"]


# ---------------------------------------------------------------- programmatic access tokens

PAT = "PROGRAMMATIC_ACCESS_TOKEN"


def add_pat(c, name="ci", user=USER, **extra):
    return admin_ok(c, "POST", "/users/pat", {"account": ACCOUNT, "user": user, "name": name, **extra})


def test_pat_valid_revoked_expired_wrong(c):
    pat = add_pat(c, daysToExpiry=30)
    assert pat["name"] == "CI" and len(pat["token"]) >= 40
    expires = datetime.datetime.strptime(pat["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(expires.replace(tzinfo=datetime.timezone.utc).timestamp() - (time.time() + 30 * 86400)) < 5
    ok_as(c.submit(WHO, headers=typed(c, PAT, pat["token"])), USER, "LOADER")

    wrong = pat["token"][:-2] + ("AA" if not pat["token"].endswith("AA") else "BB")
    msg = rejected(c.submit(WHO, headers=typed(c, PAT, wrong)), "394400")
    assert msg == "Programmatic access token is invalid. [token is not known]"
    assert admin_ok(c, "POST", "/users/pat/remove", {"account": ACCOUNT, "user": USER, "name": "CI"}) == \
        {"name": "CI", "removed": True}
    msg = rejected(c.submit(WHO, headers=typed(c, PAT, pat["token"])), "394400", "token has been revoked")
    assert pat["token"] not in msg

    expired = add_pat(c, "old", daysToExpiry=0)
    rejected(c.submit(WHO, headers=typed(c, PAT, expired["token"])), "394400", "token 'OLD' expired")
    # The same secret as a key-pair JWT is just a malformed JWT.
    rejected(c.submit(WHO, token=add_pat(c, "again")["token"]), "390144", "token is malformed")


def test_pat_role_restriction_and_default_expiry(c):
    pat = add_pat(c, "ro", roleRestriction="reader")
    ok_as(c.submit(WHO, headers=typed(c, PAT, pat["token"])), USER, "READER")
    expires = datetime.datetime.strptime(pat["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(expires.replace(tzinfo=datetime.timezone.utc).timestamp() - (time.time() + 15 * 86400)) < 5


def test_pat_admin_errors(c):
    add_pat(c, "dup")
    status, body = c.admin("POST", "/users/pat", {"account": ACCOUNT, "user": USER, "name": "DUP"})
    assert status == 400 and "already exists" in body["error"]
    for bad in ({"name": ""}, {"name": "x", "daysToExpiry": 366}, {"name": "x", "daysToExpiry": "1"}):
        assert c.admin("POST", "/users/pat", {"account": ACCOUNT, "user": USER, **bad})[0] == 400, bad
    assert c.admin("POST", "/users/pat", {"account": ACCOUNT, "user": "NOBODY", "name": "x"})[0] == 404
    assert c.admin("POST", "/users/pat/remove", {"account": ACCOUNT, "user": USER, "name": "none"})[0] == 404


# ---------------------------------------------------------------- External OAuth

IDP_KEY = KEY3
ISSUER = "https://idp.example.com/oauth2/default"
AUDIENCE = "https://xy12345.snowflakecomputing.com"
OAUTH = "OAUTH"


@pytest.fixture
def idp(c):
    admin_ok(c, "POST", "/oauth/integrations", {"name": "okta", "account": ACCOUNT, "issuer": ISSUER,
                                                "audiences": ["other", AUDIENCE], "publicKey": public_pem(IDP_KEY)})
    return c


def oauth_token(key=IDP_KEY, algorithm="RS256", **claims):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": USER.lower(), "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm)


def oauth_submit(c, token):
    return c.submit(WHO, headers=typed(c, OAUTH, token))


def test_oauth_valid_tokens_and_roles(idp):
    c = idp
    ok_as(oauth_submit(c, oauth_token()), USER, "LOADER")
    ok_as(oauth_submit(c, oauth_token(aud=["x", AUDIENCE])), USER, "LOADER")
    ok_as(oauth_submit(c, oauth_token(scp="openid session:role:analyst")), USER, "ANALYST")
    ok_as(oauth_submit(c, oauth_token(scp=["session:role:ANALYST"])), USER, "ANALYST")
    rejected(oauth_submit(c, oauth_token(scp="session:role:A session:role:B")), "390303", "more than one")
    rejected(oauth_submit(c, oauth_token(scp="session:role-any")), "390303", "EXTERNAL_OAUTH_ANY_ROLE_MODE")
    listed = admin_ok(c, "GET", "/oauth/integrations")["integrations"]
    assert listed == [{"name": "OKTA", "account": ACCOUNT, "issuer": ISSUER, "audiences": ["other", AUDIENCE],
                       "publicKeyFp": fingerprint(IDP_KEY), "userClaim": "sub", "anyRole": False}]
    # CREATE OR REPLACE with another user claim and ANY_ROLE_MODE.
    admin_ok(c, "POST", "/oauth/integrations", {"name": "OKTA", "account": ACCOUNT, "issuer": ISSUER,
                                                "audiences": [AUDIENCE], "publicKey": public_pem(IDP_KEY),
                                                "userClaim": "upn", "anyRole": True})
    ok_as(oauth_submit(c, oauth_token(sub="someone", upn="Svc_User", scp="session:role-any")), USER, "LOADER")
    rejected(oauth_submit(c, oauth_token()), "390303", "missing claim 'upn'")


@pytest.mark.parametrize("token_args, reason", [
    (dict(key=KEY1), "signature verification failed"),
    (dict(aud="https://other.snowflakecomputing.com"), "is not in the integration's EXTERNAL_OAUTH_AUDIENCE_LIST"),
    (dict(aud=None), "is not in the integration's EXTERNAL_OAUTH_AUDIENCE_LIST"),
    (dict(iss="https://evil.example.com"), "no External OAuth security integration has issuer"),
    (dict(exp=int(time.time()) - 120), "token expired"),
    (dict(exp=None), "missing claim 'exp'"),
    (dict(nbf=int(time.time()) + 600), "not valid yet (nbf)"),
    (dict(iat=int(time.time()) + 600), "issued in the future (iat)"),
    (dict(sub="nobody"), "no user with login name 'nobody' in account 'XY12345'"),
    (dict(key="s" * 64, algorithm="HS256"), "unsupported algorithm 'HS256'"),
])
def test_oauth_rejections(idp, token_args, reason):
    msg = rejected(oauth_submit(idp, oauth_token(**token_args)), "390303", reason)
    assert msg.startswith("Invalid OAuth access token. [")


def test_oauth_misc(idp):
    c = idp
    rejected(oauth_submit(c, "not-a-jwt"), "390303", "token is malformed")
    # Another account's integration with the same issuer: the user must exist in that account.
    admin_ok(c, "POST", "/oauth/integrations", {"name": "okta", "account": "OTHER", "issuer": ISSUER,
                                                "audiences": [AUDIENCE], "publicKey": public_pem(KEY2)})
    ok_as(oauth_submit(c, oauth_token()), USER, "LOADER")
    rejected(oauth_submit(c, oauth_token(key=KEY2)), "390303", "no user with login name 'svc_user' in account 'OTHER'")
    for bad in ({"audiences": []}, {"publicKey": "nope"}, {"anyRole": "yes"}, {"issuer": ""}):
        body = {"name": "x", "account": ACCOUNT, "issuer": ISSUER, "audiences": [AUDIENCE],
                "publicKey": public_pem(KEY1), **bad}
        assert c.admin("POST", "/oauth/integrations", body)[0] == 400, bad


# ---------------------------------------------------------------- request log

def test_request_log_shows_method_user_and_rejections(c, wl):
    pat = add_pat(c)
    c.admin("POST", "/oauth/integrations", {"name": "okta", "account": ACCOUNT, "issuer": ISSUER,
                                            "audiences": [AUDIENCE], "publicKey": public_pem(IDP_KEY)})
    doc = attestation(wl)
    sent = [c.submit(WHO)[0], c.submit(WHO, headers=typed(c, PAT, pat["token"]))[0], wif_submit(c, doc)[0],
            oauth_submit(c, oauth_token())[0], c.submit(WHO, token=make_token(KEY3))[0],
            c.submit(WHO, headers=typed(c, PAT, "wrong"))[0],
            wif_submit(c, attestation(mint(c, f"arn:aws:iam::{AWS_ACCOUNT}:role/Nobody")))[0],
            c.submit(WHO, headers=typed(c, "SAML", "x"))[0],
            c.submit(WHO, headers=c.headers(**{"X-Snowflake-Authorization-Token-Type": None}))[0]]
    # Without the token type header the spec assumes OAUTH: a key-pair JWT is then refused (390303).
    assert sent == [200, 200, 200, 200, 401, 401, 401, 401, 401]
    log = admin_ok(c, "GET", "/log")
    entries = [(r["status"], r["token_type"], r["account"], r["user"], r["code"]) for r in log["requests"]]
    assert entries == [
        (200, "KEYPAIR_JWT", ACCOUNT, USER, None),
        (200, PAT, ACCOUNT, USER, None),
        (200, WIF, ACCOUNT, "WL", None),
        (200, OAUTH, ACCOUNT, USER, None),
        (401, "KEYPAIR_JWT", None, None, "390144"),
        (401, PAT, None, None, "394400"),
        (401, WIF, None, None, "390192"),
        (401, "SAML", None, None, "390101"),
        (401, OAUTH, None, None, "390303"),
    ]
    text = json.dumps(log)
    signature = doc["headers"]["Authorization"].rsplit("Signature=", 1)[1]
    for secret in (pat["token"], wl["sessionToken"], wl["secretAccessKey"], signature):
        assert secret not in text
