"""`python -m sandbox.invoke`: one function's handler called with one event, as `sam local invoke` would.

    python -m sandbox.invoke worker events/worker_sqs.json          (make invoke FN=worker EVENT=...)
    python -m sandbox.invoke crm_card events/crm_card_fetch.json --no-sign
    python -m sandbox.invoke --print-signed events/crm_card_fetch.json
    python -m sandbox.invoke --sam-env [worker events/worker_sqs.json] > env.json
                                    (sam local invoke --env-vars env.json; it prints the command line)

The handler runs in this process with a Lambda context, loaded as the local gateway loads it
(`sandbox.gateway.LocalFunction`) and held to its IAM role from template.yaml (`sandbox.iam`), against
the local stack's AWS and simulators: a running `python -m sandbox up` (`make dev`, found through the
state file it writes, see `STATE_DIR`) or, when none runs, a stack started for the call and stopped after.

Events HubSpot signs are re-signed first with a fresh timestamp for the stack's client secret, and
Replay link tokens with its signing key, so the stored samples pass the checks; `--no-sign` sends an
event as stored (the refusal is what it shows). The sample portal the events name is installed and
connected when the stack lacks it (`ensure_sample_portal`), so the events reach hubnox's real answers.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox.gateway import (
    REPO_ROOT,
    TEMPLATE_PATH,
    LocalFunction,
    ensure_layer_importable,
    functions_from_template,
    load_functions,
    read_template,
)
from sandbox.hubspot_signing import sign_v1, sign_v2, sign_v3

#: Where `python -m sandbox up` writes what a later invoke needs of it: `stack-<port>.json` per stack.
STATE_DIR = REPO_ROOT / ".sandbox-state"
#: The portal every sample event names (events/README.md).
SAMPLE_PORTAL_ID = "102670506"
#: Docker containers reach the host's local stack through this name (`--sam-env`).
DOCKER_HOST = "host.docker.internal"
HTTP_TIMEOUT = 10.0


# -- the stack an invoke runs against ------------------------------------------------------------


@dataclass
class Target:
    """A running local stack as an invoke uses it: its functions (role-guarded) and environment."""

    functions: dict[str, LocalFunction]
    environment: dict[str, str]
    gateway_url: str
    hubspot_api_url: str
    started: Any = None  # the Stack started for this call, stopped by `close`
    _restore: dict[str, str | None] = field(default_factory=dict)

    def function(self, name: str) -> LocalFunction:
        """A function by folder name (`worker`) or logical id (`WorkerFunction`)."""
        for folder, function in self.functions.items():
            if name in (folder, function.spec.logical_id):
                return function
        known = ", ".join(sorted(self.functions))
        raise SystemExit(f"no function {name!r} in template.yaml (known: {known})")

    def close(self) -> None:
        if self.started is not None:
            self.started.stop()
        for name, value in self._restore.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_state(stack: Any, port: int) -> Path:
    """Record a started stack for later invokes (called by `python -m sandbox up`); answers the file.
    It holds the environment the stack gave hubnox and the resources its IAM roles name."""
    STATE_DIR.mkdir(exist_ok=True)
    path = STATE_DIR / f"stack-{port}.json"
    intrinsics = stack.aws.intrinsics
    state = {
        "pid": os.getpid(),
        "urls": stack.urls(),
        "environment": stack.environment,
        "stack_name": intrinsics.stack_name if intrinsics else "hubnox",
        "resources": intrinsics.resources if intrinsics else {},
    }
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return path


def forget_state(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def running_states(url: str | None = None) -> list[dict[str, Any]]:
    """The recorded stacks whose gateway answers (the gateway `url` only, when given), newest first."""
    found: list[tuple[float, dict[str, Any]]] = []
    for path in STATE_DIR.glob("stack-*.json") if STATE_DIR.is_dir() else ():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            gateway = state["urls"]["gateway"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if url and gateway.rstrip("/") != url.rstrip("/"):
            continue
        try:
            alive = httpx.get(f"{gateway}/_sandbox/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            alive = False
        if alive:
            found.append((path.stat().st_mtime, state))
    return [state for _, state in sorted(found, key=lambda item: item[0], reverse=True)]


def attach(state: Mapping[str, Any]) -> Target:
    """A Target on a stack running in another process: its environment in os.environ, the functions
    loaded here and guarded by their roles resolved against that stack's resources."""
    from sandbox.aws import Intrinsics
    from sandbox.iam import Guard, role_policies

    environment = dict(state["environment"])
    restore = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    template = read_template(TEMPLATE_PATH)
    functions = load_functions(template)
    intrinsics = Intrinsics(template, stack_name=state.get("stack_name") or "hubnox",
                            resources={k: dict(v) for k, v in (state.get("resources") or {}).items()})
    for name, policy in role_policies(template, intrinsics.resolve).items():
        if name in functions:
            functions[name].watch_aws_clients(Guard(policy).attach)
    urls = state["urls"]
    return Target(functions, environment, urls["gateway"], urls["hubspot_api"], _restore=restore)


def from_stack(stack: Any, *, started: bool = False) -> Target:
    """A Target on a stack started in this process (`sandbox.stack.start_stack`): its own functions,
    already guarded by their roles, and the environment it set."""
    return Target(stack.aws.functions, dict(stack.environment), stack.gateway_url, stack.hubspot_api_url,
                  started=stack if started else None)


def open_target(url: str | None = None) -> Target:
    """The running `make dev` stack (the one at gateway `url`, when given), else one started for the call."""
    states = running_states(url)
    if states:
        return attach(states[0])
    if url:
        raise SystemExit(f"no running local stack recorded for {url} in {STATE_DIR} (start it with make dev)")
    from sandbox.stack import start_stack

    # The schedule and the webhooks stay out of the way: the call shows one function's answer.
    return from_stack(start_stack(0, poll_interval=24 * 3600, webhooks=False), started=True)


def ensure_sample_portal(target: Target, portal_id: str = SAMPLE_PORTAL_ID) -> bool:
    """Install hubnox into the sample events' portal and connect a Fortnox company, as an admin would,
    unless the HubSpot simulator has that portal already; answers whether it seeded."""
    from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox

    hubspot = target.hubspot_api_url
    if httpx.get(f"{hubspot}/_sandbox/portals/{portal_id}", timeout=HTTP_TIMEOUT).status_code == 200:
        return False
    created = httpx.post(f"{hubspot}/_sandbox/portals", json={"portalId": int(portal_id)}, timeout=HTTP_TIMEOUT)
    created.raise_for_status()
    browser = AdminBrowser()
    try:
        install_hubnox(browser, target.gateway_url, portal_id=portal_id)
        connect_fortnox(browser, target.gateway_url)
    finally:
        browser.close()
    return True


# -- events --------------------------------------------------------------------------------------


def load_event(path: str | Path) -> dict[str, Any]:
    event = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(event, dict):
        raise SystemExit(f"{path} is not a JSON object")
    return event


def function_for_event(event: Mapping[str, Any], template: Mapping[str, Any] | None = None) -> str:
    """The function (folder name) the template routes `event` to: by route key for HTTP events, the
    SQS and Schedule sources for the others."""
    from sandbox.gateway import functions_from_template

    specs = functions_from_template(template or read_template(TEMPLATE_PATH))
    route_key = event.get("routeKey")
    records = event.get("Records") or [{}]
    source_arn = str(records[0].get("eventSourceARN", "")) if records[0].get("eventSource") == "aws:sqs" else ""
    for name, spec in specs.items():
        if route_key and any(route.route_key == route_key for route in spec.routes):
            return name
        types = {e.get("Type") for e in spec.events.values()}
        if event.get("source") == "aws.events" and "Schedule" in types:
            return name
        if source_arn and "SQS" in types and name == ("poller" if "poll" in source_arn.lower() else "worker"):
            return name
    raise ValueError(f"no function of template.yaml takes this event ({route_key or event.get('source')})")


SESSION_COOKIE = "hubnox_session"


def signed_kind(event: Mapping[str, Any]) -> str | None:
    """What signature the event carries: 'hubspot' (HubSpot's request signature), 'replay' (a Replay
    link token), 'session' (the settings session cookie), 'login' (a settings login link), or None."""
    headers = {k.lower() for k in (event.get("headers") or {})}
    if headers & {"x-hubspot-signature", "x-hubspot-signature-v3"}:
        return "hubspot"
    if str(event.get("routeKey", "")).startswith(("GET /replay/", "POST /replay/")):
        return "replay"
    if any(cookie.startswith(f"{SESSION_COOKIE}=") for cookie in event.get("cookies") or ()):
        return "session"
    if (event.get("queryStringParameters") or {}).get("login"):
        return "login"
    return None


def _body_text(event: Mapping[str, Any]) -> str:
    body = event.get("body") or ""
    return base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else str(body)


def _uri(public_base_url: str, event: Mapping[str, Any]) -> str:
    base = public_base_url.rstrip("/")
    path = str(event.get("rawPath") or "/")
    query = str(event.get("rawQueryString") or "")
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def resign_hubspot(event: Mapping[str, Any], *, client_secret: str, public_base_url: str,
                   now_ms: int | None = None) -> dict[str, Any]:
    """The event with each HubSpot signature it carries (v1, v2, v3) computed anew for `client_secret`,
    the URI at `public_base_url`, and a fresh request timestamp."""
    signed = json.loads(json.dumps(event))
    headers: dict[str, str] = signed.setdefault("headers", {})
    names = {name.lower(): name for name in headers}
    method = str(signed.get("requestContext", {}).get("http", {}).get("method") or "POST")
    body, uri = _body_text(signed), _uri(public_base_url, signed)
    if "x-hubspot-signature-v3" in names:
        timestamp = now_ms if now_ms is not None else int(time.time() * 1000)
        headers[names.get("x-hubspot-request-timestamp", "x-hubspot-request-timestamp")] = str(timestamp)
        headers[names["x-hubspot-signature-v3"]] = sign_v3(client_secret, method, uri, body, timestamp)
    if "x-hubspot-signature" in names:
        version = headers.get(names.get("x-hubspot-signature-version", ""), "v1").strip().lower()
        legacy = sign_v2(client_secret, method, uri, body) if version == "v2" else sign_v1(client_secret, body)
        headers[names["x-hubspot-signature"]] = legacy
    return signed


def resign_replay(event: Mapping[str, Any], *, signing_key: str) -> dict[str, Any]:
    """The event with its Replay link token (query `t`, or the form body's `t`) signed anew with
    `signing_key` for the same run and portal."""
    ensure_layer_importable()
    from hubnox.links import REPLAY_TTL_SECONDS
    from hubnox.signing import Signer

    token = (event.get("queryStringParameters") or {}).get("t") or (parse_qs(_body_text(event)).get("t") or [""])[0]
    if not token:
        return dict(event)
    claims = _claims(token)
    fresh = Signer(signing_key).sign("replay", {"portal": claims.get("portal"), "run": claims.get("run")},
                                     REPLAY_TTL_SECONDS)
    return _replace_everywhere(event, token, fresh)


def _claims(token: str) -> dict[str, Any]:
    body = token.partition(".")[0]
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _replace_everywhere(event: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """`event` with `old` replaced by `new` in every field, inside a base64 body too."""
    text = json.dumps(event)
    if event.get("isBase64Encoded") and event.get("body"):
        form = _body_text(event).replace(old, new)
        text = text.replace(json.dumps(event["body"]), json.dumps(base64.b64encode(form.encode()).decode()))
    return dict(json.loads(text.replace(old, new)))


def resign_session(event: Mapping[str, Any], *, signing_key: str, public_base_url: str,
                   generation: Callable[[str], int]) -> dict[str, Any]:
    """The event with a genuine settings session for the portal its cookie names: a fresh session
    token (the portal's current session `generation`, a new id and CSRF secret) in the cookie, that
    CSRF secret wherever the event carries one (form field or query `csrf_token`) and in the
    `X-CSRF-Token` header (as the settings page's script sends it), and the page's origin
    (`public_base_url`) as the `Origin` of a request that names one."""
    ensure_layer_importable()
    from hubnox.signing import Signer
    from hubnox.web.session import SESSION_TTL_SECONDS

    cookie = next(c for c in event.get("cookies") or () if c.startswith(f"{SESSION_COOKIE}="))
    old = cookie.partition("=")[2].split(";")[0]
    portal = str(_claims(old).get("portal") or SAMPLE_PORTAL_ID)
    csrf, sid = secrets.token_urlsafe(24), secrets.token_urlsafe(18)
    token = Signer(signing_key).sign("session", {"portal": portal, "user": str(_claims(old).get("user", "")),
                                                 "csrf": csrf, "sid": sid, "gen": generation(portal)},
                                     SESSION_TTL_SECONDS)
    signed = _replace_everywhere(event, old, token)
    sent = (event.get("queryStringParameters") or {}).get("csrf_token") or \
        (parse_qs(_body_text(event)).get("csrf_token") or [""])[0]
    if sent:
        signed = _replace_everywhere(signed, sent, csrf)
    headers = signed.setdefault("headers", {})
    headers["x-csrf-token"] = csrf
    if "origin" in headers:  # the page's own origin, which is the stack's public base URL here
        parts = urlsplit(public_base_url)
        headers["origin"] = f"{parts.scheme}://{parts.netloc}"
    return signed


def resign_login(event: Mapping[str, Any], *, signing_key: str) -> dict[str, Any]:
    """The event with its settings login link token (query `login`) signed anew for the same portal and user."""
    ensure_layer_importable()
    from hubnox.signing import Signer
    from hubnox.web.session import LOGIN_TTL_SECONDS

    old = str(event["queryStringParameters"]["login"])
    claims = _claims(old)
    payload = {"portal": str(claims.get("portal") or SAMPLE_PORTAL_ID), "user": str(claims.get("user", "")),
               "uid": str(claims.get("uid") or claims.get("user") or "")}
    return _replace_everywhere(event, old, Signer(signing_key).sign("login", payload, LOGIN_TTL_SECONDS))


def session_generation(environment: Mapping[str, str]) -> Callable[[str], int]:
    """A portal's current settings session generation, read from the stack's table."""
    import boto3

    def read(portal_id: str) -> int:
        client = boto3.client(
            "dynamodb", region_name=environment["AWS_REGION"],
            endpoint_url=environment.get("AWS_ENDPOINT_URL_DYNAMODB") or environment["AWS_ENDPOINT_URL"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"])
        key = {"pk": {"S": f"SESSIONS#{portal_id}"}, "sk": {"S": "GENERATION"}}
        item = client.get_item(TableName=environment["TABLE_NAME"], Key=key, ConsistentRead=True).get("Item")
        return int(item["generation"]["N"]) if item else 0

    return read


def sign_event(event: Mapping[str, Any], environment: Mapping[str, str]) -> dict[str, Any]:
    """The event as it should arrive at the stack with `environment`: re-signed where it is signed."""
    kind = signed_kind(event)
    if kind == "hubspot":
        return resign_hubspot(event, client_secret=environment["HUBSPOT_CLIENT_SECRET"],
                              public_base_url=environment["PUBLIC_BASE_URL"])
    if kind == "replay":
        return resign_replay(event, signing_key=environment["SIGNING_KEY"])
    if kind == "session":
        return resign_session(event, signing_key=environment["SIGNING_KEY"],
                              public_base_url=environment["PUBLIC_BASE_URL"],
                              generation=session_generation(environment))
    if kind == "login":
        return resign_login(event, signing_key=environment["SIGNING_KEY"])
    return dict(event)


# -- the call ------------------------------------------------------------------------------------


def invoke(target: Target, function: str, event: Mapping[str, Any], *, sign: bool = True) -> Any:
    """What `function`'s handler answers for `event` (re-signed unless `sign` is false)."""
    payload = sign_event(event, target.environment) if sign else dict(event)
    return target.function(function).invoke(payload)


def answer_status(response: Any) -> int | str:
    """The short form of an answer: an HTTP response's status code; for an SQS batch response,
    how many records it hands back for a retry ("2 retried"); "ok" for any other answer."""
    if isinstance(response, dict) and "statusCode" in response:
        return int(response["statusCode"])
    if isinstance(response, dict) and "batchItemFailures" in response:
        return f"{len(response['batchItemFailures'])} retried"
    return "ok"


def format_response(response: Any) -> str:
    """An HTTP response as status, headers and body (JSON bodies pretty); anything else as JSON."""
    if not (isinstance(response, dict) and "statusCode" in response):
        return json.dumps(response, indent=2, default=str)
    lines = [f"status {response['statusCode']}"]
    for name, value in sorted((response.get("headers") or {}).items()):
        lines.append(f"{name}: {value}")
    lines.extend(f"set-cookie: {cookie}" for cookie in response.get("cookies") or ())
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = f"<{len(base64.b64decode(body))} bytes, base64>"
    else:
        with contextlib.suppress(ValueError):
            body = json.dumps(json.loads(body), indent=2)
    lines += ["", str(body)]
    return "\n".join(lines)


def declared_variables() -> set[str]:
    """The variables template.yaml declares for the functions: the only ones `sam local invoke
    --env-vars` sets (SAM ignores the file's others)."""
    template = read_template(TEMPLATE_PATH)
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            names |= set((resource["Properties"].get("Environment") or {}).get("Variables") or {})
    return names


#: The stack's variables a deployment keeps in the Secrets Manager secret SECRETS_NAME names, each
#: under its lower-case name (the JSON shape `hubnox.config` reads and template.yaml's SecretsName describes).
SECRET_VARIABLES = ("HUBSPOT_CLIENT_SECRET", "FORTNOX_CLIENT_SECRET", "SIGNING_KEY")
#: Variables `sam local invoke` always sets itself (region from `--region`, any credentials: moto takes them).
SAM_SETS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
#: The function and event the printed `sam local invoke` line names unless `--sam-env` is given others.
SAM_EXAMPLE = ("WorkerFunction", "events/worker_sqs.json")


def template_secrets_name() -> str:
    """The secret's name a deployment uses by default (template.yaml's SecretsName), used locally too."""
    from sandbox.aws import Intrinsics

    return str(Intrinsics(read_template(TEMPLATE_PATH)).ref("SecretsName"))


def publish_secrets(environment: Mapping[str, str], name: str) -> str:
    """Store the app's secrets of the stack with `environment` in that stack's Secrets Manager (moto)
    as secret `name`, in a deployment's JSON shape, so a function given SECRETS_NAME=`name` and the
    stack's AWS endpoint loads them as it does deployed; answers `name`. Idempotent: a second call
    writes the current values as the secret's new version."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client(
        "secretsmanager", region_name=environment["AWS_REGION"], endpoint_url=environment["AWS_ENDPOINT_URL"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"])
    value = json.dumps({variable.lower(): environment[variable] for variable in SECRET_VARIABLES})
    try:
        client.put_secret_value(SecretId=name, SecretString=value)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        client.create_secret(Name=name, SecretString=value)
    return name


def _reach(value: str, docker_host: str) -> str:
    return value.replace("127.0.0.1", docker_host).replace("localhost", docker_host)


def sam_environment(environment: Mapping[str, str], docker_host: str = DOCKER_HOST, *,
                    secrets_name: str = "") -> tuple[dict[str, Any], list[str]]:
    """`sam local invoke --env-vars` content pointing every function at the stack with `environment`
    (its loopback URLs rewritten to the host as a container reaches it; PUBLIC_BASE_URL kept, since a
    browser on the host opens hubnox's links and `--print-signed` signs for it), and the names of the
    stack's variables that file cannot carry because template.yaml does not declare them.

    With `secrets_name` (a secret `publish_secrets` wrote), SECRETS_NAME names it and the functions
    load the secrets from the stack's Secrets Manager as deployed; without, they have none. The
    variables sam sets itself (`SAM_SETS`) are not counted as left out."""
    declared = declared_variables()
    values = {name: value if name == "PUBLIC_BASE_URL" else _reach(value, docker_host)
              for name, value in environment.items() if name in declared}
    values["SECRETS_NAME"] = secrets_name
    carried = set(SAM_SETS) | (set(SECRET_VARIABLES) if secrets_name else set())
    return {"Parameters": values}, sorted(name for name in environment if name not in declared | carried)


def logical_id(function: str) -> str:
    """A function's logical id in template.yaml (what sam names it by), from its folder name or that id."""
    for spec in functions_from_template(read_template(TEMPLATE_PATH)).values():
        if function in (spec.name, spec.logical_id):
            return spec.logical_id
    raise SystemExit(f"no function {function!r} in template.yaml")


def sam_command(environment: Mapping[str, str], docker_host: str = DOCKER_HOST, *,
                function: str = SAM_EXAMPLE[0], event: str = SAM_EXAMPLE[1], env_file: str = "env.json") -> str:
    """The `sam local invoke` line for `function` and `event` on the stack with `environment`: the
    env-vars file, the stack's region (moto keeps resources per region) and its AWS endpoint as
    template.yaml's LocalAwsEndpointUrl."""
    endpoint = _reach(environment["AWS_ENDPOINT_URL"], docker_host)
    return (f"sam local invoke {function} -e {event} --env-vars {env_file} --region {environment['AWS_REGION']} "
            f"--parameter-overrides LocalAwsEndpointUrl={endpoint}")


@contextlib.contextmanager
def _logs_to_stderr() -> Iterator[None]:
    # The handlers' and the stack's logs go to stderr, as sam local invoke keeps them out of the answer.
    with contextlib.redirect_stdout(sys.stderr):
        yield


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m sandbox.invoke", description=__doc__.split("\n")[0])
    root.add_argument("function", nargs="?", help="folder name (worker) or logical id (WorkerFunction)")
    root.add_argument("event", nargs="?", help="an event file, e.g. events/worker_sqs.json")
    root.add_argument("--no-sign", action="store_true", help="send a signed event as stored, unsigned anew")
    root.add_argument("--url", help="the gateway of a running `make dev` stack to use (default: any running)")
    root.add_argument("--print-signed", metavar="EVENT", help="print a freshly signed copy of EVENT and stop")
    root.add_argument("--sam-env", action="store_true",
                      help="print an env-vars file for `sam local invoke` on the running stack (its secrets "
                           "stored in the stack's Secrets Manager) and the sam command line, and stop")
    root.add_argument("--docker-host", default=DOCKER_HOST, help="the host's name inside Docker (--sam-env)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.sam_env or args.print_signed:
        states = running_states(args.url)
        if not states:
            print(f"no running local stack (start one with make dev); {STATE_DIR} records them", file=sys.stderr)
            return 2
        environment = states[0]["environment"]
        if args.sam_env:
            name = publish_secrets(environment, template_secrets_name())
            variables, left_out = sam_environment(environment, args.docker_host, secrets_name=name)
            print(json.dumps(variables, indent=2))
            function = logical_id(args.function) if args.function else SAM_EXAMPLE[0]
            print(f"the app's secrets are in the local stack's Secrets Manager as {name}; run e.g.\n  "
                  + sam_command(environment, args.docker_host, function=function,
                                event=args.event or SAM_EXAMPLE[1]), file=sys.stderr)
            if left_out:
                print(f"note: sam local invoke sets only the variables template.yaml declares; not set: "
                      f"{', '.join(left_out)}", file=sys.stderr)
        else:
            print(json.dumps(sign_event(load_event(args.print_signed), environment), indent=2))
        return 0
    if not args.function or not args.event:
        parser().error("give a function and an event file (or --print-signed / --sam-env)")
    event = load_event(args.event)
    with _logs_to_stderr():
        target = open_target(args.url)
        try:
            with contextlib.suppress(ValueError):
                routed = function_for_event(event)
                if target.function(args.function).spec.name != routed:
                    print(f"note: template.yaml routes this event to {routed}, not {args.function}",
                          file=sys.stderr)
            ensure_sample_portal(target)
            try:
                response = invoke(target, args.function, event, sign=not args.no_sign)
            except Exception:  # shown as Lambda shows an unhandled error: the traceback, no answer
                traceback.print_exc()
                return 1
        finally:
            target.close()
    print(format_response(response))
    return 0


if __name__ == "__main__":
    sys.exit(main())
