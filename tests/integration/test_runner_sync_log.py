"""What a run keeps for the sync log as the runner carries it out against the simulators: the deal's
name and the customer (on failures too, once a try has read them), each try in its history, the
warnings, and earlier failures of the deal marked superseded when its document is made."""

from __future__ import annotations

from tests.integration.test_runner import table, world  # noqa: F401 (the fixtures)


def test_a_made_invoice_keeps_the_deals_name_the_customer_and_the_try(world):  # noqa: F811
    run = world.run()

    assert run.status == "succeeded"
    assert run.record_name == "Acme AB - hubnox rollout"
    assert run.customer_name == "Acme AB" and run.customer_number == run.result["customer_number"]
    assert [entry["event"] for entry in run.history] == ["started", "succeeded"]
    assert isinstance(run.result["warning_messages"], list)


def test_a_failure_keeps_the_deals_name_and_the_later_invoice_supersedes_it(world):  # noqa: F811
    world.configure(articles={"policy": "skip"})
    failed = world.run()
    assert (failed.status, failed.error_code) == ("failed", "ARTICLE_MISSING")
    assert failed.record_name == "Acme AB - hubnox rollout" and failed.customer_name == "Acme AB"
    assert failed.history[-1]["event"] == "failed" and failed.history[-1]["error_code"] == "ARTICLE_MISSING"

    world.configure(articles={"policy": "create"})
    world.clock.advance(60)
    made = world.run()

    assert made.status == "succeeded" and made.trigger_key == failed.trigger_key
    stored = world.runs.get(world.portal, failed.run_id)
    assert stored is not None and stored.superseded_by == made.run_id
