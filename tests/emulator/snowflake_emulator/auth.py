"""Authentication of SQL API calls: the X-Snowflake-Authorization-Token-Type header picks the
verifier, each one checks its credential for real and answers a Principal or a 401 AuthError.

| Token type | Module | 401 code |
| KEYPAIR_JWT | keypair.py | 390144 |
| PROGRAMMATIC_ACCESS_TOKEN | pat.py | 394400 (invented) |
| WORKLOAD_IDENTITY_FEDERATION (AWS: signed request or outbound JWT) | wif_aws.py | 390191, 390192 (invented) |
| OAUTH (External OAuth; also when the header is absent) | oauth.py | 390303 |

Without the header the SQL API spec assumes OAUTH (snowflakedb/snowflake-rest-api-specs,
specifications/sqlapi.yaml, parameter X-Snowflake-Authorization-Token-Type: "If not specified,
OAUTH is assumed"), so a key-pair JWT sent without it is checked as an OAuth token and refused.

Any other type answers 390101. Tokens, signatures and secrets are never logged nor echoed.
"""

import re

from . import keypair, oauth, pat, wif_aws
from .principals import AuthError

DEFAULT_TOKEN_TYPE = "OAUTH"
_LOGGABLE_TYPE = re.compile(r"[A-Z0-9_]{1,40}")

# Token type -> (verifier(token, state) -> Principal, invalid(reason) -> AuthError).
AUTHENTICATORS = {
    "KEYPAIR_JWT": (keypair.verify_keypair_jwt, keypair.invalid),
    "PROGRAMMATIC_ACCESS_TOKEN": (pat.verify_pat, pat.invalid),
    "WORKLOAD_IDENTITY_FEDERATION": (wif_aws.verify_wif, wif_aws.invalid),
    "OAUTH": (oauth.verify_oauth, oauth.invalid),
}


def token_type(headers):
    return (headers.get("X-Snowflake-Authorization-Token-Type") or DEFAULT_TOKEN_TYPE).strip().upper()


def loggable_token_type(headers):
    """The token type for the request log; anything not shaped like a type name (a token pasted in
    the wrong header, say) is logged as '<invalid>'."""
    kind = token_type(headers)
    return kind if _LOGGABLE_TYPE.fullmatch(kind) else "<invalid>"


def loggable_wif_form(headers):
    """'signed_request' or 'jwt' for a WORKLOAD_IDENTITY_FEDERATION request's attestation (by its
    shape; None for other token types or when there is no WIF.<provider>.<attestation> bearer)."""
    if token_type(headers) != "WORKLOAD_IDENTITY_FEDERATION":
        return None
    scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
    return wif_aws.attestation_form(token.strip()) if scheme.lower() == "bearer" else None


def authenticate(headers, state):
    kind = token_type(headers)
    if kind not in AUTHENTICATORS:
        raise AuthError("390101", "Authorization token type not supported")
    verify, invalid = AUTHENTICATORS[kind]
    authorization = headers.get("Authorization") or ""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid("missing 'Authorization: Bearer <token>' header")
    return verify(token.strip(), state)
