"""Tasks: CREATE / ALTER / DROP TASK and EXECUTE TASK [RETRY LAST].

A task is created suspended, like in Snowflake. There is no scheduler: SCHEDULE is stored, and
runs happen only through EXECUTE TASK, which answers at once and runs the task's statement in a
background thread, in a session of its own (user SYSTEM, the owner's role, the task's database,
schema and warehouse; no warehouse = serverless, no warehouse needed). Each run is recorded:
SCHEDULED -> EXECUTING -> SUCCEEDED | FAILED (| SKIPPED when a WHEN condition is false).

EXECUTE TASK runs a standalone task or the root of a task graph; after a successful run, child
tasks (AFTER ...) that are resumed run once all their predecessors in that graph run succeeded.
RETRY LAST re-runs the failed tasks of the root's last graph run, then continues downstream.
"""

import itertools
import sys
import threading
import time
import traceback
import uuid

from .errors import Canceled, SnowflakeError, timeout_error
from .objects import body_after, display, does_not_exist, key, option_value, parse_name, qualify, skip_parens
from .registry import ObjectRegistry
from .results import Result
from .session import ExecContext
from .sqltext import TokenStream

_graph_ids = itertools.count(1)


class Run:
    def __init__(self, graph_run, attempt, scheduled_from="EXECUTE TASK", run_id=None, root_id=None):
        self.graph_run = graph_run
        self.attempt = attempt
        self.state = "SCHEDULED"
        self.scheduled = time.time()
        self.started = None
        self.completed = None
        self.error = None
        self.error_code = None
        # For INFORMATION_SCHEMA.TASK_HISTORY: QUERY_ID is set when the run starts (Snowflake: "only
        # populated when the task run begins"); SCHEDULED_FROM is EXECUTE TASK or RETRY here (no
        # scheduler); RUN_ID is the root run's original scheduled time in epoch milliseconds.
        self.query_id = None
        self.query_text = None
        self.condition = None
        self.scheduled_from = scheduled_from
        self.run_id = run_id if run_id is not None else int(self.scheduled * 1000)
        self.root_id = root_id

    def describe(self):
        return {"state": self.state, "scheduled": self.scheduled, "started": self.started,
                "completed": self.completed, "error": self.error, "error_code": self.error_code,
                "graph_run": self.graph_run, "attempt": self.attempt}


class GraphRun:
    def __init__(self, attempt=1, carried=(), scheduled_from="EXECUTE TASK", run_id=None, root_id=None):
        self.id = next(_graph_ids)
        self.scheduled_from = scheduled_from
        self.run_id = run_id if run_id is not None else int(time.time() * 1000)
        self.root_id = root_id
        self.attempt = attempt
        self.runs = {}                  # task key -> Run
        self.carried = set(carried)     # keys that succeeded in the run being retried
        self.done = False

    def failed(self):
        return any(r.state == "FAILED" for r in self.runs.values())

    def succeeded(self):
        return {k for k, r in self.runs.items() if r.state == "SUCCEEDED"} | self.carried


class Task:
    def __init__(self, fq, owner, props, predecessors, condition, body):
        self.fq = fq
        self.owner = owner
        self.props = props
        self.warehouse = props.get("WAREHOUSE")
        self.schedule = props.get("SCHEDULE")
        self.predecessors = predecessors  # [(key, display name)]
        self.condition = condition
        self.body = body
        self.state = "suspended"
        self.id = str(uuid.uuid4())     # SHOW TASKS' id; TASK_HISTORY's ROOT_TASK_ID
        self.runs = []
        self.last_graph = None
        self.created = time.time()

    def describe(self):
        return {"name": ".".join(self.fq), "state": self.state, "warehouse": self.warehouse,
                "schedule": self.schedule, "predecessors": [name for _, name in self.predecessors],
                "condition": self.condition, "definition": self.body, "runs": [r.describe() for r in self.runs]}


def _parse_options(session, ts, stop_at_as):
    """Task options: KEY = value, AFTER a, b, WHEN <condition>, TAG (..), COPY GRANTS; up to AS."""
    props, after, condition = {}, None, None
    while True:
        tok = ts.peek()
        if tok is None:
            if stop_at_as:
                raise SnowflakeError.syntax("unexpected '<EOF>'.")
            return props, after, condition, None
        if stop_at_as and tok.is_word("AS"):
            return props, after, condition, ts.next()
        if tok.is_op(","):
            ts.next()
        elif ts.accept("AFTER"):
            after = [parse_name(ts)]
            while ts.accept_op(","):
                after.append(parse_name(ts))
        elif ts.accept("WHEN"):
            start, depth = ts.peek(), 0
            if start is None:
                raise SnowflakeError.syntax("unexpected '<EOF>'.")
            while ts.peek() is not None and not (depth == 0 and ts.peek().is_word("AS")):
                t = ts.next()
                depth += 1 if t.is_op("(") else -1 if t.is_op(")") else 0
            end = ts.peek()
            condition = session.text[start.pos:end.pos if end is not None else len(session.text)].strip()
        elif ts.accept("COPY", "GRANTS"):
            pass
        elif ts.accept("WITH", "TAG") or ts.accept("TAG"):
            if not skip_parens(ts):
                raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        elif tok.kind == "word" and ts.peek(1) is not None and ts.peek(1).is_op("="):
            ts.next()
            ts.next()
            props[tok.upper] = option_value(ts)
        else:
            raise SnowflakeError.syntax(f"unexpected '{tok.text}'.")


class Tasks(ObjectRegistry):
    KIND, NOUN, KEYWORDS = "TASK", "Task", ("TASK",)

    def __init__(self, engine):
        super().__init__(engine)
        self._running = set()       # ExecContexts of runs in progress
        self._closed = False

    # ---- used by the engine and the admin API
    def history(self):
        """[(task fq, Run)] of every task's runs, for INFORMATION_SCHEMA.TASK_HISTORY."""
        with self._lock:
            return [(t.fq, r) for _, t in sorted(self._objects.items()) for r in t.runs]

    def close(self):
        with self._lock:
            self._closed = True
            running = list(self._running)
        for ctx in running:
            ctx.cancel()

    # ---- CREATE [OR REPLACE] TASK [IF NOT EXISTS] name options [AFTER ..] [WHEN ..] AS statement
    def create(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("CREATE")
        replace = ts.accept("OR", "REPLACE")
        ts.accept("TASK")
        if_not_exists = ts.accept("IF", "NOT", "EXISTS")
        parts = parse_name(ts)
        props, after, condition, as_tok = _parse_options(session, ts, stop_at_as=True)
        body = body_after(session, as_tok)
        if not body:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        fq = qualify(session, parts, "CREATE TASK")
        self._check_schema(fq)
        if props.get("WAREHOUSE") is not None:
            self._check_warehouse(props["WAREHOUSE"])
        predecessors = self._resolve(session, after or [])
        k = key(fq)
        with self._lock:  # check and insert at once; tasks have their own names, so no other lookup runs
            answer = self._create_conflict(self._objects.get(k), fq, parts, replace, if_not_exists)
            if answer is not None:
                return answer
            self._objects[k] = Task(fq, session.role, props, predecessors, condition, body)
        return Result.status(f"Task {parts[-1]} successfully created.")

    def _resolve(self, session, names):
        out = []
        for parts in names:
            fq = qualify(session, parts, "CREATE TASK")
            if self.get(key(fq)) is None:
                raise does_not_exist("Task", parts)
            out.append((key(fq), ".".join(fq)))
        return out

    # ---- ALTER TASK [IF EXISTS] name RESUME | SUSPEND | SET .. | UNSET .. | MODIFY AS .. | ADD/REMOVE AFTER ..
    def alter(self, session, sig, ctx):
        ts, if_exists, parts, verb, fq, task = self._alter_target(session, sig)
        if task is None:
            self._missing(fq, parts, if_exists)
            return Result.status("Statement executed successfully.")
        if verb in ("RESUME", "SUSPEND"):
            if not ts.at_end():
                raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
            with self._lock:
                task.state = "started" if verb == "RESUME" else "suspended"
        elif verb == "SET":
            props, _, _, _ = _parse_options(session, ts, stop_at_as=False)
            if props.get("WAREHOUSE") is not None:
                self._check_warehouse(props["WAREHOUSE"])
            with self._lock:
                task.props.update(props)
                task.warehouse = task.props.get("WAREHOUSE")
                task.schedule = task.props.get("SCHEDULE")
        elif verb == "UNSET":
            names = []
            while not ts.at_end():
                tok = ts.next()
                if tok.kind == "word":
                    names.append(tok.upper)
            with self._lock:
                for name in names:
                    task.props.pop(name, None)
                task.warehouse = task.props.get("WAREHOUSE")
                task.schedule = task.props.get("SCHEDULE")
        elif verb == "MODIFY" and ts.accept("AS"):
            body = body_after(session, ts.toks[ts.pos - 1])
            if not body:
                raise SnowflakeError.syntax("unexpected '<EOF>'.")
            with self._lock:
                task.body = body
        elif verb in ("ADD", "REMOVE") and ts.accept("AFTER"):
            names = [parse_name(ts)]
            while ts.accept_op(","):
                names.append(parse_name(ts))
            resolved = self._resolve(session, names)
            with self._lock:
                keys = [k for k, _ in task.predecessors]
                if verb == "ADD":
                    task.predecessors += [p for p in resolved if p[0] not in keys]
                else:
                    gone = {k for k, _ in resolved}
                    task.predecessors = [p for p in task.predecessors if p[0] not in gone]
        else:
            raise SnowflakeError.unsupported(f"ALTER TASK {verb}")
        return Result.status("Statement executed successfully.")

    # ---- DROP TASK [IF EXISTS] name: registry.py

    # ---- EXECUTE TASK name [RETRY LAST] [USING CONFIG = '..']
    # Snowflake, EXECUTE TASK: "Manually triggers an asynchronous single run of a task"; its syntax
    # has no AWAIT, so `EXECUTE TASK t AWAIT` stays a syntax error here. Callers follow the run in
    # INFORMATION_SCHEMA.TASK_HISTORY (monitoring.py).
    def execute(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("EXECUTE", "TASK")
        parts = parse_name(ts)
        retry = ts.accept("RETRY", "LAST")
        if not retry and ts.accept("USING", "CONFIG"):
            if not ts.accept_op("="):
                raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
            option_value(ts)
        if not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        fq = qualify(session, parts, "EXECUTE TASK")
        root = self.get(key(fq))
        if root is None:
            raise does_not_exist("Task", parts)
        with self._lock:
            if root.predecessors:
                raise SnowflakeError("091322", "22000", f"Cannot execute task '{display(parts)}': EXECUTE TASK only "
                                                        "runs a standalone task or the root task of a task graph.")
            if retry:
                last = root.last_graph
                if last is None or not last.done or not last.failed():
                    raise SnowflakeError("091323", "22000", f"Cannot retry task '{display(parts)}': the last run of "
                                                            "its task graph did not fail.")
                graph = GraphRun(last.attempt + 1, last.succeeded(), "RETRY", last.run_id, last.root_id)
                start = [k for k, r in last.runs.items() if r.state == "FAILED"]
            else:
                graph = GraphRun(root_id=root.id)
                start = [key(fq)]
            if self._closed:
                raise SnowflakeError("000603", "XX000", "SQL execution internal error: the emulator is resetting")
            for k in start:
                self._schedule(graph, k)
            root.last_graph = graph
        threading.Thread(target=self._run_graph, args=(graph, start), daemon=True,
                         name=f"task-{parts[-1][:16]}").start()
        return Result.status("Statement executed successfully.")

    # ---- background runs
    def _schedule(self, graph, k):
        """Record a SCHEDULED run (call with self._lock held)."""
        run = Run(graph.id, graph.attempt, graph.scheduled_from, graph.run_id, graph.root_id)
        graph.runs[k] = run
        task = self._objects.get(k)
        if task is not None:
            task.runs.append(run)
        return run

    def _run_graph(self, graph, queue):
        try:
            queue = list(queue)
            while queue:
                k = queue.pop(0)
                self._run_one(k, graph.runs[k])
                with self._lock:
                    if graph.runs[k].state != "SUCCEEDED" or self._closed:
                        continue
                    done = graph.succeeded()
                    for ck, child in sorted(self._objects.items()):
                        preds = [p for p, _ in child.predecessors]
                        if k in preds and child.state == "started" and ck not in graph.runs and \
                                all(p in done for p in preds):
                            self._schedule(graph, ck)
                            queue.append(ck)
        finally:
            with self._lock:
                graph.done = True

    def _run_one(self, k, run):
        ctx = ExecContext()
        with self._lock:
            task = self._objects.get(k)
            if task is None or self._closed:
                run.state, run.completed = "FAILED", time.time()
                run.error = "Task was dropped before it ran." if task is None else "SQL execution canceled"
                return
            self._running.add(ctx)
            run.state, run.started = "EXECUTING", time.time()
            run.query_id, run.query_text, run.condition = str(uuid.uuid4()), task.body, task.condition
            body, condition, props = task.body, task.condition, dict(task.props)
            warehouse, owner = task.warehouse, task.owner
        timer, timeout = None, None
        if str(props.get("USER_TASK_TIMEOUT_MS", "")).isdigit():
            timeout = int(props["USER_TASK_TIMEOUT_MS"]) / 1000.0
            timer = threading.Timer(timeout, ctx.cancel)
            timer.daemon = True
            timer.start()
        state, error = "SUCCEEDED", None
        try:
            common = dict(user="SYSTEM", role=owner, database=task.fq[0], schema=task.fq[1], warehouse=warehouse,
                          timezone=props.get("TIMEZONE"), ctx=ctx, require_warehouse=warehouse is not None)
            if condition is not None:
                outcome = self._engine.execute(f"SELECT ({condition})", **common)
                rows = outcome.results[-1][1].rows
                if not (rows and rows[0] and rows[0][0]):
                    state = "SKIPPED"
            if state == "SUCCEEDED":
                self._engine.execute(body, **common)
        except SnowflakeError as e:
            state, error = "FAILED", e
        except Canceled:
            state = "FAILED"
            error = timeout_error(int(timeout)) if timeout and not self._closed else \
                SnowflakeError("000604", "57014", "SQL execution canceled")
        except Exception as e:  # an emulator bug: record it like an internal error
            traceback.print_exc(file=sys.stderr)
            state, error = "FAILED", SnowflakeError("000603", "XX000", f"SQL execution internal error: {e}")
        finally:
            if timer is not None:
                timer.cancel()
            ctx.finished.set()
        with self._lock:
            self._running.discard(ctx)
            run.state, run.completed = state, time.time()
            if error is not None:
                run.error, run.error_code = error.message, error.code
