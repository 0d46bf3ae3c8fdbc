"""Step Functions Local's mocked service integrations on moto's ASL interpreter: moto 5.2.5 ports
the mock model but never loads a config. With this, StartExecution on `<stateMachineArn>#<TestCase>`
runs that test case from the mock config file (Step Functions Local's format), and StartExecution
without a name gets a fresh one (moto names them "None")."""
import json
import threading
import uuid

_tls = threading.local()


def install(path: str) -> None:
    from moto.stepfunctions.parser.api import InvalidName
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
        return mc.MockTestCase(state_machine, name, states)

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
