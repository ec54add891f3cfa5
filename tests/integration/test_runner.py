"""The job runner: a deal becomes exactly one Fortnox document, reported on the deal, whatever
retries, replays, lost answers and concurrent jobs happen.

The stores run on moto; HubSpot and Fortnox are the simulators, in process, reached by hubnox's
real clients, so every request is the real API's path and JSON and the simulators keep score.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from moto import mock_aws

from hubnox.api_http import RetryPolicy, build_http_client
from hubnox.errors import ConnectionBrokenError, JobExhausted, TransientError
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.hubspot.properties import APP_PROPERTIES
from hubnox.jobs import MAX_ATTEMPTS, Job
from hubnox.links import verify_replay
from hubnox.rate_budget import LocalRateBudget
from hubnox.records import Run, RunRequest
from hubnox.services.install import HUBSPOT_SCOPES
from hubnox.signing import Signer
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.leases import LeaseStore
from hubnox.store.made_customers import MadeCustomerStore
from hubnox.store.portal_settings import SettingsStore
from hubnox.store.runs import RunStore
from hubnox.store.table import Table, create_table
from hubnox.sync.delivery import NOTED_BY_ANOTHER_RUN
from hubnox.sync.jobs import documents as documents_job
from hubnox.sync.portal_settings import CompanyMatchRule, PortalSettings
from hubnox.sync.reader import PropertiesToRead, read_deal
from hubnox.sync.runner import JobRunner
from hubnox.tokens import StaticToken
from hubnox.web.render import render
from sandbox.fortnox import FortnoxSimulator
from sandbox.hubspot import HubSpotSimulator
from tests.support.aws import TABLE, OneRequestAtATime
from tests.support.clock import FakeClock
from tests.support.queue import FollowUpQueue

HUBSPOT, FORTNOX = "http://hubspot.test", "http://fortnox.test"
PUBLIC_BASE = "https://hubnox.example.com"
SIGNER_KEY = "runner-tests-signing-key-0123456789"
FORTNOX_CLIENT = "hubnox-fortnox"
ACTION_URL = f"{PUBLIC_BASE}/hubspot/actions/create-document"
#: the default groups of the objects hubnox writes properties on
GROUPS = {"deals": "dealinformation", "companies": "companyinformation", "contacts": "contactinformation"}

WORKSHOP = {"name": "Onboarding workshop", "quantity": "1", "price": "12000", "hs_sku": "HNX-ONB"}
SEATS = {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT",
         "hs_discount_percentage": "10"}



class LosesAnswers(httpx.BaseTransport):
    """Passes requests on, but for the next `times` matching ones drops the answer after the server
    acted: what a client sees when Fortnox created the document and the answer timed out."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.rules: list[list[Any]] = []

    def lose(self, method: str, path: str, times: int = 1) -> None:
        self.rules.append([method, path, times])

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        for rule in self.rules:
            if rule[2] > 0 and request.method == rule[0] and request.url.path == rule[1]:
                rule[2] -= 1
                response.read()
                raise httpx.ReadTimeout("Fortnox did not answer in time", request=request)
        return response


def seed(deal_lines: list[dict[str, str]] | None = None, *, company: bool = True, contacts: int = 1,
         products: list[dict[str, str]] | None = None, currency: str = "SEK") -> dict[str, Any]:
    """A portal's seed: the app's properties, a deal with line items, its company and contacts."""
    lines = [WORKSHOP, SEATS] if deal_lines is None else deal_lines
    objects: dict[str, list[dict[str, Any]]] = {
        "companies": [{"ref": "acme", "properties": {"name": "Acme AB", "organisation_number": "556036-0793",
                                                     "city": "Stockholm", "country": "Sweden"}}] if company else [],
        "contacts": [{"ref": f"contact{i}", "properties": {"firstname": f"Anna{i}", "lastname": "Andersson",
                                                           "email": f"anna{i}@acme.example"}}
                     for i in range(contacts)],
        "products": [{"ref": f"product{i}", "properties": p} for i, p in enumerate(products or [])],
        "line_items": [{"ref": f"line{i}", "properties": p} for i, p in enumerate(lines)],
    }
    links = ([{"to": "acme", "typeId": 5}] if company else []) + \
        [{"to": f"contact{i}"} for i in range(contacts)] + [{"to": f"line{i}"} for i in range(len(lines))]
    objects["deals"] = [{"ref": "deal", "properties": {"dealname": "Acme AB - hubnox rollout",
                                                       "deal_currency_code": currency},
                         "associations": links}]
    properties = {kind: [{**definition, "groupName": GROUPS[kind]} for definition in definitions]
                  for kind, definitions in APP_PROPERTIES.items()}
    return {"properties": properties, "objects": objects, "additionalCurrencies": ["EUR", "GBP"]}


class World:
    """A seeded HubSpot portal with hubnox installed, a Fortnox company connected, the stores on moto
    and a `JobRunner` over all of it."""

    def __init__(self, table: Table, spec: dict[str, Any], *, clock: Any = None, sleep: Any = None,
                 outcomes: Any = None) -> None:
        self.clock = clock or FakeClock()
        self.hubspot_sim = HubSpotSimulator()
        self.fortnox_sim = FortnoxSimulator()
        self.fortnox_sim.limiter.enabled = False  # the shared budget keeps hubnox under it; tests go fast
        self.hubspot_sim.outbound_transport = httpx.MockTransport(
            lambda request: httpx.Response(200, json={"outputFields": {"hs_execution_state": "BLOCK"}}))
        self.hs_http = build_http_client(HUBSPOT, transport=httpx.WSGITransport(app=self.hubspot_sim))
        self.fortnox_transport = LosesAnswers(httpx.WSGITransport(app=self.fortnox_sim))
        self.fx_http = build_http_client(FORTNOX, transport=self.fortnox_transport)
        seeded = self.hs_http.post("/_sandbox/portals", json=spec)
        assert seeded.status_code == 201, seeded.text
        self.portal, self.refs = str(seeded.json()["portalId"]), seeded.json()["refs"]
        self.deal_id = self.refs.get("deal", "")
        no_wait = RetryPolicy(sleep=lambda seconds: None)
        budget = LocalRateBudget()
        self.hubspot = HubSpotClient(self.hs_http, StaticToken(self._hubspot_token()), budget, self.portal,
                                     retry=no_wait)
        company = self.fx_http.post("/_sandbox/companies", json={
            "CompanyName": "Testbolaget AB", "serviceConsent": {"clientId": FORTNOX_CLIENT}}).json()
        self.tenant = str(company["tenantId"])
        oauth = FortnoxOAuth(self.fx_http, client_id=FORTNOX_CLIENT, client_secret="secret", auth_url=FORTNOX)
        self.fortnox = FortnoxClient(self.fx_http, StaticToken(oauth.client_credentials(self.tenant).access_token),
                                     budget, FortnoxClient.tenant_key_for(FORTNOX_CLIENT, self.tenant), retry=no_wait)
        self.signer = Signer(SIGNER_KEY)
        self.runs = RunStore(table, self.clock)
        self.links = DealLinkStore(table, self.clock)
        self.settings = SettingsStore(table)
        self.leases = LeaseStore(table, self.clock)
        self.fortnox_factory: Any = lambda portal: self.fortnox
        self.follow_ups = FollowUpQueue()
        self.runner = JobRunner(follow_ups=self.follow_ups, hubspot=lambda portal: self.hubspot,
                                fortnox=lambda portal: self.fortnox_factory(portal), runs=self.runs,
                                deal_links=self.links, settings=self.settings, leases=self.leases,
                                notes=render, signer=self.signer, public_base=PUBLIC_BASE, clock=self.clock,
                                sleep=sleep or self.clock.sleep, outcomes=outcomes,
                                made_customers=MadeCustomerStore(table, self.clock))

    def _hubspot_token(self, client_id: str = "hubnox-hubspot", scopes: tuple[str, ...] = HUBSPOT_SCOPES) -> str:
        oauth = HubSpotOAuth(self.hs_http, client_id=client_id, client_secret="secret", auth_url=HUBSPOT)
        link = oauth.authorize_url(list(scopes), [], f"{PUBLIC_BASE}/oauth/hubspot/callback", "state")
        consent = self.hs_http.get(f"{link}&sandbox_portal={self.portal}".removeprefix(HUBSPOT))
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        return oauth.exchange_code(code, f"{PUBLIC_BASE}/oauth/hubspot/callback").access_token

    # -- acting ----------------------------------------------------------------------------------

    def as_admin(self, method: str, path: str, body: dict[str, Any]) -> None:
        """A change a person makes in HubSpot (through another app of the portal)."""
        token = self._hubspot_token("portal-admin", ("crm.objects.products.read", "crm.objects.products.write"))
        answer = self.hs_http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code < 300, answer.text

    def configure(self, **changes: Any) -> None:
        _, version = self.settings.get(self.portal)
        self.settings.put(self.portal, PortalSettings(**changes).model_dump(mode="json"), version)

    def enroll(self) -> str:
        """The deal enrolled in hubnox's workflow action: the callback id HubSpot waits on."""
        answer = self.hs_http.post("/_sandbox/workflows/enroll", json={
            "portalId": int(self.portal), "actionUrl": ACTION_URL, "objectId": self.deal_id, "objectType": "DEAL"})
        assert answer.json()["state"] == "BLOCKED", answer.text
        return str(answer.json()["callbackId"])

    def job(self, *, kind: str = "create_document", trigger_key: str | None = "workflow:invoice",
            document_type: str | None = "invoice", callback_id: str | None = None,
            object_type: str | None = "deal", object_id: str | None = "", replay_of: str | None = None) -> Job:
        """A job for a new run; by default a workflow's create-invoice job for the deal."""
        request = RunRequest(portal_id=self.portal, kind=kind, trigger="workflow",
                             object_type=object_type,  # type: ignore[arg-type]
                             object_id=self.deal_id if object_id == "" else object_id,
                             document_type=document_type,  # type: ignore[arg-type]
                             trigger_key=trigger_key, callback_id=callback_id)
        run = self.runs.create(request, replay_of=replay_of)
        return Job.for_run(run)

    def run(self, job: Job | None = None, attempt: int = 1, **job_options: Any) -> Run:
        return self.runner.run(job or self.job(**job_options), attempt=attempt)

    def tell_follow_ups(self) -> Run | None:
        """Run the follow-ups the runner queued (and theirs) until none is left; the last one's run."""
        run = None
        while self.follow_ups.sent:
            job, _ = self.follow_ups.sent.pop(0)
            run = self.runner.run(job)
        return run

    # -- looking -----------------------------------------------------------------------------------

    def fortnox_company(self) -> dict[str, Any]:
        return self.fx_http.get(f"/_sandbox/companies/{self.tenant}").json()

    def invoices(self) -> list[dict[str, Any]]:
        return self.fortnox_company()["Invoices"]

    def orders(self) -> list[dict[str, Any]]:
        return self.fortnox_company()["Orders"]

    def portal_dump(self) -> dict[str, Any]:
        return self.hs_http.get(f"/_sandbox/portals/{self.portal}").json()

    def notes(self) -> list[dict[str, str]]:
        return [note["properties"] for note in self.portal_dump()["objects"]["notes"]]

    def record(self, kind: str, ref: str) -> dict[str, Any]:
        return next(o["properties"] for o in self.portal_dump()["objects"][kind] if o["id"] == self.refs[ref])

    def file_bytes(self, file_id: str) -> bytes:
        return self.hs_http.get(f"/_sandbox/files/{file_id}/content").content

    def callback(self, callback_id: str) -> dict[str, Any]:
        return self.hs_http.get(f"/_sandbox/callbacks/{callback_id}").json()

    def hubspot_calls(self) -> list[tuple[str, str]]:
        return [(e.method, e.path) for e in self.hubspot_sim.log.entries() if not e.path.startswith("/oauth")]

    def fortnox_calls(self) -> list[tuple[str, str]]:
        return [(e.method, e.path) for e in self.fortnox_sim.log.entries() if not e.path.startswith("/oauth")]


@pytest.fixture
def table(aws_clients) -> Iterator[Table]:
    dynamodb, _ = aws_clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        # Threads may share it: one request at a time, as DynamoDB applies each atomically.
        yield Table(OneRequestAtATime(dynamodb), TABLE)


@pytest.fixture
def world(table) -> World:
    return World(table, seed())


# -- the story ---------------------------------------------------------------------------------------


def test_a_deal_becomes_one_draft_invoice_with_its_pdf_on_a_note_and_its_properties_set(world):
    callback_id = world.enroll()

    run = world.run(callback_id=callback_id)

    [invoice] = world.invoices()
    assert run.status == "succeeded"
    assert run.result["document_number"] == invoice["DocumentNumber"]
    assert run.result["origin"] == "created"
    assert invoice["ExternalInvoiceReference1"] == world.deal_id
    assert invoice["Booked"] is False and invoice["Sent"] is False
    assert [(row["Description"], Decimal(str(row["Total"]))) for row in invoice["InvoiceRows"]] == [
        ("Onboarding workshop", Decimal("12000")), ("hubnox seat, 12 months", Decimal("6707.25"))]
    assert Decimal(str(invoice["Net"])) == Decimal("18707.25")
    [note] = world.notes()
    assert f"Fortnox invoice {invoice['DocumentNumber']}</strong> was created" in note["hs_note_body"]
    assert "Acme AB" in note["hs_note_body"]
    assert world.file_bytes(note["hs_attachment_ids"]).startswith(b"%PDF")
    deal = world.record("deals", "deal")
    assert (deal["fortnox_document_number"], deal["fortnox_document_type"], deal["fortnox_sync_status"],
            deal["fortnox_document_status"]) == (invoice["DocumentNumber"], "invoice", "succeeded", "draft")
    assert deal["fortnox_customer_number"] == invoice["CustomerNumber"]
    assert world.record("companies", "acme")["fortnox_customer_number"] == invoice["CustomerNumber"]
    completion = world.callback(callback_id)["completions"][0]["outputFields"]
    assert completion == {"hs_execution_state": "SUCCESS", "documentNumber": invoice["DocumentNumber"],
                          "documentType": "invoice", "customerNumber": invoice["CustomerNumber"]}


def test_the_pdf_comes_from_preview_which_leaves_the_invoice_unsent(world):
    world.run()

    paths = [path for method, path in world.fortnox_calls() if method == "GET"]
    assert any(path.endswith("/preview") for path in paths)
    assert not any(path.endswith("/print") for path in paths)
    assert world.invoices()[0]["Sent"] is False


def test_with_the_order_setting_the_deal_becomes_one_order_with_delivered_quantities(world):
    world.configure(default_document_type="order")

    run = world.run(document_type=None, trigger_key="workflow:order")

    [order] = world.orders()
    assert (run.result["document_type"], world.invoices()) == ("order", [])
    assert [(row["OrderedQuantity"], row["DeliveredQuantity"]) for row in order["OrderRows"]] == [
        ("1.00", "1.00"), ("5.00", "5.00")]
    assert Decimal(str(order["Net"])) == Decimal("18707.25")
    assert world.record("deals", "deal")["fortnox_document_type"] == "order"


# -- reading the deal ------------------------------------------------------------------------------


def test_a_deal_is_read_in_four_hubspot_calls_however_many_line_items_it_has(table):
    lines = [{"name": f"Item {i}", "quantity": "1", "price": "10", "hs_sku": f"SKU-{i}"} for i in range(60)]
    world = World(table, seed(lines))
    world.hubspot_sim.log.clear()

    reading = read_deal(world.hubspot, world.deal_id, PropertiesToRead())

    assert len(reading.line_items) == 60
    assert [name for name in (reading.company.name if reading.company else None,)] == ["Acme AB"]
    assert world.hubspot_calls() == [
        ("GET", f"/crm/objects/2026-03/0-3/{world.deal_id}"),
        ("POST", "/crm/objects/2026-03/line_items/batch/read"),
        ("POST", "/crm/objects/2026-03/companies/batch/read"),
        ("POST", "/crm/objects/2026-03/contacts/batch/read"),
    ]


def test_products_are_read_in_one_more_call_only_for_line_items_without_a_sku(table):
    world = World(table, seed([{"name": "Seat", "quantity": "2", "price": "100", "hs_product_id": "product0"},
                               {"name": "Setup", "quantity": "1", "price": "50", "hs_sku": "SETUP"}],
                              products=[{"name": "Seat", "price": "100"}]))
    # The product got its SKU after the line item was made from it: the line item has none of its own.
    world.as_admin("PATCH", f"/crm/objects/2026-03/products/{world.refs['product0']}",
                   {"properties": {"hs_sku": "SEAT-1"}})
    world.hubspot_sim.log.clear()

    reading = read_deal(world.hubspot, world.deal_id, PropertiesToRead())

    assert [p.sku for p in reading.products.values()] == ["SEAT-1"]
    assert ("POST", "/crm/objects/2026-03/products/batch/read") in world.hubspot_calls()
    assert len(world.hubspot_calls()) == 5


def test_the_customer_is_the_deals_primary_company_even_when_another_is_listed_first(table):
    spec = seed()
    spec["objects"]["companies"].insert(0, {"ref": "reseller", "properties": {"name": "Reseller AB"}})
    spec["objects"]["deals"][0]["associations"].insert(0, {"to": "reseller"})
    world = World(table, spec)

    reading = read_deal(world.hubspot, world.deal_id, PropertiesToRead())

    assert reading.deal.company_ids == [world.refs["reseller"], world.refs["acme"]]
    assert reading.company is not None and reading.company.name == "Acme AB"


def test_line_items_keep_the_order_the_deal_shows_them_in(table):
    world = World(table, seed([{**WORKSHOP, "hs_position_on_quote": "2"}, {**SEATS, "hs_position_on_quote": "1"}]))

    reading = read_deal(world.hubspot, world.deal_id, PropertiesToRead())

    assert [line.sku for line in reading.line_items] == ["HNX-SEAT", "HNX-ONB"]


def test_a_deal_without_a_company_reads_its_contacts_and_bills_the_first_without_a_primary_label(table):
    world = World(table, seed(company=False, contacts=2))
    world.hubspot_sim.log.clear()

    run = world.run()

    assert run.status == "succeeded"
    assert [path for _, path in world.hubspot_calls()][:4] == [
        f"/crm/objects/2026-03/0-3/{world.deal_id}", "/crm/objects/2026-03/line_items/batch/read",
        f"/crm/objects/2026-03/0-3/{world.deal_id}/associations/contacts",
        "/crm/objects/2026-03/contacts/batch/read"]
    [customer] = world.fortnox_company()["Customers"]
    assert (customer["Name"], customer["Type"]) == ("Anna0 Andersson", "PRIVATE")


def test_a_whole_run_makes_a_known_number_of_calls_on_each_side(world):
    world.hubspot_sim.log.clear()
    world.fortnox_sim.log.clear()

    world.run()

    assert [method for method, _ in world.hubspot_calls()] == [
        "GET", "POST", "POST", "POST",  # the deal, line items, company, contact
        "POST", "POST", "PATCH", "PATCH",  # PDF upload, note, company's customer number, deal's properties
    ]
    fortnox = world.fortnox_calls()
    # a first try on a link it just claimed, with no create started on the deal, needs no look-up by
    # deal id: every create is preceded by the mark on the deal link
    assert ("GET", "/3/invoices") not in fortnox
    assert fortnox.count(("POST", "/3/invoices")) == 1
    # customer search and create, 2 article look-ups, 2 article creates with their prices,
    # the invoice and its PDF
    assert len(fortnox) == 10


# -- exactly once ------------------------------------------------------------------------------------


def test_a_replay_after_success_reports_the_existing_invoice_and_makes_no_other_or_second_note(world):
    first = world.run()

    replay = world.run(replay_of=first.run_id)

    [invoice] = world.invoices()
    assert replay.status == "succeeded"
    assert (replay.result["origin"], replay.result["document_number"]) == ("existing", invoice["DocumentNumber"])
    assert len(world.notes()) == 1 and replay.progress["told:note"] == NOTED_BY_ANOTHER_RUN


def test_a_job_delivered_again_after_its_run_succeeded_does_nothing(world):
    job = world.job()
    world.run(job)
    world.hubspot_sim.log.clear()
    world.fortnox_sim.log.clear()

    again = world.run(job, attempt=2)

    assert again.status == "succeeded" and again.attempts == 1
    assert (world.hubspot_calls(), world.fortnox_calls()) == ([], [])


def test_a_create_whose_answer_was_lost_is_found_on_the_retry_not_made_twice(world):
    world.fortnox_transport.lose("POST", "/3/invoices")
    job = world.job()

    with pytest.raises(TransientError) as lost:
        world.run(job)

    assert len(world.invoices()) == 1  # Fortnox acted before the answer was lost
    assert world.runs.get(world.portal, job.run_id).status == "running"
    assert world.notes() == []
    assert lost.value.retry_after >= documents_job.UNKNOWN_OUTCOME_HOLD_SECONDS / 2
    retried = world.run(job, attempt=2)
    [invoice] = world.invoices()
    assert (retried.status, retried.result["document_number"]) == ("succeeded", invoice["DocumentNumber"])
    assert "was created as a draft" in world.notes()[0]["hs_note_body"]


def test_a_lost_create_redelivered_as_a_first_try_finds_the_mark_and_adopts_the_one_invoice(world):
    # A worker that dies after Fortnox acted may come back as a first try of the same run: the mark
    # written on the deal link before the create is what sends it to look the deal up.
    world.fortnox_transport.lose("POST", "/3/invoices")
    job = world.job()
    with pytest.raises(TransientError):
        world.run(job)
    link = world.links.get(world.portal, job.object_id, job.trigger_key)
    assert link is not None and link.create_run_id == job.run_id and link.document_number is None
    world.fortnox_sim.log.clear()

    again = world.run(job, attempt=1)

    [invoice] = world.invoices()
    assert (again.status, again.result["document_number"]) == ("succeeded", invoice["DocumentNumber"])
    assert ("GET", "/3/invoices") in world.fortnox_calls()
    assert ("POST", "/3/invoices") not in world.fortnox_calls()


def test_no_other_run_looks_while_a_lost_create_may_still_be_landing(world):
    world.fortnox_transport.lose("POST", "/3/invoices")
    with pytest.raises(TransientError):
        world.run()

    with pytest.raises(TransientError) as busy:
        world.run(trigger_key="manual:invoice")

    assert busy.value.code == "DEAL_BUSY"
    world.clock.now += documents_job.UNKNOWN_OUTCOME_HOLD_SECONDS
    later = world.run(trigger_key="manual:invoice")
    assert (later.result["origin"], len(world.invoices())) == ("adopted", 1)


def test_concurrent_jobs_for_one_deal_make_exactly_one_invoice(table):
    world = World(table, seed(), clock=time.time, sleep=time.sleep)
    jobs = [world.job(trigger_key=key) for key in ("workflow:invoice", "workflow:invoice", "manual:invoice",
                                                   "stage:closedwon:invoice")]
    outcomes: list[Any] = []
    start = threading.Barrier(len(jobs))

    def work(job: Job) -> None:
        start.wait()
        try:
            outcomes.append(world.run(job))
        except Exception as error:  # the test counts every outcome
            outcomes.append(error)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    [invoice] = world.invoices()
    assert [type(o).__name__ for o in outcomes] == ["Run"] * len(jobs)
    assert {o.result["document_number"] for o in outcomes} == {invoice["DocumentNumber"]}
    assert sorted(o.result["origin"] for o in outcomes) == ["adopted", "adopted", "created", "existing"]


def test_a_transient_failure_goes_back_to_the_queue_and_the_retry_makes_the_one_invoice(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 503})
    job = world.job()

    with pytest.raises(TransientError):
        world.run(job)

    assert (world.invoices(), world.notes()) == ([], [])
    assert world.run(job, attempt=2).status == "succeeded"
    assert len(world.invoices()) == 1


def test_rate_limited_calls_are_waited_out_and_still_make_one_invoice(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 429,
                                  "body": {"message": "Too Many Requests"}, "times": 2})

    run = world.run()

    assert (run.status, len(world.invoices())) == ("succeeded", 1)


# -- failures ------------------------------------------------------------------------------------------


def test_a_user_fixable_error_fails_the_run_at_once_with_a_note_carrying_a_replay_link(world):
    world.configure(articles={"policy": "skip"})
    callback_id = world.enroll()

    run = world.run(callback_id=callback_id)

    assert (run.status, run.error_code) == ("failed", "ARTICLE_MISSING")
    assert world.invoices() == []
    [note] = world.notes()
    assert "HNX-ONB" in note["hs_note_body"] and "Create these articles in Fortnox" in note["hs_note_body"]
    link = note["hs_note_body"].split('href="')[1].split('"')[0].replace("&amp;", "&")
    assert link.startswith(f"{PUBLIC_BASE}/replay/{run.run_id}?t=")
    assert verify_replay(world.signer, parse_qs(urlsplit(link).query)["t"][0], run.run_id) == world.portal
    deal = world.record("deals", "deal")
    assert deal["fortnox_sync_status"] == "failed" and "HNX-ONB" in deal["fortnox_last_error"]
    outputs = world.callback(callback_id)["completions"][0]["outputFields"]
    assert (outputs["hs_execution_state"], outputs["errorCode"]) == ("FAIL_CONTINUE", "ARTICLE_MISSING")


def test_a_fortnox_refusal_is_quoted_and_explained_in_the_note(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 400,
                                  "body": {"ErrorInformation": {"error": 1, "message": "Kan inte hitta kontot.",
                                                                "code": 2000423}}})

    run = world.run()

    assert (run.status, run.error_code) == ("failed", "FORTNOX_2000423")
    body = world.notes()[0]["hs_note_body"]
    assert "Kan inte hitta kontot." in body and "2000423" in body and "bookkeeping account" in body


def test_a_portal_without_fortnox_is_told_to_reconnect(world):
    def not_connected(portal: str) -> FortnoxClient:
        raise ConnectionBrokenError("Fortnox", "This HubSpot portal is not connected to Fortnox.")

    world.fortnox_factory = not_connected

    run = world.run()

    assert (run.status, run.error_code) == ("failed", "RECONNECT")
    assert "Reconnect Fortnox" in world.notes()[0]["hs_note_body"]


def test_a_deal_without_line_items_fails_with_a_note_by_default(table):
    world = World(table, seed([]))

    run = world.run()

    assert (run.status, run.error_code) == ("failed", "NO_LINE_ITEMS")
    assert "no line items" in world.notes()[0]["hs_note_body"]


def test_on_the_last_attempt_a_transient_failure_fails_the_run_with_a_truthful_note(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 503,
                                  "times": None})
    callback_id = world.enroll()
    job = world.job(callback_id=callback_id)

    with pytest.raises(JobExhausted):  # so the queue keeps the message: it goes on to the dead-letter queue
        world.run(job, attempt=MAX_ATTEMPTS)

    run = world.runs.get(job.portal_id, job.run_id)
    assert run is not None
    assert (run.status, run.error_code) == ("failed", "UPSTREAM_UNAVAILABLE")
    assert run.error_message.startswith(f"Gave up after {MAX_ATTEMPTS} tries")
    assert world.invoices() == []
    assert "kept failing after several tries" in world.notes()[0]["hs_note_body"]
    assert world.callback(callback_id)["completions"][0]["outputFields"]["hs_execution_state"] == "FAIL_CONTINUE"


def test_a_draft_cancelled_in_fortnox_is_replaced_by_a_new_one_on_the_next_run(world):
    first = world.run()
    number = first.result["document_number"]
    token = FortnoxOAuth(world.fx_http, client_id=FORTNOX_CLIENT, client_secret="secret",
                         auth_url=FORTNOX).client_credentials(world.tenant).access_token
    cancelled = world.fx_http.put(f"/3/invoices/{number}/cancel", headers={"Authorization": f"Bearer {token}"})
    assert cancelled.status_code == 200, cancelled.text

    again = world.run(replay_of=first.run_id)

    assert again.status == "succeeded" and again.result["document_number"] != number
    assert sorted((i["DocumentNumber"], i["Cancelled"]) for i in world.invoices()) == [
        (number, True), (again.result["document_number"], False)]
    assert "was cancelled in Fortnox" in world.notes()[-1]["hs_note_body"]
    assert world.links.get(world.portal, world.refs["deal"], "workflow:invoice").document_number == (
        again.result["document_number"])


# -- other jobs --------------------------------------------------------------------------------------


def test_a_company_becomes_a_fortnox_customer_with_its_number_written_back(world):
    run = world.run(kind="sync_customer", object_type="company", object_id=world.refs["acme"],
                    trigger_key=None, document_type=None)

    [customer] = world.fortnox_company()["Customers"]
    assert (run.status, run.result["action"]) == ("succeeded", "created")
    assert (customer["Name"], customer["OrganisationNumber"]) == ("Acme AB", "556036-0793")
    assert world.record("companies", "acme")["fortnox_customer_number"] == customer["CustomerNumber"]
    again = world.run(kind="sync_customer", object_type="company", object_id=world.refs["acme"],
                      trigger_key=None, document_type=None)
    assert (again.result["action"], len(world.fortnox_company()["Customers"])) == ("matched", 1)


def test_a_run_that_read_the_company_before_its_customer_number_was_written_back_bills_the_same_customer(table):
    spec = seed()
    del spec["objects"]["companies"][0]["properties"]["organisation_number"]
    world = World(table, spec)
    first = world.run()
    # The next run of the company reads it as an overlapping one did: not linked yet, nothing to search by.
    token = world._hubspot_token("portal-admin", ("crm.objects.companies.write",))
    cleared = world.hs_http.patch(f"/crm/objects/2026-03/companies/{world.refs['acme']}",
                                  json={"properties": {"fortnox_customer_number": ""}},
                                  headers={"Authorization": f"Bearer {token}"})
    assert cleared.status_code == 200, cleared.text

    second = world.run(kind="sync_customer", object_type="company", object_id=world.refs["acme"],
                       trigger_key=None, document_type=None)

    [customer] = world.fortnox_company()["Customers"]
    assert (first.status, second.status, second.result["action"]) == ("succeeded", "succeeded", "matched")
    assert first.result["customer_number"] == second.result["customer_number"] == customer["CustomerNumber"]


def test_a_company_that_cannot_be_matched_gets_a_failure_note_of_its_own(table):
    spec = seed()
    del spec["objects"]["companies"][0]["properties"]["organisation_number"]
    world = World(table, spec)
    world.configure(company_match=CompanyMatchRule(when_value_missing="fail"))

    run = world.run(kind="sync_customer", object_type="company", object_id=world.refs["acme"],
                    trigger_key=None, document_type=None)

    assert (run.status, run.error_code) == ("failed", "MISSING_MATCH_VALUE")
    [note] = world.portal_dump()["objects"]["notes"]
    assert [link["id"] for link in note["associations"]["companies"]["results"]] == [world.refs["acme"]]
    assert "organisation_number" in note["properties"]["hs_note_body"]
    assert world.fortnox_company()["Customers"] == []


def test_products_become_fortnox_articles_with_their_prices_and_those_without_a_sku_are_listed(table):
    world = World(table, seed(products=[{"name": "Seat", "price": "1490.50", "hs_sku": "SEAT-1"},
                                        {"name": "Consulting hour", "price": "1200"}]))

    run = world.run(kind="sync_products", object_type=None, object_id=None, trigger_key=None, document_type=None)

    company = world.fortnox_company()
    assert [a["ArticleNumber"] for a in company["Articles"]] == ["SEAT-1"]
    assert [(p["ArticleNumber"], Decimal(str(p["Price"]))) for p in company["Prices"]] == [
        ("SEAT-1", Decimal("1490.50"))]
    assert run.result["created"] == ["SEAT-1"]
    assert [item["name"] for item in run.result["skipped"]] == ["Consulting hour"]



def test_a_deal_in_a_currency_fortnox_lacks_fails_at_once_saying_where_to_add_it(table):
    world = World(table, seed(currency="GBP"))

    run = world.run()

    assert (run.status, run.error_code) == ("failed", "CURRENCY_NOT_IN_FORTNOX")
    company = world.fortnox_company()
    assert company["Customers"] == [] and company["Articles"] == [] and company["Invoices"] == []
    body = world.notes()[-1]["hs_note_body"]
    assert "GBP" in body and "Fakturering" in body and "Valuta" in body


def test_a_deal_in_a_currency_both_sides_have_is_billed_at_fortnoxs_rate(table):
    world = World(table, seed(currency="EUR"))

    run = world.run()

    assert run.status == "succeeded", run.error_message
    [invoice] = world.invoices()
    assert invoice["Currency"] == "EUR" and invoice["CurrencyRate"] == 11.5212  # the register's sell rate
    assert "RoundOff" in invoice and invoice["RoundOff"] == 0


def test_a_deal_with_a_line_without_sku_and_a_company_without_organisation_number_becomes_an_invoice(table):
    spec = seed([{"name": "Konsulttimmar – Åsa Öberg", "quantity": "7.5", "price": "1150",
                  "hs_discount_percentage": "5"}, WORKSHOP])
    del spec["objects"]["companies"][0]["properties"]["organisation_number"]
    world = World(table, spec)

    run = world.run()

    assert run.status == "succeeded", run.error_message
    [invoice] = world.invoices()
    rows = invoice["InvoiceRows"]
    assert (rows[0]["ArticleNumber"], rows[0]["Description"], rows[0]["Total"]) == (
        None, "Konsulttimmar – Åsa Öberg", 8193.75)
    assert rows[0]["VAT"] == 25 and rows[0]["AccountNumber"] == 3001
    body = world.notes()[-1]["hs_note_body"]
    assert "without an article" in body and "no organisation_number" in body
    assert len(world.fortnox_company()["Customers"]) == 1
