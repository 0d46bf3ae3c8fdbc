"""A Snowflake SQL API v2 emulator for local tests: real verification of key-pair JWTs, programmatic
access tokens, AWS workload identity and External OAuth, real SQL on embedded DuckDB, emulated
warehouses, asynchronous execution, cancel, timeouts and fault injection.

Run it with `python -m snowflake_emulator --host 127.0.0.1 --port 0`; see README.md.
"""

from .emulator import Emulator
from .server import make_server

__all__ = ["Emulator", "make_server"]
