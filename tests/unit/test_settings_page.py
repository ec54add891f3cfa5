"""The settings page: after Connections, every option of the portal's settings has a control with
readable choices, the page brings its own script and stylesheet (nothing from other sites, since
it runs inside HubSpot's iframe), a refused save names each wrong field so the page can show the
message beside it, and the recent runs are listed for the signed-in portal only.

The settings function runs on moto through its real handler, with the sample events' settings.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hubnox.errors import BadRequestError
from hubnox.jobs import submit, trigger_key
from hubnox.links import verify_replay
from hubnox.records import RunRequest
from hubnox.services.settings_page import (
    CHOICE_FIELDS,
    CHOICE_LABELS,
    RECENT_RUNS_DEFAULT,
    RECENT_RUNS_MAX,
    literal_values,
    property_name_for,
    read_new_property,
    recent_runs_limit,
    settings_choices,
)
from hubnox.sync.portal_settings import PortalSettings
from hubnox.web.session import SESSION_COOKIE, SESSION_TTL_SECONDS
from tests.support.functions import SAMPLE_PORTAL, SAMPLE_PUBLIC_BASE, World, http_event, world_on_moto

CSRF = "csrf-of-the-admins-session"
#: options edited as a whole list of rows rather than field by field
LIST_OPTIONS = {"trigger_stages", "customer_fields.company", "customer_fields.contact"}


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        yield world


def cookie(world: World, portal: str = SAMPLE_PORTAL) -> str:
    token = world.container.signer.sign("session", {"portal": portal, "user": "admin@acme.example", "csrf": CSRF,
                                                    "sid": "session-1", "gen": 0}, SESSION_TTL_SECONDS)
    return f"{SESSION_COOKIE}={token}"


def request(world: World, method: str, path: str, *, query: str = "", body: Any = None,
            signed_in: str | None = SAMPLE_PORTAL) -> dict[str, Any]:
    """One request to the settings function as the browser on the page sends it.

    The page, its static files and its API all go through the function's handler, on this world's
    container."""
    api = path.startswith("/settings/api/")
    event = http_event("settings_api_put.json" if api else "settings_static.json", raw_query=query,
                       body=body if isinstance(body, str) or body is None else json.dumps(body),
                       headers={"x-csrf-token": CSRF})
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.split("/", 3)[3]} if path.count("/") > 2 else {}
    event["cookies"] = [cookie(world, signed_in)] if signed_in else []
    return world.invoke("settings", event)


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], json.loads(response["body"])


class PageParser(HTMLParser):
    """What the tests read of the page: every element's attributes, and the choices of each option."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.choices: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.elements.append((tag, found))
        setting = found.get("data-setting")
        if tag == "select" and setting:
            self._select = setting
            self.choices.setdefault(setting, [])
        elif tag == "option" and self._select and found.get("value"):
            self.choices[self._select].append(found["value"])
        elif tag == "input" and found.get("type") == "radio" and setting:
            self.choices.setdefault(setting, []).append(found["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None

    def values(self, attribute: str) -> list[str]:
        return [attrs[attribute] for _, attrs in self.elements if attribute in attrs]


def settings_page(world: World) -> tuple[str, PageParser]:
    response = request(world, "GET", "/settings")
    assert response["statusCode"] == 200, response["body"][:300]
    parser = PageParser()
    parser.feed(response["body"])
    return response["body"], parser


def option_paths(data: dict[str, Any], prefix: str = "") -> set[str]:
    """Every option of the settings by its dotted path; lists of rows count as one option."""
    paths: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        if path in LIST_OPTIONS or not isinstance(value, dict):
            paths.add(path)
        else:
            paths |= option_paths(value, f"{path}.")
    return paths


def with_value(path: str, value: Any) -> dict[str, Any]:
    """Settings with one option set (and a number property, which the `hubspot_property` source needs)."""
    data: dict[str, Any] = {"customer_number": {"hubspot_property": "customer_no"}}
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return data


# -- the page -----------------------------------------------------------------------------------------


def test_after_connections_the_page_has_documents_customers_articles_deals_runs_and_deletion(world):
    page, parser = settings_page(world)

    sections = [attrs["id"] for tag, attrs in parser.elements if tag == "section"]
    assert sections == ["connections", "documents", "customers", "articles", "deals", "runs", "transfer",
                        "delete-data"]
    assert 'name="csrf-token"' in page and 'data-portal-id="102670506"' in page
    assert page.index('id="connections"') < page.index('id="sync-settings"')


def test_the_page_loads_only_its_own_script_and_stylesheet(world):
    _, parser = settings_page(world)

    loaded = [attrs.get("src") or attrs.get("href") for tag, attrs in parser.elements
              if tag == "link" or (tag == "script" and attrs.get("type") != "application/json")]
    assert loaded == ["data:,",  # no icon, so the browser asks nobody for /favicon.ico
                      f"{SAMPLE_PUBLIC_BASE}/settings/static/css/settings.css",
                      f"{SAMPLE_PUBLIC_BASE}/settings/static/js/api.js",  # first: the others call through it
                      f"{SAMPLE_PUBLIC_BASE}/settings/static/js/settings.js",
                      f"{SAMPLE_PUBLIC_BASE}/settings/static/js/settings_transfer.js"]
    assert parser.values("data-api") == [f"{SAMPLE_PUBLIC_BASE}/settings/api/logout",
                                         f"{SAMPLE_PUBLIC_BASE}/settings/api",
                                         f"{SAMPLE_PUBLIC_BASE}/settings/api/portal"]


def test_without_javascript_the_page_says_the_settings_need_it(world):
    page, _ = settings_page(world)

    noscript = re.search(r"<noscript>(.*?)</noscript>", page, re.S)
    assert noscript is not None and "need JavaScript" in noscript.group(1)
    assert re.search(r'<form id="sync-settings"[^>]*\bhidden\b', page)


def test_every_option_of_the_portal_settings_has_a_control(world):
    _, parser = settings_page(world)

    on_page = set(parser.values("data-setting")) | set(parser.values("data-list"))
    options = option_paths(PortalSettings().model_dump(mode="json")) - {"schema_version"}
    assert on_page == options
    assert parser.values("data-toggle") == ["contact_match"]  # the one option that can be switched off


def test_every_control_has_a_label(world):
    page, _ = settings_page(world)
    parser = PageParser()  # rows made from <template>s get their labels' ids as they are added
    parser.feed(re.sub(r"<template.*?</template>", "", page, flags=re.S))

    labelled = set(parser.values("for"))
    for tag, attrs in parser.elements:
        if tag in ("input", "select") and attrs.get("type") != "hidden":
            assert attrs.get("id") in labelled, f"{tag} {attrs} has no label"
    assert page.count('class="field-error"') >= len(set(parser.values("data-setting")))


def test_each_fixed_choice_is_offered_exactly_as_the_settings_model_accepts_it(world):
    _, parser = settings_page(world)

    for path, (model, field) in CHOICE_FIELDS.items():
        if path.startswith("trigger_stages."):
            continue  # offered in each trigger stage row, checked below
        assert parser.choices[path] == list(literal_values(model, field)), path
        for value in parser.choices[path]:
            PortalSettings.model_validate(with_value(path, value))
    assert parser.choices["articles.defaults.vat"] == ["25", "12", "6", "0"]


def test_trigger_stage_rows_and_field_mappings_offer_document_types_and_every_fortnox_customer_field(world):
    page, _ = settings_page(world)

    stage_row = page[page.index('<template id="trigger-stage-row">'):]
    assert re.findall(r'<option value="(\w+)">', stage_row[:stage_row.index("</template>")]) == ["invoice", "order"]
    mapping_row = page[page.index('<template id="mapping-row">'):]
    offered = re.findall(r'<option value="(\w+)">', mapping_row[:mapping_row.index("</template>")])
    PortalSettings.model_validate({"customer_fields": {"company": dict.fromkeys(offered, "name")}})
    assert len(offered) == len(settings_choices()["customer_fields"]) > 20


def test_every_choice_is_worded_for_a_person_not_shown_as_a_bare_code():
    for path, choices in settings_choices().items():
        for choice in choices:
            assert choice.label and (choice.label != choice.value or choice.value.isalpha()), (path, choice)
    assert {choice.label for choice in settings_choices()["company_match.fortnox_field"]} >= {
        "Organisation number", "Email", "Phone 1"}


def test_a_choice_the_model_gains_without_words_stops_the_page_rather_than_show_a_code(monkeypatch):
    monkeypatch.setitem(CHOICE_LABELS, "articles.policy", {"skip": "Skip", "create": "Create"})

    with pytest.raises(KeyError, match="placeholder"):
        settings_choices()


def test_when_fortnox_is_not_connected_the_page_says_so_to_its_pickers(world):
    _, parser = settings_page(world)
    assert parser.values("data-fortnox") == ["not-connected"]

    world.connect_fortnox()
    _, parser = settings_page(world)
    assert parser.values("data-fortnox") == ["connected"]
    assert {source.split(":")[0] for source in parser.values("data-source") if source} == {"hubspot", "fortnox"}


# -- static files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "kind"), [("js/api.js", "javascript"), ("js/settings.js", "javascript"),
                                            ("js/settings_transfer.js", "javascript"),
                                            ("css/settings.css", "text/css")])
def test_the_script_and_stylesheet_are_served_by_the_settings_function_and_reach_nowhere_else(world, path, kind):
    response = request(world, "GET", f"/settings/static/{path}")

    assert response["statusCode"] == 200
    assert kind in response["headers"]["Content-Type"]
    text = response["body"]
    assert len(text) > 1000
    assert not re.search(r"https?://|@import|//cdn", text)


# -- saving -------------------------------------------------------------------------------------------


def test_a_refused_save_names_each_wrong_field_so_the_page_can_show_it_there(world):
    settings = {"articles": {"placeholder_article_number": "NOT VALID!"},
                "trigger_stages": [{"pipeline_id": "default", "stage_id": ""}],
                "customer_defaults": {"currency": "kronor"}}

    status, body = answer(request(world, "PUT", "/settings/api/settings", body={"version": 0, "settings": settings}))

    assert (status, body["code"]) == (400, "INVALID_SETTINGS")
    by_field = {error["field"]: error["message"] for error in body["errors"]}
    assert set(by_field) == {"articles.placeholder_article_number", "trigger_stages.0.stage_id",
                             "customer_defaults.currency"}
    assert by_field["articles.placeholder_article_number"].startswith("'NOT VALID!' is not a Fortnox article number")
    assert "kronor" in by_field["customer_defaults.currency"]
    assert all(field in body["message"] for field in by_field) and body["hint"]
    assert answer(request(world, "GET", "/settings/api/settings"))[1]["version"] == 0


def test_a_body_that_is_not_settings_json_is_refused_with_its_message_and_no_field_errors(world):
    status, body = answer(request(world, "PUT", "/settings/api/settings", body="version=1"))

    assert (status, body["code"], body["errors"]) == (400, "INVALID_SETTINGS", [])
    assert "JSON" in body["message"]


def test_a_valid_save_still_comes_back_with_its_new_version(world):
    status, body = answer(request(world, "PUT", "/settings/api/settings",
                                  body={"version": 0, "settings": {"articles": {"policy": "skip"}}}))

    assert (status, body["version"], body["settings"]["articles"]["policy"]) == (200, 1, "skip")


# -- recent runs --------------------------------------------------------------------------------------


def make_runs(world: World) -> list[str]:
    """Three runs a second apart: a made invoice, a failed order, a queued customer sync."""
    runs, jobs = world.container.runs, world.container.jobs
    made = submit(runs, jobs, RunRequest(portal_id=SAMPLE_PORTAL, kind="create_document", trigger="workflow",
                                         object_type="deal", object_id="901", document_type="invoice",
                                         trigger_key=trigger_key("workflow", "invoice")))
    runs.succeed(SAMPLE_PORTAL, made.run_id, {"document_type": "invoice", "document_number": "1042"})
    world.clock.advance(1)
    failed = submit(runs, jobs, RunRequest(portal_id=SAMPLE_PORTAL, kind="create_document", trigger="poller",
                                           object_type="deal", object_id="902", document_type="order",
                                           trigger_key=trigger_key("stage", "order")))
    runs.fail(SAMPLE_PORTAL, failed.run_id, "NO_LINE_ITEMS", "Deal 902 has no line items.")
    world.clock.advance(1)
    queued = submit(runs, jobs, RunRequest(portal_id=SAMPLE_PORTAL, kind="sync_customer", trigger="card",
                                           object_type="company", object_id="77"))
    world.jobs()
    return [queued.run_id, failed.run_id, made.run_id]


def test_recent_runs_come_newest_first_with_their_outcome(world):
    expected = make_runs(world)

    status, body = answer(request(world, "GET", "/settings/api/runs"))

    assert status == 200
    assert [run["runId"] for run in body["runs"]] == expected
    queued, failed, made = body["runs"]
    assert (made["status"], made["documentType"], made["documentNumber"]) == ("succeeded", "invoice", "1042")
    assert (failed["status"], failed["trigger"], failed["errorMessage"]) == ("failed", "poller",
                                                                             "Deal 902 has no line items.")
    assert (queued["kind"], queued["objectType"], queued["objectId"]) == ("sync_customer", "company", "77")
    assert made["createdAt"].endswith("+00:00") and made["createdAt"] < failed["createdAt"]


def test_only_failed_runs_offer_a_replay_link_and_it_replays_that_run(world):
    queued, failed, made = make_runs(world)

    runs = answer(request(world, "GET", "/settings/api/runs"))[1]["runs"]

    links = {run["runId"]: run["replayUrl"] for run in runs}
    assert links[queued] is None and links[made] is None
    url = urlsplit(links[failed])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{SAMPLE_PUBLIC_BASE}/replay/{failed}"
    assert verify_replay(world.container.signer, parse_qs(url.query)["t"][0], failed) == SAMPLE_PORTAL


def test_recent_runs_need_the_session_and_show_only_its_portal(world):
    make_runs(world)

    assert answer(request(world, "GET", "/settings/api/runs", signed_in=None))[0] == 401
    status, body = answer(request(world, "GET", "/settings/api/runs", signed_in="999"))
    assert (status, body["runs"]) == (200, [])


def test_the_list_is_as_long_as_asked_within_bounds(world):
    make_runs(world)

    assert len(answer(request(world, "GET", "/settings/api/runs", query="limit=2"))[1]["runs"]) == 2
    assert answer(request(world, "GET", "/settings/api/runs", query="limit=two"))[0] == 400


@pytest.mark.parametrize(("query", "limit"), [
    (None, RECENT_RUNS_DEFAULT), ({}, RECENT_RUNS_DEFAULT), ({"limit": "5"}, 5), ({"limit": "0"}, 1),
    ({"limit": "5000"}, RECENT_RUNS_MAX),
])
def test_the_limit_is_kept_between_one_and_the_maximum(query, limit):
    assert recent_runs_limit(query) == limit


def test_the_runs_list_says_which_outcome_steps_hubspot_never_took():
    from hubnox.records import Run
    from hubnox.services.settings_page import run_summary

    run = Run(run_id="01KRUN", portal_id=SAMPLE_PORTAL, kind="create_document", trigger="workflow",
              status="succeeded", created_at=1.0, delivery="gave_up",
              progress={"told:note": "5", "gave_up:callback": "NOT_FOUND", "told:properties": "904"})
    shown = run_summary(run)
    assert (shown["delivery"], shown["notTold"]) == ("gave_up", ["the workflow's answer"])
    assert run_summary(run.model_copy(update={"progress": {}, "delivery": "delivered"}))["notTold"] == []


@pytest.mark.parametrize(("label", "name"), [
    ("Organisation number", "organisation_number"),
    ("Org. nr (Sverige)", "org_nr_sverige"),
    ("Fakturaadress på svenska", "fakturaadress_pa_svenska"),
    ("Öresund-kod", "oresund_kod"),
    ("2nd phone", "p_2nd_phone"),
    ("HS code", "x_hs_code"),
])
def test_a_new_propertys_internal_name_comes_from_its_label_as_hubspot_would_accept_it(label, name):
    assert property_name_for(label) == name
    assert read_new_property({"label": label, "fortnoxField": "Name"}).name == name


def test_a_new_propertys_label_is_kept_in_single_spaces_and_its_field_checked():
    wanted = read_new_property({"label": "  Invoice   e-mail ", "name": "invoice_email",
                                "fortnoxField": "EmailInvoice"})

    assert (wanted.label, wanted.name, wanted.fortnox_field) == ("Invoice e-mail", "invoice_email", "EmailInvoice")
    with pytest.raises(BadRequestError, match=r"^label:"):
        read_new_property({"label": "   ", "fortnoxField": "Name"})
    with pytest.raises(BadRequestError, match=r"^name:"):  # no letter to make a name of: the admin gives one
        read_new_property({"label": "!!!", "fortnoxField": "Name"})


def test_a_failure_a_later_run_made_good_loses_its_replay_and_others_keep_theirs():
    from hubnox.records import Run
    from hubnox.services.settings_page import superseded

    def run(run_id: str, status: str, trigger_key: str = "workflow:invoice", deal: str = "904") -> Run:
        return Run(run_id=run_id, portal_id=SAMPLE_PORTAL, kind="create_document", trigger="workflow",
                   object_type="deal", object_id=deal, trigger_key=trigger_key, status=status, created_at=1.0)

    newest_first = [run("01K4", "succeeded"), run("01K3", "failed", "manual:order"), run("01K2", "failed"),
                    run("01K1", "failed", deal="905"), run("01K0", "succeeded", deal="905")]
    assert superseded(newest_first) == {"01K2"}
