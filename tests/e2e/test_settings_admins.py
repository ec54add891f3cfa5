"""The settings page as admins meet it in HubSpot, in a real browser against the local stack: an
admin walks through every section at desktop width and at 360 px inside an iframe (as HubSpot shows
it), with a screenshot of each section; nothing is wider than the frame, the portal's domain wraps
inside its card, no choice is cut off, the delete confirmation looks like the other boxes, a notice
shows once, and the header names the user the same way after the install and from the card. A
second super admin gets in from the card; a user who is not a super admin is told why not.

Screenshots go to `$HUBNOX_SCREENSHOTS` when set, else to a temporary directory the test prints.
Chromium and Playwright as in `test_settings_page` (whose `browser` fixture this module shares).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sandbox.admin import SESSION_COOKIE, AdminBrowser, open_login_link, page_csrf
from tests.e2e.test_settings_page import TIMEOUT_MS, browser  # noqa: F401 (the shared browser fixture)

pytestmark = pytest.mark.e2e

SECTIONS = ("connections", "documents", "customers", "articles", "deals", "runs", "delete-data")
PHONE_WIDTH = 360
#: the host page HubSpot would be: the settings page in a 360 px iframe (served at hubnox's origin,
#: so the test needs no third-party cookies; the page's layout is what is under test)
HOST_PATH = "/_test/hubspot-host.html"

#: every visible element that reaches past the right edge of the viewport (hidden-for-sight ones aside)
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')].filter((e) => {
    const box = e.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(e).position === 'absolute') return false;
    return box.right > width + 1;
  }).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} `
                + `right=${Math.round(e.getBoundingClientRect().right)}`);
}"""

#: visible selects whose chosen option (what the closed select shows) is wider than the room the
#: select gives its text (HubSpot's property pickers aside: their choices are the portal's own
#: property labels, of any length; an open list shows every choice whole)
CLIPPED_SELECTS = """() => {
  const canvas = document.createElement('canvas').getContext('2d');
  const clipped = [];
  for (const select of document.querySelectorAll('select')) {
    const picker = /^hubspot:(companies|contacts|deals)/.test(select.dataset.source || '');
    if (select.getClientRects().length === 0 || picker) continue;
    const style = getComputedStyle(select);
    canvas.font = style.font;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
    for (const option of [select.options[select.selectedIndex]].filter(Boolean)) {
      const needed = canvas.measureText(option.text).width;
      const name = select.id || select.closest('[data-key]')?.dataset.key;
      if (needed > room) clipped.push(`${name}: "${option.text}" needs ${Math.round(needed)}/${Math.round(room)} px`);
    }
  }
  return clipped;
}"""

#: the portal's domain, and the card it must stay inside
DOMAIN_INSIDE_CARD = """() => {
  const card = document.getElementById('connections').getBoundingClientRect();
  const dd = document.querySelector('#connections dd');
  const range = document.createRange();
  range.selectNodeContents(dd);
  const text = range.getBoundingClientRect();
  return {card: [card.left, card.right], text: [text.left, text.right], lines: range.getClientRects().length};
}"""


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    wanted = os.environ.get("HUBNOX_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("settings-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nsettings page screenshots: {folder}")
    return folder


def context_for(browser: Any, gateway_url: str, cookie: str, width: int) -> Any:  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": gateway_url}])
    context.set_default_timeout(TIMEOUT_MS)
    return context


def host_page(context: Any, gateway_url: str) -> Any:
    """A tab showing HubSpot's side of things: the settings page in an iframe 360 px wide."""
    page = f"""<!doctype html><html><head><title>HubSpot</title></head><body style="margin:0;background:#eaf0f6">
      <iframe id="hubnox" title="hubnox settings" src="{gateway_url}/settings?notice=fortnox-connected"
              style="width:{PHONE_WIDTH}px;height:860px;border:0;background:#fff"></iframe></body></html>"""
    context.route(f"{gateway_url}{HOST_PATH}", lambda route: route.fulfill(status=200, body=page,
                                                                          content_type="text/html"))
    tab = context.new_page()
    tab.goto(f"{gateway_url}{HOST_PATH}")
    return tab


def walk_sections(frame: Any, folder: Path, prefix: str, shown_in: Any = None) -> list[str]:
    """Screenshot each visible section (in a frame: what the frame shows with the section at its top,
    as the admin sees it there); answer the files written."""
    written = []
    for section in SECTIONS:
        found = frame.locator(f"section#{section}")
        if not found.is_visible():
            continue
        path = folder / f"{prefix}-{section}.png"
        if shown_in is None:
            found.screenshot(path=str(path))
        else:
            found.evaluate("e => e.scrollIntoView({block: 'start'})")
            shown_in.screenshot(path=str(path))
        written.append(path.name)
    return written


def check_layout(frame: Any) -> None:
    overflowing = frame.evaluate(OVERFLOWING)
    assert not overflowing, "\n".join(overflowing)
    clipped = frame.evaluate(CLIPPED_SELECTS)
    assert not clipped, "\n".join(clipped)
    domain = frame.evaluate(DOMAIN_INSIDE_CARD)
    assert domain["card"][0] <= domain["text"][0] and domain["text"][1] <= domain["card"][1], domain
    confirm = frame.locator("#delete-confirm")
    styled = confirm.evaluate("e => [getComputedStyle(e).borderTopColor, getComputedStyle(e).borderRadius]")
    text_box = frame.locator('input[type="text"]').first.evaluate(
        "e => [getComputedStyle(e).borderTopColor, getComputedStyle(e).borderRadius]")
    assert styled == text_box  # the delete confirmation looks like every other box
    assert "beside it" not in frame.locator("#customers").inner_text()


def wait_loaded(frame: Any) -> None:
    frame.locator("#sync-settings").wait_for(state="visible")
    frame.locator("#settings-loading").wait_for(state="hidden")


def test_an_admin_walks_the_sections_at_desktop_width_and_in_a_360px_frame(browser, stack, connected_portal,  # noqa: F811
                                                                           screenshots):
    gateway = stack.running.gateway_url
    desktop = context_for(browser, gateway, connected_portal.login_cookie, 1200)
    try:
        tab = desktop.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{gateway}/settings?notice=fortnox-connected")
        wait_loaded(tab)
        assert tab.locator(".notice[role=status]").first.inner_text() == "Fortnox is connected."
        assert "notice=" not in tab.url  # shown once: the address drops it
        written = walk_sections(tab, screenshots, "desktop")
        check_layout(tab)
        tab.reload()
        wait_loaded(tab)
        assert "Fortnox is connected." not in tab.locator("main").inner_text()
        assert errors == []
    finally:
        desktop.close()

    phone = context_for(browser, gateway, connected_portal.login_cookie, 1000)
    try:
        tab = host_page(phone, gateway)
        frame = tab.frame_locator("iframe#hubnox")
        inner = tab.frame(url=re.compile(r".*/settings.*"))
        assert inner is not None
        wait_loaded(inner)
        assert inner.evaluate("document.documentElement.clientWidth") == PHONE_WIDTH
        assert "notice=" not in inner.url
        written += walk_sections(inner, screenshots, "phone", shown_in=tab.locator("iframe#hubnox"))
        check_layout(inner)
        # The rows stack at this width: the hint no longer speaks of a property "beside" the field.
        frame.get_by_role("button", name="Add a company field").click()
        check_layout(inner)
        tab.screenshot(path=str(screenshots / "phone-in-hubspot.png"))
        inner.goto(f"{gateway}/settings")
        wait_loaded(inner)
        assert "Fortnox is connected." not in inner.locator("main").inner_text()
    finally:
        phone.close()
    assert {"desktop-connections.png", "phone-connections.png", "phone-delete-data.png"} <= set(written)


def header_user(page_html: str) -> str:
    found = re.search(r'<header class="top">.*?<span class="muted">Portal \d+ · ([^<]*)</span>', page_html, re.S)
    assert found is not None, page_html[:500]
    return html.unescape(found.group(1)).strip()


def card_action(stack, portal_id: str, user_id: str | None, action: str = "open-settings") -> dict[str, Any]:
    """A click on the card's button, as HubSpot sends it for the user looking at a company."""
    spec: dict[str, Any] = {
        "portalId": int(portal_id), "appId": int(stack.environment["HUBSPOT_APP_ID"]), "method": "POST", "body": {},
        "url": f"{stack.running.gateway_url}/hubspot/card/actions/{action}?"
               + urlencode({"objectType": "0-2", "objectId": "1"})}
    if user_id:
        spec["userId"] = int(user_id)
    answer = stack.hubspot.post("/_sandbox/cards/fetch", json=spec).json()
    assert answer["status"] == 200, answer
    return dict(answer["body"])


def test_the_header_names_the_user_the_same_after_the_install_and_from_the_card(stack, connected_portal):
    after_install = header_user(connected_portal.settings_page)
    assert "@" in after_install  # the e-mail, not HubSpot's numeric user id

    link = card_action(stack, connected_portal.portal_id, None)["url"]
    admin = AdminBrowser()
    try:
        page = open_login_link(admin, link, portal_id=connected_portal.portal_id)
    finally:
        admin.close()
    assert page.status_code == 200
    assert header_user(page.text) == after_install


def test_a_missing_form_token_is_titled_for_what_it_is(stack, connected_portal):
    cookie = {"Cookie": f"{SESSION_COOKIE}={connected_portal.login_cookie}"}
    refused = stack.gateway.get("/oauth/fortnox/connect", headers=cookie)
    assert refused.status_code == 401
    assert "Your session's form token is missing" in html.unescape(refused.text)
    assert "Not signed in" not in refused.text


@pytest.fixture
def colleagues(stack, connected_portal) -> Iterator[dict[str, dict[str, Any]]]:
    """Two more users of the portal: Eva, a super admin, and Sam, who is not."""
    made = {}
    for name, admin in (("eva", True), ("sam", False)):
        answer = stack.hubspot.post(f"/_sandbox/portals/{connected_portal.portal_id}/users", json={
            "email": f"{name}@{connected_portal.portal_id}.example", "firstName": name.title(), "superAdmin": admin})
        assert answer.status_code == 201, answer.text
        made[name] = answer.json()
    yield made


def test_another_super_admin_gets_in_from_the_card_and_a_non_super_admin_is_told_why_not(
        stack, connected_portal, colleagues):
    eva, sam = colleagues["eva"], colleagues["sam"]

    clicked = card_action(stack, connected_portal.portal_id, eva["id"])
    assert clicked["ok"] is True
    admin = AdminBrowser()
    try:
        page = open_login_link(admin, clicked["url"], portal_id=connected_portal.portal_id, user_id=eva["id"])
        assert page.status_code == 200, page.text[:300]
        assert header_user(page.text) == eva["email"]
        token = page_csrf(page.text)
        saved = admin.request("GET", f"{stack.running.gateway_url}/settings/api/settings")
        assert saved.status_code == 200 and token
    finally:
        admin.close()

    refused = card_action(stack, connected_portal.portal_id, sam["id"])
    assert refused["ok"] is False and "url" not in refused
    assert "Only super admins of this HubSpot account can change hubnox's settings" in refused["message"]

    # Eva's link opened by Sam's browser: HubSpot says Sam is signing in, not Eva.
    link = card_action(stack, connected_portal.portal_id, eva["id"])["url"]
    admin = AdminBrowser()
    try:
        page = open_login_link(admin, link, portal_id=connected_portal.portal_id, user_id=sam["id"])
    finally:
        admin.close()
    assert page.status_code == 401 and not admin.session_cookie
