"""The fault drill of "nothing lost", bounded for `make test`: 20 deals triggered at once under 60
faults, run as `python -m sandbox.drill` in its own process (its stack, its environment), then
held to 0 duplicates, 0 lost, 0 untruthful and nothing unexplained in the dead-letter queue.
`make drill` is the long version."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sandbox.gateway import REPO_ROOT

pytestmark = pytest.mark.e2e

DEALS, FAULTS, SEED = 20, 60, 7
#: seconds the drain may take, and the whole drill
DRAIN_TIMEOUT, DRILL_TIMEOUT = 180, 300
#: what the stack of this session (tests/e2e/conftest.py) put in the environment: the drill starts its own
STACK_VARIABLES = ("HUBSPOT_", "FORTNOX_", "AWS_", "PUBLIC_BASE_URL", "TABLE_NAME", "JOBS_QUEUE_URL",
                   "KMS_KEY_ID", "SIGNING_KEY", "HUBNOX_DYNAMODB")


@pytest.mark.timeout(DRILL_TIMEOUT + 30)
def test_under_faults_nothing_is_duplicated_lost_or_untruthful(tmp_path, capsys):
    result_path, log_path = tmp_path / "drill.json", tmp_path / "stack.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith(STACK_VARIABLES)}

    finished = subprocess.run(
        [sys.executable, "-m", "sandbox.drill", "--deals", str(DEALS), "--faults", str(FAULTS), "--seed", str(SEED),
         "--timeout", str(DRAIN_TIMEOUT), "--json", str(result_path), "--log", str(log_path)],
        cwd=REPO_ROOT, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=DRILL_TIMEOUT)

    with capsys.disabled():
        print(f"\n{finished.stdout.rstrip()}")
    assert result_path.exists(), f"the drill did not finish ({finished.returncode}): {finished.stderr[-2000:]}"
    counts = json.loads(result_path.read_text())["counts"]
    assert counts["deals"] == DEALS and counts["faults_injected"] > 0
    assert (counts["duplicates"], counts["lost"], counts["untruthful"], counts["dlq_unexplained"]) == (0, 0, 0, 0), \
        finished.stdout
