"""The poller's cost simulation (`python -m sandbox.poll_cost`) counts what one cycle asks, and checks itself."""

from __future__ import annotations

from sandbox.poll_cost import main, simulate


def test_a_cycle_costs_one_invocation_per_portal_with_rules_plus_the_tick_and_the_continuations():
    ids = [str(100_000 + index) for index in range(40)]
    quiet = simulate(40, 1.0, {ids[0]: 1}).tally
    assert (quiet["lambda_invocations"], quiet["hubspot_search_calls"], quiet["jobs_enqueued"]) == (41, 40, 1)
    # The registry and settings of every portal, settings and cursor of each poll, the deal's link and pointer.
    assert quiet["dynamodb_reads"] == 40 + 40 + 40 + 40 + 2
    # Each poll's lease taken and given back; the one moved cursor, the claim, the run and its pointer,
    # the deal's decision lease taken and given back, and the decision in the trigger log.
    assert quiet["dynamodb_writes"] == 40 * 2 + 1 + 1 + 2 + 2 + 1
    assert quiet["sqs_requests"] == 4 + 40 * 2 + 1  # batches of 10, receive and delete each, one job

    busy = simulate(3, 1.0, {ids[0]: 12_000}).tally
    assert busy["jobs_enqueued"] == 12_000 and busy["window_splits"] >= 1 and busy["continuations"] >= 4
    assert busy["lambda_invocations"] == 1 + 3 + busy["continuations"]


def test_the_command_prints_a_table_per_cycle(capsys):
    assert main(["--portals", "20", "--import-deals", "300"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("| cycle | Lambda invocations |")
    assert [line.split(" |")[0] for line in lines[4:6]] == [
        "| quiet: 1 in 100 portals has 1 changed deal",
        "| busy: every portal 20 changed deals, 5 portals a 300-deal import"]
