"""`sam local invoke` on the local stack, emulated as far as it is known without Docker.

What sam does with `--env-vars env.json --parameter-overrides ...` (samcli's EnvironmentVariables): a
function's environment is the variables template.yaml declares for it (Globals and its own), their
values resolved with the parameter overrides (Refs only: sam leaves Fn::If blank) and then replaced by
the file's values for the same names, plus the AWS variables sam sets itself (region, some
credentials, AWS_SAM_LOCAL). Where SAM CLI is installed (.sam-venv), its own code computes that
environment too and must agree. Here that environment is built from the file
`python -m sandbox.invoke --sam-env` writes and the command line it prints, and the function's
handler runs in a fresh Python process with exactly it (the layer and the function's folder on the
path, as /opt/python and /var/task are), so nothing of the test's own process helps. It must answer
as `make invoke` does (tests/e2e/test_invoke.py): proof that the file and the template carry
everything a function needs: the stack's AWS endpoint, its resource names, and the secrets, which
the function loads from the stack's Secrets Manager as a deployed one does.

Not covered: Docker itself (the container's network, `host.docker.internal`, the arm64 image);
the test gives `--docker-host 127.0.0.1`, as `--docker-network host` on Linux would.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sandbox.gateway import LAYER_PATH, REPO_ROOT, TEMPLATE_PATH, functions_from_template, read_template
from sandbox.invoke import (
    answer_status,
    ensure_sample_portal,
    from_stack,
    load_event,
    logical_id,
    publish_secrets,
    sam_command,
    sam_environment,
    sign_event,
    template_secrets_name,
)
from tests.e2e.conftest import LocalStack
from tests.e2e.test_invoke import EXPECTED

pytestmark = pytest.mark.e2e

EVENTS = REPO_ROOT / "events"
#: What sam passes for credentials when the host has none of its own; moto takes any.
SAM_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

#: Runs in the fresh process: loads the handler as the Lambda runtime does and writes its answer to a file
#: (stdout carries the handler's logs, as in Lambda).
RUNNER = """
import importlib, json, sys, time, uuid
code_dir, handler, event_path, answer_path = sys.argv[1:5]
sys.path[:0] = [code_dir]
module_name, _, function_name = handler.rpartition(".")
handler_function = getattr(importlib.import_module(module_name), function_name)

class Context:
    function_name = "hubnox-sam-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-north-1:123456789012:function:hubnox-sam-local"
    memory_limit_in_mb = 512
    aws_request_id = str(uuid.uuid4())
    log_group_name = "aws/lambda/hubnox-sam-local"
    log_stream_name = "$LATEST"
    _deadline = time.monotonic() + 29
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

with open(event_path, encoding="utf-8") as stream:
    event = json.load(stream)
answer = handler_function(event, Context())
with open(answer_path, "w", encoding="utf-8") as stream:
    json.dump(answer, stream)
"""


def sam_value(value: Any, template: Mapping[str, Any], parameters: Mapping[str, str]) -> str:
    """A declared variable's value as sam resolves it before the file's overrides: a Ref to a parameter
    is its override or default, any other Ref the name it refers to, any other intrinsic function
    (Fn::If included: sam leaves it unresolved) the empty string."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            name = value["Ref"]
            declared = template.get("Parameters", {}).get(name, {})
            return str(parameters.get(name, declared.get("Default", name)))
        return ""
    return "true" if value is True else "false" if value is False else str(value)


def sam_function_environment(template: Mapping[str, Any], function: str, env_vars: Mapping[str, Any],
                             parameters: Mapping[str, str], region: str) -> dict[str, str]:
    """The environment `sam local invoke` gives `function` (a logical id): its declared variables,
    resolved with `parameters`, the env-vars file's values for those names ("Parameters" for every
    function, the function's own entry over it), and the AWS variables sam always sets."""
    declared = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    declared.update((template["Resources"][function]["Properties"].get("Environment") or {}).get("Variables") or {})
    overrides = {**(env_vars.get("Parameters") or {}), **(env_vars.get(function) or {})}
    environment = {"AWS_SAM_LOCAL": "true", "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                   "AWS_LAMBDA_FUNCTION_NAME": function, **SAM_CREDENTIALS}
    for name, value in declared.items():
        environment[name] = str(overrides[name]) if name in overrides else sam_value(value, template, parameters)
    return environment


#: SAM CLI, where `make validate` or `make build` installed it (never in the project's .venv).
SAM_PYTHON = REPO_ROOT / ".sam-venv" / "bin" / "python"
SAM_ENVIRONMENT = """
import json, sys
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
template, function, env_file, parameters, region = sys.argv[1:6]
stacks, _ = SamLocalStackProvider.get_stacks(template, parameter_overrides=json.loads(parameters))
provider = SamFunctionProvider(stacks)
with open(env_file, encoding="utf-8") as stream:
    env_vars = json.load(stream)
runner = LocalLambdaRunner(None, provider, ".", ".", aws_region=region, env_vars_values=env_vars)
print(json.dumps(runner._make_env_vars(provider.get(function)).resolve()))
"""


def run_in_fresh_process(function: str, event: Mapping[str, Any], environment: Mapping[str, str],
                         workdir: Path) -> Any:
    """What `function`'s handler answers for `event` in a new process holding only `environment`."""
    spec = next(spec for spec in functions_from_template(read_template(TEMPLATE_PATH)).values()
                if spec.logical_id == function)
    event_path, answer_path = workdir / f"{function}-event.json", workdir / f"{function}-answer.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(spec.code_dir), spec.handler, str(event_path), str(answer_path)],
        env={**environment, "PYTHONPATH": str(LAYER_PATH)}, cwd=workdir, capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 0, f"{function} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(answer_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sam_setup(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The env-vars file as `--sam-env` writes it for the stack (its secrets stored), read back from disk."""
    ensure_sample_portal(from_stack(stack.running))
    environment = stack.environment
    name = publish_secrets(environment, template_secrets_name())
    variables, _ = sam_environment(environment, "127.0.0.1", secrets_name=name)
    workdir = tmp_path_factory.mktemp("sam-local")
    env_file = workdir / "env.json"
    env_file.write_text(json.dumps(variables, indent=2), encoding="utf-8")
    return json.loads(env_file.read_text(encoding="utf-8")), workdir


def sam_invocation(stack: LocalStack, folder: str, event_name: str) -> tuple[str, dict[str, str], str]:
    """The function's logical id, the parameter overrides and the region of the `sam local invoke`
    line `--sam-env` prints: what the user runs."""
    function = logical_id(folder)
    words = shlex.split(sam_command(stack.environment, "127.0.0.1", function=function, event=event_name))
    parameters = dict(word.split("=", 1) for word in words[words.index("--parameter-overrides") + 1:])
    return function, parameters, words[words.index("--region") + 1]


CASES = [("crm_card", "crm_card_fetch.json"), ("worker", "worker_sqs.json")]


@pytest.mark.parametrize(("folder", "event_name"), CASES)
def test_a_function_given_only_what_sam_local_sets_answers_as_make_invoke_does(
        stack: LocalStack, sam_setup: tuple[dict[str, Any], Path], folder: str, event_name: str) -> None:
    env_vars, workdir = sam_setup
    function, parameters, region = sam_invocation(stack, folder, event_name)
    environment = sam_function_environment(read_template(TEMPLATE_PATH), function, env_vars, parameters, region)

    assert environment["AWS_ENDPOINT_URL"] == stack.environment["AWS_ENDPOINT_URL"]
    assert environment["SECRETS_NAME"] == template_secrets_name()
    assert not {"HUBSPOT_CLIENT_SECRET", "FORTNOX_CLIENT_SECRET", "SIGNING_KEY"} & set(environment)

    event = sign_event(load_event(EVENTS / event_name), stack.environment)
    answer = run_in_fresh_process(function, event, environment, workdir)
    assert answer_status(answer) == EXPECTED[event_name][0], answer


@pytest.mark.parametrize(("folder", "event_name"), CASES[:1])
def test_the_emulated_environment_is_the_one_sam_cli_computes(
        stack: LocalStack, sam_setup: tuple[dict[str, Any], Path], folder: str, event_name: str) -> None:
    if not SAM_PYTHON.exists():
        pytest.skip("SAM CLI is not installed here (make validate installs it into .sam-venv)")
    env_vars, workdir = sam_setup
    function, parameters, region = sam_invocation(stack, folder, event_name)
    emulated = sam_function_environment(read_template(TEMPLATE_PATH), function, env_vars, parameters, region)
    done = subprocess.run(
        [str(SAM_PYTHON), "-c", SAM_ENVIRONMENT, str(TEMPLATE_PATH), function, str(workdir / "env.json"),
         json.dumps(parameters), region],
        env={"PATH": "/usr/bin:/bin", "HOME": str(workdir), "SAM_CLI_TELEMETRY": "0", **SAM_CREDENTIALS},
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    by_sam = json.loads(done.stdout.strip().splitlines()[-1])
    assert {name: by_sam.get(name) for name in emulated if name != "AWS_LAMBDA_FUNCTION_NAME"} == \
        {name: value for name, value in emulated.items() if name != "AWS_LAMBDA_FUNCTION_NAME"}
    assert all(name.startswith("AWS_") for name in set(by_sam) - set(emulated))  # sam's own runtime variables
