"""`python -m sandbox`: hubnox's local stack from the command line.

    python -m sandbox up [--port P]      gateway on P, HubSpot on P+1, Fortnox on P+2, moto on P+3
    python -m sandbox hubspot --port N   the HubSpot simulator alone
    python -m sandbox fortnox --port N   the Fortnox simulator alone
    python -m sandbox demo [--port P]    the story, over HTTP, against `up` in a subprocess

`up` uses the APIs named by HUBSPOT_API_URL / FORTNOX_API_URL (and the matching *_AUTH_URL) instead
of starting that simulator, and DynamoDB Local instead of moto's DynamoDB with `--dynamodb local` or
HUBNOX_DYNAMODB=local. The wiring itself (`start_stack`, `Stack`) lives in `sandbox.stack`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox.common import serve
from sandbox.demo import run_demo
from sandbox.invoke import forget_state, write_state
from sandbox.stack import (
    LOCAL_APP,
    Stack,
    app_environment,
    fortnox_simulator,
    hubspot_simulator,
    register_app,
    start_stack,
    template_environment,
)

# Re-exported: tests and outside tooling start the stack through `sandbox.__main__`.
__all__ = [
    "LOCAL_APP",
    "Stack",
    "app_environment",
    "fortnox_simulator",
    "hubspot_simulator",
    "main",
    "parser",
    "register_app",
    "start_stack",
    "template_environment",
]

# -- the commands ----------------------------------------------------------------------------------


def _wait_for_stop() -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass


def command_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    stack = start_stack(args.port, dynamodb=args.dynamodb, poll_interval=args.poll_interval)
    engine = "DynamoDB Local" if stack.aws.dynamodb_local else "moto"
    hubspot_note = "" if stack.hubspot_started else "   (HUBSPOT_API_URL)"
    fortnox_note = "" if stack.fortnox_started else "   (FORTNOX_API_URL)"
    lines = [
        f"hubnox local stack is up ({time.monotonic() - started:.1f} s):",
        f"  API gateway        {stack.gateway_url}   (control: {stack.gateway_url}/_sandbox/health)",
        f"  HubSpot            {stack.hubspot_api_url}{hubspot_note}",
        f"  Fortnox            {stack.fortnox_api_url}{fortnox_note}",
        f"  local AWS (moto)   {stack.aws_url}",
        f"  DynamoDB           {stack.aws.dynamodb_url}   ({engine})",
        f"  table {stack.environment['TABLE_NAME']}, jobs queue {stack.environment['JOBS_QUEUE_URL']}",
        f"  HubSpot app id {stack.environment['HUBSPOT_APP_ID']}, "
        f"client id {stack.environment['HUBSPOT_CLIENT_ID']}",
        "Ctrl-C stops it.",
    ]
    state = write_state(stack, args.port)  # what `python -m sandbox.invoke` reuses
    print("\n".join(lines), flush=True)
    try:
        _wait_for_stop()
    finally:
        forget_state(state)
        stack.stop()
        print("hubnox local stack stopped.", flush=True)
    return 0


def _serve_one(make: Callable[[], Any], name: str, port: int) -> int:
    server = serve(make(), port=port)
    print(f"{name} simulator on {server.url} (control: {server.url}/_sandbox/health). Ctrl-C stops it.",
          flush=True)
    try:
        _wait_for_stop()
    finally:
        server.stop()
    return 0


def command_demo(args: argparse.Namespace) -> int:
    return run_demo(args.port)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m sandbox", description="hubnox's local stack")
    commands = root.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole stack until Ctrl-C")
    up.add_argument("--port", type=int, default=8000, help="gateway port; simulators and moto follow it")
    up.add_argument("--dynamodb", choices=["moto", "local"],
                    default=os.environ.get("HUBNOX_DYNAMODB") or "moto",
                    help="DynamoDB engine (default: HUBNOX_DYNAMODB, else moto)")
    up.add_argument("--poll-interval", type=float, default=None,
                    help="seconds between poller ticks (default: the template's schedule)")
    up.set_defaults(run=command_up)

    for command, title, make in (("hubspot", "HubSpot", hubspot_simulator),
                                 ("fortnox", "Fortnox", fortnox_simulator)):
        one = commands.add_parser(command, help=f"serve the {title} simulator alone")
        one.add_argument("--port", type=int, required=True)
        one.set_defaults(run=lambda args, make=make, title=title: _serve_one(make, title, args.port))

    demo = commands.add_parser("demo", help="run the story against a fresh stack and stop it")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=command_demo)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
