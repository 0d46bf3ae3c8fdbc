"""Workload identity federation with AWS: the emulator plays STS for it.

A client proves it holds an IAM role's credentials by signing (SigV4) an STS GetCallerIdentity
request it never sends; Snowflake sends that request to STS and gets the caller's ARN back. Here
POST /_emulator/aws/credentials mints role session credentials, and the verifier does what STS and
Snowflake would: it checks the request is a GetCallerIdentity for an STS host only (Snowflake must
never forward an attestation elsewhere), signed for the Snowflake audience, recent, with known and
current credentials, then recomputes the signature. The caller is the role's assumed-role ARN, and
the user is the one that trusts that role.

Errors: 390191 (the attestation is invalid) and 390192 (no user trusts the verified identity) are
codes the emulator invented. Reasons never show the signature, secret or session token.
"""

import base64
import binascii
import calendar
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from .principals import AuthError, Principal, iso8601

AUDIENCE = "snowflakecomputing.com"
ALGORITHM = "AWS4-HMAC-SHA256"
QUERY = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]
MAX_AGE_SECONDS = 15 * 60     # STS: "Signature expired" beyond this
MAX_SKEW_SECONDS = 5 * 60     # ... and "Signature not yet current" this far ahead
DEFAULT_DURATION = 3600
MAX_DURATION = 43200
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
REQUIRED_SIGNED = ("host", "x-amz-date", "x-snowflake-audience")

_NAME = r"[A-Za-z0-9_+=,.@-]"
ROLE_ARN = re.compile(rf"arn:(aws|aws-cn|aws-us-gov):iam::(\d{{12}}):role/((?:{_NAME}+/)*)({_NAME}{{1,64}})")
ASSUMED_ROLE_ARN = re.compile(rf"arn:(aws|aws-cn|aws-us-gov):sts::(\d{{12}}):assumed-role/({_NAME}{{1,64}})/({_NAME}{{2,64}})")
SESSION_NAME = re.compile(rf"{_NAME}{{2,64}}")
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
_REGIONAL_HOST = re.compile(rf"sts\.({_REGION})\.amazonaws\.com(\.cn)?")
GLOBAL_HOST = "sts.amazonaws.com"

# What STS itself answers; the emulator shows them as reasons.
TOKEN_INVALID = "The security token included in the request is invalid"
TOKEN_EXPIRED = "The security token included in the request is expired"
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                      "Check your AWS Secret Access Key and signing method.")


def invalid(reason):
    return AuthError("390191", f"Workload identity federation attestation is invalid. [{reason}]")


def partition_of(region):
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def sts_region(host):
    """The signing region of an STS endpoint host, or None when host is not one."""
    if host == GLOBAL_HOST:
        return "us-east-1"
    m = _REGIONAL_HOST.fullmatch(host)
    if not m or bool(m.group(2)) != m.group(1).startswith("cn-"):
        return None
    return m.group(1)


# ---------------------------------------------------------------- trusted identities (user side)

def trusted_identity(value):
    """A user's workload identity, validated: {"type": "AWS", "arn": role or assumed-role ARN}."""
    if not isinstance(value, dict):
        raise ValueError("a workload identity is an object {\"type\": \"AWS\", \"arn\": ...}")
    kind, arn = value.get("type"), value.get("arn")
    if not isinstance(kind, str) or kind.upper() != "AWS":
        raise ValueError("only workload identities of type AWS are emulated")
    if not isinstance(arn, str) or not (ROLE_ARN.fullmatch(arn) or ASSUMED_ROLE_ARN.fullmatch(arn)):
        raise ValueError("'arn' must be an IAM role ARN (arn:aws:iam::123456789012:role/NAME) or an "
                         "assumed-role ARN (arn:aws:sts::123456789012:assumed-role/NAME/SESSION)")
    return {"type": "AWS", "arn": arn}


# ---------------------------------------------------------------- the emulator's STS

@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float
    partition: str
    account: str
    role_name: str
    assumed_arn: str

    def trusted_by(self, identity):
        """Whether a registered identity names this caller: its role (whatever the role's path, which
        GetCallerIdentity does not reveal) or exactly this assumed-role session."""
        m = ROLE_ARN.fullmatch(identity["arn"])
        if m:
            return (m.group(1), m.group(2), m.group(4)) == (self.partition, self.account, self.role_name)
        return identity["arn"] == self.assumed_arn


def _random(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


class Sts:
    """Session credentials minted by POST /_emulator/aws/credentials (AssumeRole without the call)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_key = {}

    def mint(self, body):
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        role_arn = body.get("roleArn")
        m = ROLE_ARN.fullmatch(role_arn) if isinstance(role_arn, str) else None
        if not m:
            raise ValueError("'roleArn' must be an IAM role ARN: arn:aws:iam::123456789012:role/[path/]NAME")
        session = body.get("sessionName")
        session = f"emulator-{secrets.token_hex(6)}" if session is None else session
        if not isinstance(session, str) or not SESSION_NAME.fullmatch(session):
            raise ValueError("'sessionName' must be 2 to 64 characters of [A-Za-z0-9_+=,.@-]")
        duration = body.get("durationSeconds", DEFAULT_DURATION)
        # Below STS's 900 s minimum is allowed, so tests can make credentials that expire at once.
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 <= duration <= MAX_DURATION:
            raise ValueError(f"'durationSeconds' must be a number of seconds from 0 to {MAX_DURATION}")
        partition, account, name = m.group(1), m.group(2), m.group(4)
        creds = Credentials(
            access_key_id="ASIA" + _random(string.ascii_uppercase + string.digits, 16),
            secret_access_key=_random(string.ascii_letters + string.digits + "/+", 40),
            session_token=base64.b64encode(secrets.token_bytes(240)).decode(),
            expires=time.time() + duration, partition=partition, account=account, role_name=name,
            assumed_arn=f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}")
        with self._lock:
            self._by_key[creds.access_key_id] = creds
        return {"accessKeyId": creds.access_key_id, "secretAccessKey": creds.secret_access_key,
                "sessionToken": creds.session_token, "expiration": iso8601(creds.expires),
                "arn": creds.assumed_arn}

    def get(self, access_key_id):
        with self._lock:
            return self._by_key.get(access_key_id)


# ---------------------------------------------------------------- SigV4

def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_query(params):
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def sigv4_signature(secret_key, method, path, params, headers, signed_headers, amz_date, scope):
    """Hex SigV4 signature. headers: lowercase name -> value; scope: DATE/REGION/SERVICE/aws4_request."""
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed_headers)
    canonical_request = "\n".join([method, path, canonical_query(params), canonical_headers,
                                   ";".join(signed_headers), EMPTY_SHA256])
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    date, region, service, terminator = scope.split("/")
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _authorization(value):
    """(credential, signed headers, signature) of an 'AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..'."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise invalid(f"Authorization must use {ALGORITHM}")
    parts = {}
    for item in rest.split(","):
        name, eq, val = item.strip().partition("=")
        if not eq or name in parts:
            raise invalid("Authorization header is malformed")
        parts[name] = val.strip()
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise invalid("Authorization header must have exactly Credential, SignedHeaders and Signature")
    if not re.fullmatch(r"[0-9a-f]{64}", parts["Signature"]):
        raise invalid("Authorization Signature must be 64 lowercase hex digits")
    return parts["Credential"], parts["SignedHeaders"], parts["Signature"]


# ---------------------------------------------------------------- verification

def _decode(attestation):
    try:
        doc = json.loads(base64.b64decode(attestation, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError):
        raise invalid("attestation is not standard base64 of a JSON object")
    if not isinstance(doc, dict) or not isinstance(doc.get("url"), str) or not isinstance(doc.get("method"), str) \
            or not isinstance(doc.get("headers"), dict):
        raise invalid("attestation must be a JSON object with 'url', 'method' and 'headers'")
    if doc.get("body"):
        raise invalid("a GetCallerIdentity attestation has an empty body")
    headers = {}
    for name, value in doc["headers"].items():
        if not isinstance(value, str):
            raise invalid(f"header {name!r} must be a string")
        if name.lower() in headers:
            raise invalid(f"header {name!r} appears more than once")
        headers[name.lower()] = value
    return doc["url"], doc["method"], headers


def verify_attestation(attestation, sts, now=None):
    """The verified caller's Credentials (the role session the attestation was signed with)."""
    now = time.time() if now is None else now
    url, method, headers = _decode(attestation)
    if method != "POST":
        raise invalid(f"method must be POST, not {method!r}")
    parts = urlsplit(url)
    host = parts.netloc
    region = sts_region(host)
    if parts.scheme != "https" or region is None:
        raise invalid(f"url must be https://sts.amazonaws.com or https://sts.<region>.amazonaws.com[.cn]: "
                      f"not an STS endpoint: {parts.scheme}://{host}")
    try:
        params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        params = None
    if parts.path != "/" or parts.fragment or params is None or sorted(params) != QUERY:
        raise invalid("url must be /?Action=GetCallerIdentity&Version=2011-06-15")
    if headers.get("host", "").lower() != host:
        raise invalid("Host header must equal the url's host")
    if "x-snowflake-audience" not in headers:
        raise invalid("X-Snowflake-Audience header is missing")
    if headers["x-snowflake-audience"] != AUDIENCE:
        raise invalid(f"X-Snowflake-Audience must be {AUDIENCE}, not {headers['x-snowflake-audience']!r}")
    if "authorization" not in headers:
        raise invalid("Authorization header is missing")
    credential, signed, signature = _authorization(headers["authorization"])
    signed_headers = signed.split(";")
    if signed_headers != sorted(set(signed_headers)) or any(h != h.lower() for h in signed_headers):
        raise invalid("SignedHeaders must be lowercase, sorted and unique")
    for name in REQUIRED_SIGNED:
        if name not in signed_headers:
            raise invalid(f"{name} must be a signed header")
    missing = [h for h in signed_headers if h not in headers or h == "authorization"]
    if missing:
        raise invalid(f"signed header {missing[0]} is not in the request")
    scope_parts = credential.split("/")
    if len(scope_parts) != 5 or scope_parts[4] != "aws4_request":
        raise invalid("Credential must be ACCESS_KEY/YYYYMMDD/REGION/sts/aws4_request")
    access_key_id, date, scope_region, service = scope_parts[:4]
    if service != "sts":
        raise invalid(f"credential scope service must be sts, not {service!r}")
    if scope_region != region:
        raise invalid(f"credential scope region {scope_region!r} does not match the host's region {region!r}")
    amz_date = headers.get("x-amz-date", "")
    try:
        if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            raise ValueError
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise invalid("X-Amz-Date must be YYYYMMDDTHHMMSSZ")
    if date != amz_date[:8]:
        raise invalid("credential scope date does not match X-Amz-Date")
    if signed_at < now - MAX_AGE_SECONDS:
        raise invalid(f"Signature expired: X-Amz-Date {amz_date} is more than 15 minutes old")
    if signed_at > now + MAX_SKEW_SECONDS:
        raise invalid(f"Signature not yet current: X-Amz-Date {amz_date} is more than 5 minutes ahead")
    creds = sts.get(access_key_id)
    if creds is None or creds.partition != partition_of(region):
        raise invalid(TOKEN_INVALID)
    if not hmac.compare_digest(headers.get("x-amz-security-token", "").encode(), creds.session_token.encode()):
        raise invalid(TOKEN_INVALID)
    if now >= creds.expires:
        raise invalid(TOKEN_EXPIRED)
    expected = sigv4_signature(creds.secret_access_key, "POST", "/", params, headers, signed_headers,
                               amz_date, "/".join(scope_parts[1:]))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise invalid(SIGNATURE_MISMATCH)
    return creds


def verify_wif(token, state, now=None):
    """Bearer WIF.AWS.<attestation> (token type WORKLOAD_IDENTITY_FEDERATION) -> Principal."""
    prefix, _, rest = token.partition(".")
    provider, _, attestation = rest.partition(".")
    if prefix != "WIF" or not provider or not attestation:
        raise invalid("token must be WIF.<provider>.<attestation>")
    if provider != "AWS":
        raise invalid(f"provider {provider!r} is not emulated: only AWS")
    creds = verify_attestation(attestation, state.aws, now)
    user = state.users.find_by_workload_identity(creds.trusted_by)
    if user is None:
        raise AuthError("390192", "Unable to find an associated Snowflake user for the verified AWS Caller "
                                  f"Identity with ARN '{creds.assumed_arn}'")
    return Principal(user.account, user.name, user.default_role)

