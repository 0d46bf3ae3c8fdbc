"""AWS IAM outbound identity federation: the emulator's STS GetWebIdentityToken.

POST /_emulator/aws/outbound_federation {"account"} enables it for an AWS account (like `aws iam
enable-outbound-web-identity-federation`): the account gets an issuer URL
(https://<uuid>.tokens.sts.global.api.aws) and two signing keys, EC P-384 (ES384) and RSA 2048
(RS256). POST /_emulator/sts is STS's awsQuery endpoint for GetWebIdentityToken only: the request's
SigV4 signature is verified for real with credentials minted by /_emulator/aws/credentials, and the
answer is STS's XML, a JWT signed by the caller's account issuer (sub = the role ARN). Snowflake's
side (wif_aws.verify_outbound_jwt) looks the issuer up here to verify it.

Failures answer STS's awsQuery <ErrorResponse> with STS's codes and status. Nothing here logs or
echoes a signature, secret, session token or issued token.
"""

import hashlib
import hmac
import re
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import wif_aws
from .httpmsg import Response
from .principals import iso8601

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
CLAIMS_NAMESPACE = "https://sts.amazonaws.com/"   # where STS nests its AWS-specific claims
VERSION = "2011-06-15"
ACTION = "GetWebIdentityToken"
ALGORITHMS = ("ES384", "RS256")
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 60, 3600, 300
MAX_AUDIENCES, MAX_AUDIENCE_LENGTH = 10, 1000
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
SKEW_SECONDS = 15 * 60          # STS: X-Amz-Date at most 15 minutes off, either way
ACCOUNT_ID = re.compile(r"\d{12}")
_MEMBER = re.compile(r"Audience\.member\.([1-9]\d*)")
_TAG = re.compile(r"Tags\.member\.([1-9]\d*)\.(Key|Value)")


# ---------------------------------------------------------------- per-account issuers

@dataclass
class Issuer:
    account: str
    url: str
    keys: dict          # alg -> (kid, private key)

    def sign(self, claims, alg):
        kid, key = self.keys[alg]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})

    def describe(self):
        jwks = []
        for alg, (kid, key) in self.keys.items():
            algorithm = jwt.algorithms.ECAlgorithm if alg == "ES384" else jwt.algorithms.RSAAlgorithm
            jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
            jwks.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"account": self.account, "issuer": self.url, "jwks": {"keys": jwks}}


class OutboundFederation:
    """The AWS accounts that enabled outbound identity federation, with their issuers."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_account = {}

    def enable(self, body):
        """EnableOutboundWebIdentityFederation: {"account"} -> {"issuer"}; again -> the same issuer."""
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        account = body.get("account")
        if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account):
            raise ValueError("'account' must be a 12-digit AWS account ID")
        with self._lock:
            issuer = self._by_account.get(account)
            if issuer is None:
                issuer = Issuer(account, f"https://{uuid.uuid4()}.tokens.sts.global.api.aws", {
                    "ES384": (str(uuid.uuid4()), ec.generate_private_key(ec.SECP384R1())),
                    "RS256": (str(uuid.uuid4()), rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                })
                self._by_account[account] = issuer
            return {"issuer": issuer.url}

    def sign(self, body):
        """Test helper (no AWS counterpart): {"account", "claims"?, "algorithm"?: "ES384"} -> {"token"}: a JWT
        signed with that account's issuer key, with claims iss (the issuer), aud snowflakecomputing.com, iat
        (now), exp (iat + 300) and jti by default; the given claims override them, null removes one. For
        tokens STS would never issue: expired, not yet valid, another audience or subject."""
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        account, claims, alg = body.get("account"), body.get("claims", {}), body.get("algorithm", "ES384")
        if not isinstance(claims, dict):
            raise ValueError("'claims' must be an object")
        if alg not in ALGORITHMS:
            raise ValueError(f"'algorithm' must be one of {', '.join(ALGORITHMS)}")
        issuer = self.of_account(account) if isinstance(account, str) else None
        if issuer is None:
            raise LookupError(f"AWS account {account!r} has not enabled outbound identity federation")
        now = int(time.time())
        merged = {"iss": issuer.url, "aud": wif_aws.AUDIENCE, "iat": now, "exp": now + DEFAULT_DURATION,
                  "jti": str(uuid.uuid4()), **claims}
        return {"token": issuer.sign({k: v for k, v in merged.items() if v is not None}, alg)}

    def of_account(self, account):
        with self._lock:
            return self._by_account.get(account)

    def by_issuer(self, url):
        with self._lock:
            return next((i for i in self._by_account.values() if i.url == url), None)

    def list(self):
        with self._lock:
            return [i.describe() for i in self._by_account.values()]


# ---------------------------------------------------------------- STS errors (awsQuery)

class StsError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, request_id):
        body = (f'<ErrorResponse xmlns="{NAMESPACE}">\n'
                f'  <Error>\n'
                f'    <Type>Sender</Type>\n'
                f'    <Code>{escape(self.code)}</Code>\n'
                f'    <Message>{escape(self.message)}</Message>\n'
                f'  </Error>\n'
                f'  <RequestId>{request_id}</RequestId>\n'
                f'</ErrorResponse>\n')
        return Response(self.status, body, "text/xml", headers={"x-amzn-RequestId": request_id})


def _incomplete(reason):
    return StsError(400, "IncompleteSignature", reason)


def _mismatch(reason=None):
    return StsError(403, "SignatureDoesNotMatch", reason or (
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details."))


def _token_invalid():
    return StsError(403, "InvalidClientTokenId", wif_aws.TOKEN_INVALID + ".")


def _token_expired():
    return StsError(403, "ExpiredToken", wif_aws.TOKEN_EXPIRED)


def _validation(problems):
    n = len(problems)
    return StsError(400, "ValidationError",
                    f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems))


# ---------------------------------------------------------------- the endpoint

def _headers(req):
    """Lowercase name -> value (several of one name joined with ',', as SigV4 canonicalises them)."""
    out = {}
    for name in {k.lower() for k in req.headers.keys()}:
        values = req.headers.get_all(name) or []
        out[name] = ",".join(" ".join(v.split()) for v in values)
    return out


def _params(req, headers):
    """awsQuery parameters: the query string, then a form-urlencoded body."""
    pairs = parse_qsl(req.raw_query, keep_blank_values=True)
    if headers.get("content-type", "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            pairs += parse_qsl(req.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise StsError(400, "MalformedQueryString", "The request body is not UTF-8")
    return dict(pairs)


def verify_sigv4(state, req, headers, now):
    """(Credentials, signing region) of a request signed with SigV4 for service sts; StsError else."""
    if "authorization" not in headers:
        raise StsError(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
    credential, signed, signature = wif_aws.parse_authorization(headers["authorization"], _incomplete)
    signed_headers = signed.split(";")
    if signed_headers != sorted(set(signed_headers)) or any(h != h.lower() for h in signed_headers):
        raise _incomplete("SignedHeaders must be lowercase, sorted and unique")
    for name in ("host", "x-amz-date"):
        if name not in signed_headers:
            raise _incomplete(f"'{name}' must be a signed header")
    missing = [h for h in signed_headers if h not in headers or h == "authorization"]
    if missing:
        raise _incomplete(f"signed header '{missing[0]}' is not in the request")
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        raise _incomplete("Credential must be ACCESS_KEY/YYYYMMDD/REGION/sts/aws4_request")
    access_key_id, date, region, service = scope[:4]
    if service != "sts":
        raise _mismatch("Credential should be scoped to correct service: 'sts'.")
    if not wif_aws.REGION.fullmatch(region):
        raise _mismatch(f"Credential should be scoped to a valid region, not '{region}'.")
    amz_date = headers.get("x-amz-date", "")
    signed_at = wif_aws.parse_amz_date(amz_date)
    if signed_at is None:
        raise _incomplete("X-Amz-Date must be YYYYMMDDTHHMMSSZ")
    if date != amz_date[:8]:
        raise _mismatch(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                        f"HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'.")
    server_time = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    if signed_at < now - SKEW_SECONDS:
        raise _mismatch(f"Signature expired: {amz_date} is now earlier than "
                        f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now - SKEW_SECONDS))} ({server_time} - 15 min.)")
    if signed_at > now + SKEW_SECONDS:
        raise _mismatch(f"Signature not yet current: {amz_date} is still later than "
                        f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now + SKEW_SECONDS))} ({server_time} + 15 min.)")
    creds = state.aws.get(access_key_id)
    if creds is None or creds.partition != wif_aws.partition_of(region):
        raise _token_invalid()
    if not hmac.compare_digest(headers.get("x-amz-security-token", "").encode(), creds.session_token.encode()):
        raise _token_invalid()
    if now >= creds.expires:
        raise _token_expired()
    payload_hash = hashlib.sha256(req.body or b"").hexdigest()
    if "x-amz-content-sha256" in signed_headers:
        if headers["x-amz-content-sha256"] != payload_hash:
            raise _mismatch("The x-amz-content-sha256 header does not match the SHA-256 of the request body.")
    params = parse_qsl(req.raw_query, keep_blank_values=True)
    expected = wif_aws.sigv4_signature(creds.secret_access_key, req.method, quote(req.path, safe="/-_.~"), params,
                                       headers, signed_headers, amz_date, "/".join(scope[1:]), payload_hash)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise _mismatch()
    return creds, region


def _request(params):
    """(audiences, algorithm, duration, tags) of GetWebIdentityToken's parameters; ValidationError else."""
    problems = []
    members = {int(m.group(1)): v for k, v in params.items() if (m := _MEMBER.fullmatch(k))}
    audiences = [members[n] for n in sorted(members)]
    if not audiences:
        problems.append("Value null at 'audience' failed to satisfy constraint: Member must not be null")
    elif sorted(members) != list(range(1, len(members) + 1)):
        problems.append("Audience.member.N must be numbered 1, 2, ... without gaps")
    elif len(audiences) > MAX_AUDIENCES:
        problems.append(f"Value at 'audience' failed to satisfy constraint: Member must have length less than "
                        f"or equal to {MAX_AUDIENCES}")
    for i, a in enumerate(audiences, 1):
        if not 1 <= len(a) <= MAX_AUDIENCE_LENGTH:
            problems.append(f"Value at 'audience.{i}.member' failed to satisfy constraint: Member must have length "
                            f"between 1 and {MAX_AUDIENCE_LENGTH}")
    algorithm = params.get("SigningAlgorithm")
    if algorithm is None:
        problems.append("Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null")
    elif algorithm not in ALGORITHMS:
        problems.append(f"Value '{algorithm[:20]}' at 'signingAlgorithm' failed to satisfy constraint: Member must "
                        f"satisfy enum value set: [{', '.join(ALGORITHMS)}]")
    duration = params.get("DurationSeconds")
    if duration is None:
        duration = DEFAULT_DURATION
    elif not re.fullmatch(r"-?\d{1,10}", duration) or not MIN_DURATION <= int(duration) <= MAX_DURATION:
        problems.append(f"Value '{duration[:20]}' at 'durationSeconds' failed to satisfy constraint: Member must "
                        f"be an integer from {MIN_DURATION} to {MAX_DURATION}")
    else:
        duration = int(duration)
    tag_parts = {}
    for k, v in params.items():
        m = _TAG.fullmatch(k)
        if m:
            tag_parts.setdefault(int(m.group(1)), {})[m.group(2)] = v
    tags = {}
    if len(tag_parts) > MAX_TAGS:
        problems.append(f"Value at 'tags' failed to satisfy constraint: Member must have length less than or equal "
                        f"to {MAX_TAGS}")
    for n in sorted(tag_parts):
        key, value = tag_parts[n].get("Key"), tag_parts[n].get("Value")
        if key is None or value is None:
            problems.append(f"Tags.member.{n} must have a Key and a Value")
        elif not 1 <= len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            problems.append(f"Tags.member.{n}: a key has 1 to {MAX_TAG_KEY} characters, a value at most "
                            f"{MAX_TAG_VALUE}")
        elif key.lower() in {t.lower() for t in tags}:
            problems.append("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        else:
            tags[key] = value
    if problems:
        raise _validation(problems)
    return audiences, algorithm, duration, tags


def _get_web_identity_token(state, req, entry, now):
    headers = _headers(req)
    if req.method not in ("POST", "GET"):
        raise StsError(405, "InvalidAction", f"STS does not answer {req.method}")
    params = _params(req, headers)
    action = params.get("Action")
    entry["action"] = action[:64] if action is not None else None
    creds, region = verify_sigv4(state, req, headers, now)
    entry["arn"] = creds.assumed_arn
    if action is None:
        raise StsError(400, "MissingAction", "Missing Action")
    if action != ACTION or params.get("Version") != VERSION:
        raise StsError(400, "InvalidAction", f"Could not find operation {action[:64]} for version "
                                             f"{(params.get('Version') or 'NO_VERSION_SPECIFIED')[:20]} "
                                             f"(the emulator's STS implements {ACTION} {VERSION} only)")
    audiences, algorithm, duration, tags = _request(params)
    entry.update(audience=audiences, signingAlgorithm=algorithm, durationSeconds=duration)
    issuer = state.aws_outbound.of_account(creds.account)
    if issuer is None:
        raise StsError(403, "OutboundWebIdentityFederationDisabledException",
                       "The outbound web identity federation feature is not enabled for this account.")
    if now + duration > creds.expires:
        raise StsError(403, "SessionDurationEscalationException",
                       "The requested token duration would extend the session beyond its original expiration time.")
    iat = int(now)
    aws_claims = {"aws_account": creds.account, "source_region": region}
    if tags:
        aws_claims["request_tags"] = tags
    claims = {"iss": issuer.url, "aud": audiences[0] if len(audiences) == 1 else audiences, "sub": creds.role_arn,
              "iat": iat, "exp": iat + duration, "jti": str(uuid.uuid4()), CLAIMS_NAMESPACE: aws_claims}
    return issuer.sign(claims, algorithm), claims["exp"]


def handle(state, req):
    """POST /_emulator/sts[/]: STS's awsQuery protocol, GetWebIdentityToken only."""
    now = time.time()
    request_id = str(uuid.uuid4())
    entry = {"method": req.method, "path": req.path, "action": None, "status": None, "code": None,
             "arn": None, "audience": None, "signingAlgorithm": None, "durationSeconds": None,
             "requestId": request_id, "time": now}
    try:
        token, expires = _get_web_identity_token(state, req, entry, now)
        body = (f'<{ACTION}Response xmlns="{NAMESPACE}">\n'
                f'  <{ACTION}Result>\n'
                f'    <WebIdentityToken>{token}</WebIdentityToken>\n'
                f'    <Expiration>{iso8601(expires)}</Expiration>\n'
                f'  </{ACTION}Result>\n'
                f'  <ResponseMetadata>\n'
                f'    <RequestId>{request_id}</RequestId>\n'
                f'  </ResponseMetadata>\n'
                f'</{ACTION}Response>\n')
        resp = Response(200, body, "text/xml", headers={"x-amzn-RequestId": request_id})
    except StsError as e:
        resp = e.response(request_id)
        entry["code"] = e.code
    entry["status"] = resp.status
    state.sts_log.add(entry)
    return resp
