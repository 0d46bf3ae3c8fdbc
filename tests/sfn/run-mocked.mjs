// Runs one mocked test case of statemachine/mock-config.json on aws-local-stepfunctions, an
// interpreter written apart from moto's, and prints how it ended as one JSON line:
// {"status", "error", "cause", "output", "states": [entered state names], "events": [AWS event types]}.
//
// Mocked responses are chosen as Step Functions Local chooses them (AWS developer guide,
// "Configuration file for mocked service integrations"): ONE counter per Task state per execution,
// advanced on every invocation (retries, Map iterations and re-entries all count); a number with no
// response fails the execution with States.Runtime, which no Catch sees.
//
// Usage: node run-mocked.mjs <definition.json with ${...} filled> <mock-config.json> <state machine> <case> <input JSON>
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

const [definitionPath, mocksPath, machineName, caseName, inputText] = process.argv.slice(2);
const definition = JSON.parse(readFileSync(definitionPath, 'utf8'));
const mocks = JSON.parse(readFileSync(mocksPath, 'utf8'));
const testCase = mocks.StateMachines?.[machineName]?.TestCases?.[caseName];
if (!testCase) {
  console.error(`no test case ${caseName} for state machine ${machineName} in ${mocksPath}`);
  process.exit(2);
}

// "0", "1-2": zero-based invocation numbers, as Step Functions Local reads the keys.
function responseFor(responseName, n) {
  const responses = mocks.MockedResponses[responseName];
  if (!responses) return undefined;
  for (const [key, model] of Object.entries(responses)) {
    const [low, high] = key.split('-').map(Number);
    if (n >= low && n <= (high ?? low)) return model;
  }
  return undefined;
}

// Every Task state of the definition, Map iterators included, with its type for the event names.
const stateTypes = {};
(function collect(states) {
  for (const [name, state] of Object.entries(states)) {
    stateTypes[name] = state.Type;
    const inner = state.Iterator ?? state.ItemProcessor;
    if (inner) collect(inner.States);
    for (const branch of state.Branches ?? []) collect(branch.States);
  }
})(definition.States);

const events = [];
const states = [];
let runtimeFailure = null;
let execution;
const counters = {};
const handlers = {};
const noWait = {};
const noRetryPause = {};
for (const [name, type] of Object.entries(stateTypes)) {
  if (type === 'Wait') noWait[name] = 0;
  if (type !== 'Task') continue;
  noRetryPause[name] = 0;
  handlers[name] = async () => {
    const n = counters[name] ?? 0;
    counters[name] = n + 1;
    events.push('TaskScheduled', 'TaskStarted');
    const responseName = testCase[name];
    const model = responseName === undefined ? undefined : responseFor(responseName, n);
    if (!model) {
      runtimeFailure = {
        Error: 'States.Runtime',
        Cause: `no mocked response ${n} of ${responseName ?? '(none)'} for state ${name} in test case ${caseName}`,
      };
      events.push('TaskFailed');
      execution.abort();
      throw Object.assign(new Error(runtimeFailure.Cause), { name: 'States.Runtime' });
    }
    if (model.Throw) {
      events.push('TaskFailed');
      throw Object.assign(new Error(model.Throw.Cause), { name: model.Throw.Error });
    }
    events.push('TaskSucceeded');
    return model.Return;
  };
}

const input = JSON.parse(inputText);
const executionArn = `arn:aws:states:us-east-1:123456789012:execution:${machineName}:${caseName}`;
const machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: noWait, retryIntervalOverrides: noRetryPause },
  noThrowOnAbort: true,
  context: {
    Execution: { Id: executionArn, Name: caseName, Input: input, StartTime: new Date().toISOString() },
    StateMachine: { Id: `arn:aws:states:us-east-1:123456789012:stateMachine:${machineName}`, Name: machineName },
  },
});

const eventNames = {
  StateEntered: (e) => `${e.state.type}StateEntered`,
  StateExited: (e) => `${e.state.type}StateExited`,
};
let executionFailed = null;
const logging = (async () => {
  for await (const e of execution.eventLogs) {
    if (e.type === 'ExecutionFailed') executionFailed = { Error: e.Error, Cause: e.Cause };
    if (e.type === 'StateEntered') states.push(e.state.name);
    const name = eventNames[e.type]?.(e) ?? e.type;
    // The Task events come from the handlers, in the order they ran.
    if (!['StateFailed', 'StateRetried', 'StateCaught'].includes(name)) events.push(name);
  }
})();

let report;
try {
  const output = await execution.result;
  report = runtimeFailure
    ? { status: 'FAILED', error: runtimeFailure.Error, cause: runtimeFailure.Cause }
    : { status: 'SUCCEEDED', output };
} catch (e) {
  report = { status: 'FAILED', thrown: e };
}
await Promise.race([logging, new Promise((r) => setTimeout(r, 1000))]);
if (report.thrown) {
  // The ExecutionFailed event names the error as a Fail state or an uncaught task error set it.
  const e = report.thrown;
  const error = runtimeFailure ?? executionFailed ?? { Error: 'States.Runtime', Cause: String(e?.message ?? e) };
  report = { status: 'FAILED', error: error.Error, cause: typeof error.Cause === 'string' ? error.Cause : JSON.stringify(error.Cause) };
}
console.log(JSON.stringify({ ...report, states, events }));
