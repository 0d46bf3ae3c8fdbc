"""Step Functions Local's mocked service integrations on moto's ASL interpreter: moto 5.2.5 ports
the mock model but never loads a config. With this, StartExecution on `<stateMachineArn>#<TestCase>`
runs that test case from the mock config file (Step Functions Local's format), and StartExecution
without a name gets a fresh one (moto names them "None").

Responses are chosen as Step Functions Local chooses them, not as moto does: ONE counter per Task
state per execution, advanced on every invocation (retries, Map iterations and re-entries of the
state all count), and a number without a response fails the execution with States.Runtime (AWS
developer guide, "Configuration file for mocked service integrations", and its note on Map states
with MaxConcurrency). moto 5.2.5 indexes by `$$.State.RetryCount` instead, which restarts at 0 on
each entry, so a mock config written for moto alone would pass here and fail on Step Functions Local."""
import json
import threading
import uuid

_tls = threading.local()


def _count_per_state(environment_class) -> None:
    """Replaces moto's choice of response (by retry count) with Step Functions Local's counter."""
    original = environment_class.get_current_mocked_response

    def get_current_mocked_response(self):
        case = self.mock_test_case
        if case is None or not self.is_mocked_mode():
            return original(self)
        state = self.next_state_name
        # Map iterations run on threads and share the execution's test case object.
        with case.postetl_lock:
            n = case.postetl_invocations.get(state, 0)
            case.postetl_invocations[state] = n + 1
        responses = case.state_mocked_responses[state]
        if n >= len(responses.mocked_responses):
            # Not a FailureEvent: moto ends the execution with States.Runtime, as Step Functions
            # Local does for a missing response, and no Catch sees it.
            raise RuntimeError(
                f"no mocked response {n} in {responses.mocked_response_name!r} for state {state!r}"
            )
        return responses.mocked_responses[n]

    environment_class.get_current_mocked_response = get_current_mocked_response


def install(path: str) -> None:
    from moto.stepfunctions.parser.api import InvalidName
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.backend import execution as ex_mod
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.mocking import mock_config as mc
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def test_case(state_machine: str, name: str):
        raw = json.load(open(path))
        machine = raw.get("StateMachines", {}).get(state_machine)
        if machine is None or name not in machine.get("TestCases", {}):
            return None
        states = []
        for state_name, response_name in machine["TestCases"][name].items():
            responses = []
            for attempts, model in raw["MockedResponses"][response_name].items():
                low, high = mc._parse_mocked_response_range(attempts)
                if "Return" in model:
                    responses.append(mc.MockedResponseReturn(low, high, model["Return"]))
                else:
                    responses.append(mc.MockedResponseThrow(low, high, model["Throw"]["Error"], model["Throw"]["Cause"]))
            states.append(mc.StateMockedResponses(state_name, response_name, responses))
        case = mc.MockTestCase(state_machine, name, states)
        case.postetl_lock = threading.Lock()
        case.postetl_invocations = {}
        return case

    _count_per_state(Environment)

    original_worker = ex_mod.Execution._get_start_execution_worker

    def start_worker(self):
        worker = original_worker(self)
        if getattr(_tls, "mock", None) is not None and isinstance(worker, ExecutionWorker):
            worker._mock_test_case = _tls.mock
        return worker

    ex_mod.Execution._get_start_execution_worker = start_worker
    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        name = name or str(uuid.uuid4())
        mock = None
        if "#" in state_machine_arn:
            state_machine_arn, case = state_machine_arn.split("#", 1)
            machine = state_machine_arn.split(":")[6]
            mock = test_case(machine, case)
            if mock is None:
                raise InvalidName(f"Invalid mock test case name '{case}' for state machine '{machine}'.")
        _tls.mock = mock
        try:
            return original_start(self, state_machine_arn, name, execution_input, trace_header)
        finally:
            _tls.mock = None

    StepFunctionsParserBackend.start_execution = start_execution
