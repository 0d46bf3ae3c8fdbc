"""Submitted statements: handles, worker threads, cancel and timeout, requestId de-duplication,
and the execution log (one entry each time a request really runs)."""

import itertools
import sys
import threading
import time
import traceback
import uuid

from .principals import Principal
from .errors import Canceled, SnowflakeError, canceled_error, timeout_error
from .results import Column, Result
from .session import ExecContext

MULTI_TEXT = "Multiple statements executed successfully."


class Statement:
    def __init__(self, *, request_id, text, principal, role, warehouse, database, schema, query_tag,
                 nullable=True, timeout=0, session_id=None):
        self.handle = str(uuid.uuid4())
        self.session_id = session_id      # each SQL API request runs in a session of its own
        self.request_id = request_id
        self.text = text
        self.account = principal.account
        self.user = principal.user
        self.role = role
        self.warehouse = warehouse
        self.database = database
        self.schema = schema
        self.query_tag = query_tag
        self.nullable = nullable
        self.timeout = timeout
        self.created_on = int(time.time() * 1000)
        self.started = time.time()
        self.ended = None
        self.status = "running"           # running | succeeded | failed | canceled
        self.error = None                 # SnowflakeError when failed/canceled
        self.timed_out = False
        self.ctx = ExecContext()
        self.done = threading.Event()
        # Filled on success:
        self.partitions = None            # [[row, ...], ...] of API strings
        self.row_type = None
        self.num_rows = 0
        self.stats = None
        self.child_handles = None         # multi-statement: one handle per statement
        self._lock = threading.Lock()
        self._cancel_reason = None

    def request_cancel(self, reason):
        """reason: 'cancel' or 'timeout'. No effect on a finished statement."""
        with self._lock:
            if self.done.is_set() or self._cancel_reason is not None:
                return
            self._cancel_reason = reason
        self.ctx.cancel()

    def set_result(self, result, partition_rows, child_handles=None):
        rows = result.api_rows(self.nullable)
        size = max(1, partition_rows)
        self.partitions = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
        self.row_type = result.row_type(self.database, self.schema)
        self.num_rows = len(rows)
        self.stats = result.stats
        self.child_handles = child_handles
        self.status = "succeeded"

    def fail(self, error):
        if self._cancel_reason == "timeout":
            self.timed_out = True
            self.error, self.status = timeout_error(self.timeout), "failed"
        elif self._cancel_reason == "cancel" or isinstance(error, Canceled):
            self.error, self.status = canceled_error(), "canceled"
        else:
            self.error, self.status = error, "failed"

    def finish(self):
        self.ended = time.time()
        self.ctx.finished.set()
        self.done.set()

    def log_entry(self):
        return {"requestId": self.request_id, "statementHandle": self.handle, "statement": self.text,
                "account": self.account, "user": self.user, "role": self.role, "warehouse": self.warehouse,
                "database": self.database, "schema": self.schema, "query_tag": self.query_tag,
                "status": self.status, "started": self.started, "ended": self.ended,
                "errorCode": self.error.code if self.error else None}


class Registry:
    def __init__(self, engine, config):
        self._engine = engine
        self._config = config
        self._lock = threading.Lock()
        self._by_handle = {}
        self._by_request_id = {}
        self._executions = []
        self._sessions = itertools.count(1)

    def get(self, handle):
        with self._lock:
            return self._by_handle.get(handle)

    def by_request_id(self, request_id):
        with self._lock:
            return self._by_request_id.get(request_id)

    def executions(self):
        with self._lock:
            return [s.log_entry() for s in self._executions]

    def statements(self, account=None):
        """The requests that really ran (the execution log's statements), of one account or all."""
        with self._lock:
            return [s for s in self._executions if account is None or s.account == account]

    def running(self, account, handle):
        """The statement with this handle if it is still running (account None: any account)."""
        with self._lock:
            stmt = self._by_handle.get(handle.strip().lower())
        if stmt is None or stmt.done.is_set() or (account is not None and stmt.account != account):
            return None
        return stmt

    def submit(self, *, principal, text, request_id, role, warehouse, database, schema, parameters, bindings,
               nullable, timeout, expected_count, hold_seconds=0):
        stmt = Statement(request_id=request_id, text=text, principal=principal, role=role, warehouse=warehouse,
                         database=database, schema=schema, query_tag=parameters.get("QUERY_TAG"),
                         nullable=nullable, timeout=timeout, session_id=next(self._sessions))
        with self._lock:
            self._by_handle[stmt.handle] = stmt
            if request_id:
                self._by_request_id[request_id] = stmt
            self._executions.append(stmt)
        args = dict(user=principal.user, role=role, database=database, schema=schema, warehouse=warehouse,
                    timezone=parameters.get("TIMEZONE"), bindings=bindings, expected_count=expected_count,
                    account=principal.account, query_id=stmt.handle)
        threading.Thread(target=self._work, args=(stmt, args, hold_seconds), daemon=True, name=f"stmt-{stmt.handle[:8]}").start()
        return stmt

    def _work(self, stmt, args, hold_seconds=0):
        timer = None
        if stmt.timeout:
            timer = threading.Timer(stmt.timeout, stmt.request_cancel, ("timeout",))
            timer.daemon = True
            timer.start()
        try:
            stmt.ctx.sleep(hold_seconds)  # a "slow" fault: the statement runs that much longer
            outcome = self._engine.execute(stmt.text, ctx=stmt.ctx, **args)
            ctx = outcome.context
            stmt.warehouse, stmt.database, stmt.schema = ctx["warehouse"], ctx["database"], ctx["schema"]
            partition_rows = self._config.get("partition_rows")
            if outcome.multi:
                children = [self._child(stmt, text, result, partition_rows) for text, result in outcome.results]
                stmt.set_result(Result([Column.text("multiple statement execution")], [(MULTI_TEXT,)]),
                                partition_rows, [c.handle for c in children])
            else:
                stmt.set_result(outcome.results[0][1], partition_rows)
        except (Canceled, SnowflakeError) as e:
            stmt.fail(e)
        except Exception as e:
            if not stmt.ctx.cancel_event.is_set():  # else just an interrupt landing outside a statement
                traceback.print_exc(file=sys.stderr)  # an emulator bug: report it as an internal error
            stmt.fail(SnowflakeError("000603", "XX000", f"SQL execution internal error: {e}"))
        finally:
            if timer is not None:
                timer.cancel()
            stmt.finish()

    def _child(self, parent, text, result, partition_rows):
        child = Statement(request_id=parent.request_id, text=text,
                          principal=Principal(parent.account, parent.user),
                          role=parent.role, warehouse=parent.warehouse, database=parent.database,
                          schema=parent.schema, query_tag=parent.query_tag, nullable=parent.nullable,
                          session_id=parent.session_id)
        child.set_result(result, partition_rows)
        child.finish()
        with self._lock:
            self._by_handle[child.handle] = child
        return child

    def cancel_all(self):
        with self._lock:
            running = [s for s in self._by_handle.values() if not s.done.is_set()]
        for s in running:
            s.request_cancel("cancel")
