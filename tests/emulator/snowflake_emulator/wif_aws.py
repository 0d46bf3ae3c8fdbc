"""Workload identity federation with AWS: the emulator plays STS for it. Two forms of `WIF.AWS.<x>`:

- the signed request: a client proves it holds an IAM role's credentials by signing (SigV4) an STS
  GetCallerIdentity request it never sends; Snowflake sends that request to STS and gets the
  caller's ARN back. Here POST /_emulator/aws/credentials mints role session credentials, and the
  verifier does what STS and Snowflake would: it checks the request is a GetCallerIdentity for an
  STS host only (Snowflake must never forward an attestation elsewhere), signed for the Snowflake
  audience, recent, with known and current credentials, then recomputes the signature. The caller
  is the role's assumed-role ARN, and the user is the one that trusts that role (an identity
  without an ISSUER);
- the outbound JWT (aws_outbound.py issues it, like STS GetWebIdentityToken): signed with the key of
  the AWS account's issuer; the user is the one whose identity has that ISSUER and the JWT's
  subject role.

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
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

import jwt

from .principals import AuthError, Principal, iso8601, number_claim

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
REGION = re.compile(_REGION)

# The outbound JWT (GetWebIdentityToken): three base64url segments; the signed request is standard
# base64 and has no dot.
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
JWT_ALGORITHMS = ("ES384", "RS256")
JWT_LEEWAY_SECONDS = 30

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
    """A user's workload identity, validated: {"type": "AWS", "arn": role or assumed-role ARN} plus,
    for the outbound JWT form, "issuer": the AWS account's issuer URL (ISSUER = '...')."""
    if not isinstance(value, dict):
        raise ValueError("a workload identity is an object {\"type\": \"AWS\", \"arn\": ..., \"issuer\"?: ...}")
    kind, arn, issuer = value.get("type"), value.get("arn"), value.get("issuer")
    if not isinstance(kind, str) or kind.upper() != "AWS":
        raise ValueError("only workload identities of type AWS are emulated")
    if not isinstance(arn, str) or not (ROLE_ARN.fullmatch(arn) or ASSUMED_ROLE_ARN.fullmatch(arn)):
        raise ValueError("'arn' must be an IAM role ARN (arn:aws:iam::123456789012:role/NAME) or an "
                         "assumed-role ARN (arn:aws:sts::123456789012:assumed-role/NAME/SESSION)")
    if issuer is None:
        return {"type": "AWS", "arn": arn}
    if not isinstance(issuer, str) or not _https_url(issuer):
        raise ValueError("'issuer' must be an https URL without user info, query or fragment, e.g. "
                         "https://<id>.tokens.sts.global.api.aws")
    if not ROLE_ARN.fullmatch(arn):
        raise ValueError("an identity with an 'issuer' must name an IAM role ARN: the outbound token's "
                         "subject is the role, never an assumed-role session")
    return {"type": "AWS", "arn": arn, "issuer": issuer}


def _https_url(text):
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return (parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc
            and not parts.query and not parts.fragment and not any(c.isspace() for c in text))


def role_matches(identity_arn, partition, account, role_name):
    """Whether a registered role ARN names this role (its path ignored)."""
    m = ROLE_ARN.fullmatch(identity_arn)
    return bool(m) and (m.group(1), m.group(2), m.group(4)) == (partition, account, role_name)


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
    role_arn: str     # as given at mint time, path included: the outbound token's subject

    def trusted_by(self, identity):
        """Whether a registered identity (one without an ISSUER: those accept only the outbound JWT)
        names this caller: its role (whatever the role's path, which GetCallerIdentity does not
        reveal) or exactly this assumed-role session."""
        if identity.get("issuer"):
            return False
        if ROLE_ARN.fullmatch(identity["arn"]):
            return role_matches(identity["arn"], self.partition, self.account, self.role_name)
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
            assumed_arn=f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}", role_arn=role_arn)
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


def sigv4_signature(secret_key, method, path, params, headers, signed_headers, amz_date, scope,
                    payload_hash=EMPTY_SHA256):
    """Hex SigV4 signature. path: the canonical URI; headers: lowercase name -> value; scope:
    DATE/REGION/SERVICE/aws4_request; payload_hash: hex SHA-256 of the body."""
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed_headers)
    canonical_request = "\n".join([method, path, canonical_query(params), canonical_headers,
                                   ";".join(signed_headers), payload_hash])
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    date, region, service, terminator = scope.split("/")
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def parse_authorization(value, fail):
    """(credential, signed headers, signature) of an 'AWS4-HMAC-SHA256 Credential=.., SignedHeaders=..,
    Signature=..'; fail(reason) makes the exception to raise."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise fail(f"Authorization must use {ALGORITHM}")
    parts = {}
    for item in rest.split(","):
        name, eq, val = item.strip().partition("=")
        if not eq or name in parts:
            raise fail("Authorization header is malformed")
        parts[name] = val.strip()
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise fail("Authorization header must have exactly Credential, SignedHeaders and Signature")
    if not re.fullmatch(r"[0-9a-f]{64}", parts["Signature"]):
        raise fail("Authorization Signature must be 64 lowercase hex digits")
    return parts["Credential"], parts["SignedHeaders"], parts["Signature"]


def parse_amz_date(value):
    """Epoch seconds of an X-Amz-Date (YYYYMMDDTHHMMSSZ), or None when malformed."""
    try:
        if not re.fullmatch(r"\d{8}T\d{6}Z", value or ""):
            return None
        return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None


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
    credential, signed, signature = parse_authorization(headers["authorization"], invalid)
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
    signed_at = parse_amz_date(amz_date)
    if signed_at is None:
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


def attestation_form(token):
    """'jwt' or 'signed_request': which form a WIF.<provider>.<attestation> token has (for the request
    log; None when it is not shaped like one)."""
    prefix, _, rest = token.partition(".")
    _, _, attestation = rest.partition(".")
    if prefix != "WIF" or not attestation:
        return None
    return "jwt" if JWT_SHAPE.fullmatch(attestation) else "signed_request"


def _no_user(arn):
    return AuthError("390192", "Unable to find an associated Snowflake user for the verified AWS Caller "
                               f"Identity with ARN '{arn}'")


def verify_wif(token, state, now=None):
    """Bearer WIF.AWS.<attestation> (token type WORKLOAD_IDENTITY_FEDERATION) -> Principal."""
    prefix, _, rest = token.partition(".")
    provider, _, attestation = rest.partition(".")
    if prefix != "WIF" or not provider or not attestation:
        raise invalid("token must be WIF.<provider>.<attestation>")
    if provider != "AWS":
        raise invalid(f"provider {provider!r} is not emulated: only AWS")
    if JWT_SHAPE.fullmatch(attestation):
        return _verify_outbound_jwt(attestation, state, now)
    # Snowflake's SQL API authentication page documents one AWS workload identity credential, the
    # JWT from STS GetWebIdentityToken; the signed GetCallerIdentity request is documented for the
    # drivers' login request only. So it is refused here unless a test opted in.
    if not state.config.get("accept_wif_signed_request"):
        raise invalid("the SQL API takes the AWS web identity token from STS GetWebIdentityToken, "
                      "not a signed GetCallerIdentity request")
    print("emulator: accepting a signed GetCallerIdentity attestation on the SQL API: an unverified "
          "path (Snowflake documents only the GetWebIdentityToken JWT there)", file=sys.stderr)
    creds = verify_attestation(attestation, state.aws, now)
    user = state.users.find_by_workload_identity(creds.trusted_by)
    if user is None:
        raise _no_user(creds.assumed_arn)
    return Principal(user.account, user.name, user.default_role)


# ---------------------------------------------------------------- the outbound JWT (GetWebIdentityToken)

def verify_outbound_jwt(token, outbound, now=None):
    """The verified claims of a JWT issued by an account's outbound identity federation issuer
    (state.aws_outbound): alg ES384 or RS256, a known issuer, its key's signature, the Snowflake
    audience, exp/iat/nbf, and a role ARN as subject."""
    now = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid("the web identity token is not a well-formed JWT")
    alg = header.get("alg")
    if alg not in JWT_ALGORITHMS:
        raise invalid(f"unsupported JWT algorithm {alg!r}, expected ES384 or RS256")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise invalid("missing claim 'iss'")
    issuer = outbound.by_issuer(iss)
    if issuer is None:
        raise invalid(f"issuer {iss!r} is not the issuer of an AWS account with outbound identity federation enabled")
    # Verified as Snowflake would, from the issuer's published JWKS (public keys only): the key
    # whose kid the token names, of the token's algorithm.
    public_key = _published_key(issuer.describe()["jwks"], header.get("kid"), alg)
    try:
        jwt.decode(token, key=public_key, algorithms=[alg],
                   options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
                            "verify_iss": False, "verify_sub": False, "verify_jti": False})
    except jwt.InvalidSignatureError:
        raise invalid("signature verification failed")
    except jwt.PyJWTError as e:
        raise invalid(f"token rejected: {e}")
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if AUDIENCE not in auds:
        raise invalid(f"audience {aud!r} does not contain {AUDIENCE}")
    exp, iat, nbf = (number_claim(claims, "exp", invalid, True), number_claim(claims, "iat", invalid, True),
                     number_claim(claims, "nbf", invalid, False))
    if exp < now - JWT_LEEWAY_SECONDS:
        raise invalid("token expired")
    if iat > now + JWT_LEEWAY_SECONDS:
        raise invalid("token issued in the future (iat)")
    if nbf is not None and nbf > now + JWT_LEEWAY_SECONDS:
        raise invalid("token is not valid yet (nbf)")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not ROLE_ARN.fullmatch(sub):
        raise invalid(f"subject {sub!r} is not an IAM role ARN")
    return claims


def _published_key(jwks, kid, alg):
    """The public key for (kid, alg) in a JWKS document; the token must name its kid."""
    if not isinstance(kid, str) or not kid:
        raise invalid("the web identity token names no key id (kid)")
    try:
        keys = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as e:
        raise invalid(f"the issuer's JWKS cannot be read: {e}")
    for key in keys.keys:
        if key.key_id == kid and key.algorithm_name == alg:
            return key.key
    raise invalid(f"the issuer's JWKS has no {alg} key with kid {kid!r}")


def _verify_outbound_jwt(token, state, now):
    claims = verify_outbound_jwt(token, state.aws_outbound, now)
    iss, sub = claims["iss"], claims["sub"]
    m = ROLE_ARN.fullmatch(sub)
    role = (m.group(1), m.group(2), m.group(4))
    user = state.users.find_by_workload_identity(
        lambda w: w.get("issuer") == iss and role_matches(w["arn"], *role))
    if user is None:
        raise _no_user(sub)
    return Principal(user.account, user.name, user.default_role)
