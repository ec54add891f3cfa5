"""The scale test, bounded for `make test`: 4 portals and 60 deals moved into trigger stages (by webhook,
by the poller alone with their webhooks lost, and by both racing), run as `python -m sandbox.scale` in
its own process (its own stack), then held to exactly one Fortnox document of the rule's type and
exactly one run per deal and rule. `make scale` is the full 20 portals and 2,000 deals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sandbox.gateway import REPO_ROOT

pytestmark = pytest.mark.e2e

PORTALS, DEALS = 4, 60
#: seconds each phase may wait for its drafts, and the whole run
PHASE_TIMEOUT, RUN_TIMEOUT = 90, 240
#: what the stack of this session (tests/e2e/conftest.py) put in the environment: the scale test starts its own
STACK_VARIABLES = ("HUBSPOT_", "FORTNOX_", "AWS_", "PUBLIC_BASE_URL", "TABLE_NAME", "JOBS_QUEUE_URL",
                   "POLL_QUEUE_URL", "KMS_KEY_ID", "SIGNING_KEY", "HUBNOX_DYNAMODB")


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_every_deal_becomes_one_document_and_one_run_however_it_was_seen(tmp_path, capsys):
    result_path, log_path = tmp_path / "scale.json", tmp_path / "stack.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith(STACK_VARIABLES)}

    finished = subprocess.run(
        [sys.executable, "-m", "sandbox.scale", "--portals", str(PORTALS), "--deals", str(DEALS),
         "--timeout", str(PHASE_TIMEOUT), "--json", str(result_path), "--log", str(log_path)],
        cwd=REPO_ROOT, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=RUN_TIMEOUT)

    with capsys.disabled():
        print(f"\n{finished.stdout.rstrip()}")
    assert result_path.exists(), f"the scale test did not finish ({finished.returncode}): {finished.stderr[-2000:]}"
    result = json.loads(result_path.read_text())
    assert result["deals"] == DEALS and result["by_path"] == {"webhook": 20, "both": 20, "poller": 20}
    assert (result["missing"], result["duplicated"], result["wrong_type"], result["runs_not_one"]) == (
        [], [], [], []), finished.stdout
    assert result["documents"] == DEALS and result["runs"] == DEALS
    assert result["calls_per_deal"]["webhook events dropped"] >= 20  # the poller-only deals' webhooks were lost
    assert finished.returncode == 0
