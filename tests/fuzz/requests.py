"""Hypothesis strategies for requests to hubnox's HTTP routes, as API Gateway (payload 2.0) passes them.

Every route of template.yaml, with random path parameters, methods (the route's own and ones no route
takes), query strings, headers, cookies and bodies: random bytes, text that is not UTF-8, JSON nested
past the parser, huge strings, wrong base64 flags, and JSON shaped like HubSpot's requests with random
values in their fields, so the fuzz also reaches the parsing behind the checks.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from sandbox.gateway import Gateway, HttpRoute
from tests.support.functions import REPO_ROOT, SAMPLE_PORTAL

#: every HttpApi route of the template, in a stable order
ROUTES: list[HttpRoute] = sorted(Gateway.from_template(REPO_ROOT / "template.yaml").routes,
                                 key=lambda route: route.route_key)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "TRACE", "FOO"]
QUERY_NAMES = ["portalId", "objectId", "objectType", "userId", "userEmail", "appId", "t", "limit", "login",
               "notice", "code", "state", "error", "error_description", "view"]
HEADER_NAMES = ["content-type", "origin", "x-csrf-token", "accept", "x-hubspot-signature",
                "x-hubspot-signature-version", "x-hubspot-signature-v3", "x-hubspot-request-timestamp"]
COOKIE_NAMES = ["hubnox_session", "hubnox_install", "other"]


@dataclass
class FuzzRequest:
    """One request: the route the gateway would give it to, and what the client sent."""

    route: HttpRoute
    method: str
    segments: list[str]
    query: list[tuple[str, str]]
    headers: dict[str, str]
    cookies: list[str]
    body: bytes | str | None
    base64_flag: bool
    signed: bool
    path_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def raw_path(self) -> str:
        return "/" + "/".join(self.segments)

    def event(self) -> dict[str, Any]:
        """The payload-2.0 event API Gateway would send for this request (unsigned)."""
        raw_query = urlencode(self.query)
        joined: dict[str, str] = {}
        for name, value in self.query:
            joined[name] = f"{joined[name]},{value}" if name in joined else value
        event: dict[str, Any] = {
            "version": "2.0", "routeKey": self.route.route_key, "rawPath": self.raw_path,
            "rawQueryString": raw_query, "headers": {"host": "hubnox.example.com", **self.headers},
            "requestContext": {
                "accountId": "123456789012", "apiId": "hubnox", "domainName": "hubnox.example.com",
                "domainPrefix": "hubnox", "requestId": "fuzz-request", "routeKey": self.route.route_key,
                "stage": "$default", "time": "06/Dec/2026:16:00:00 +0000", "timeEpoch": 0,
                "http": {"method": self.method, "path": self.raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "198.51.100.7", "userAgent": "fuzz"},
            },
        }
        if joined:
            event["queryStringParameters"] = joined
        if self.cookies:
            event["cookies"] = list(self.cookies)
        if self.path_parameters:
            event["pathParameters"] = dict(self.path_parameters)
        raw = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        if raw is None:
            event["isBase64Encoded"] = False
        elif isinstance(self.body, bytes) or self.base64_flag:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode("ascii"), True
        else:
            event["body"], event["isBase64Encoded"] = self.body, False
        return event


# -- values ------------------------------------------------------------------------------------------

#: text without lone surrogates (API Gateway's events are JSON, which cannot carry them)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
hostile_strings = st.sampled_from([
    "", " ", "..", ".", "%2e%2e", "a/b", "../../etc/passwd", "١٢٣", "²", "𝟗", "0", "-1", "1e3", "\x00", "\t\n",
    "x" * 300, "9" * 3000, "é" * 600, "<script>alert(1)</script>", "{{7*7}}", "%", "%ff", "%00", "\\", "'\"",
]).map(str)
ids = st.one_of(st.just(SAMPLE_PORTAL), st.just("904"), st.integers(-5, 10**25).map(str), hostile_strings, texts)
id_values: st.SearchStrategy[Any] = st.one_of(ids, st.integers(-(10**30), 10**30), st.booleans(), st.none(),
                                               st.floats(allow_nan=True), st.lists(st.integers(), max_size=2))
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts,
                        hostile_strings)
json_values = st.recursive(json_leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                  st.dictionaries(texts, inner, max_size=4)),
                           max_leaves=12)


def _nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


shaped_bodies = st.one_of(
    # a workflow execution (create-document, sync-customer)
    st.fixed_dictionaries({"callbackId": id_values, "origin": st.fixed_dictionaries({"portalId": id_values}),
                           "object": st.fixed_dictionaries({
                               "objectId": id_values,
                               "objectType": st.one_of(st.sampled_from(["DEAL", "COMPANY", "CONTACT"]), texts)}),
                           "inputFields": st.dictionaries(
                               st.sampled_from(["documentType", "printTemplate"]) | texts,
                               st.one_of(st.sampled_from(["invoice", "order", "default", ""]), json_values),
                               max_size=3)}),
    # an options fetch
    st.fixed_dictionaries({"origin": st.fixed_dictionaries({"portalId": id_values}),
                           "inputFieldName": st.one_of(st.sampled_from(["documentType", "printTemplate"]), texts),
                           "fetchOptions": st.one_of(json_values, st.fixed_dictionaries({"q": json_values})),
                           "inputFields": json_values}),
    # a card action, settings, a portal deletion
    st.fixed_dictionaries({"objectType": st.one_of(st.sampled_from(["0-3", "0-2", "deal"]), json_values),
                           "objectId": id_values, "documentType": json_values}),
    st.fixed_dictionaries({"version": json_values, "settings": json_values}),
    st.fixed_dictionaries({"confirm": id_values}),
).map(lambda value: json.dumps(value, default=str))

#: bodies by kind; each kind is drawn about as often as the others (shaped ones twice as often)
BODIES: dict[str, st.SearchStrategy[bytes | str | None]] = {
    "none": st.none(),
    "shaped": shaped_bodies,
    "binary": st.binary(max_size=200),
    "not utf-8": st.sampled_from([b"\xff\xfe\xfd", b"\xc3\x28", b"{\"a\": \"\xe9\"}", b"\x00" * 10]),
    "text": texts,
    "json": json_values.map(lambda value: json.dumps(value)),
    "nested": st.builds(_nested, st.sampled_from([500, 5_000, 100_000]), st.sampled_from(["list", "object"])),
    "odd": st.sampled_from(["x" * 1_000_000, '{"callbackId": "' + "a" * 500_000 + '"}', "9" * 5000,
                            '{"origin": {"portalId": ' + "9" * 5000 + "}}", "t=" + "a" * 10_000, "t=%ff%fe",
                            "{not json", "[]", "null", "\"text\"", "1"]),
}
BODY_KINDS = ["shaped", *BODIES]

def segments_for(route: HttpRoute) -> st.SearchStrategy[tuple[list[str], dict[str, str]]]:
    """The raw path segments of a request on `route` (its variables filled at random) and the path
    parameters API Gateway would pass (percent-decoded)."""
    parts: list[st.SearchStrategy[tuple[list[str], dict[str, str]]]] = []
    value = st.one_of(hostile_strings, texts, st.sampled_from(["01JDQ7Z5M3X8R2K9V4T6W0B1C7", "create-document",
                                                               "update-customer", "open-settings", "settings",
                                                               "runs", "css/settings.css", "js/settings.js"]))
    for segment in route.segments:
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1].rstrip("+")
            if segment.endswith("+}"):
                parts.append(st.lists(value.filter(bool), min_size=1, max_size=3).map(
                    lambda values, name=name: ([quote(v, safe="") for v in values], {name: "/".join(values)})))
            else:
                parts.append(value.filter(bool).map(
                    lambda v, name=name: ([quote(v, safe="")], {name: v})))
        else:
            parts.append(st.just(([segment], {})))

    def joined(pieces: list[tuple[list[str], dict[str, str]]]) -> tuple[list[str], dict[str, str]]:
        segments: list[str] = []
        params: dict[str, str] = {}
        for more, found in pieces:
            segments += more
            params.update(found)
        return segments, params

    return st.tuples(*parts).map(lambda pieces: joined(list(pieces)))


@st.composite
def requests(draw: st.DrawFn, route: HttpRoute, *, signed: bool) -> FuzzRequest:
    """A request on `route`; `signed` ones carry HubSpot's v3 signature (added when it is sent)."""
    own = ["GET", "POST", "PUT", "DELETE"] if route.method == "ANY" else [route.method]
    # mostly the route's own method, so the fuzz gets past routing; sometimes any other
    method = draw(st.sampled_from(own)) if draw(st.integers(0, 3)) else draw(st.sampled_from(METHODS))
    segments, params = draw(segments_for(route))
    query = draw(st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), texts), ids), max_size=6))
    headers = draw(st.dictionaries(st.one_of(st.sampled_from(HEADER_NAMES), texts.map(str.lower)),
                                   st.one_of(hostile_strings, texts,
                                             st.sampled_from(["application/json", "text/plain",
                                                              "application/x-www-form-urlencoded",
                                                              "https://hubnox.example.com", "v2", "v3"])),
                                   max_size=4))
    headers = {name: value for name, value in headers.items() if name and name.isascii()}
    cookies = draw(st.lists(st.builds(lambda name, value: f"{name}={value}",
                                      st.one_of(st.sampled_from(COOKIE_NAMES), texts), st.one_of(texts, ids)),
                            max_size=3))
    body = draw(BODIES[draw(st.sampled_from(BODY_KINDS))])
    base64_flag = draw(st.integers(0, 3)) == 0  # as API Gateway passes form posts and binary bodies
    return FuzzRequest(route, method, segments, query, headers, cookies, body, base64_flag, signed, params)


def known_hostile(route: HttpRoute, *, signed: bool) -> list[FuzzRequest]:
    """Requests of every kind the security review found, on `route`, tried before the random ones."""
    own = "GET" if route.method == "ANY" else route.method

    def on(value: str, **changes: Any) -> FuzzRequest:
        segments: list[str] = []
        params: dict[str, str] = {}
        for segment in route.segments:
            if segment.startswith("{"):
                segments.append(quote(value, safe=""))
                params[segment[1:-1].rstrip("+")] = value
            else:
                segments.append(segment)
        fields: dict[str, Any] = {"method": own, "query": [], "headers": {}, "cookies": [], "body": None,
                                  "base64_flag": False, **changes}
        return FuzzRequest(route, segments=segments, signed=signed, path_parameters=params, **fields)

    execution = {"callbackId": "x" * 3000, "origin": {"portalId": "²"}, "object": {"objectId": "١٢٣",
                                                                                  "objectType": "DEAL"}}
    return [
        on("a", method="PROPFIND"),
        on("a", method="FOO", body="{}"),
        on("a", body="[" * 100_000),
        on("a", body='{"a":' * 5_000 + "1" + "}" * 5_000),
        on("a", body=b"\xff\xfe{\"callbackId\": \"\xe9\"}"),
        on("a", body="%%% not base64", base64_flag=True),
        on("a", body=json.dumps(execution)),
        on("a", body=json.dumps({**execution, "callbackId": "", "origin": {"portalId": "9" * 3000}})),
        on("a", body=json.dumps({"origin": {"portalId": "١٢٣"}, "inputFieldName": "printTemplate"})),
        on("a", body=json.dumps({"objectType": "0-3", "objectId": "²", "documentType": "invoice"})),
        on("..", query=[("t", "x")]),
        on("%2e%2e"),
        on("a/b"),
        on("x" * 300),
        on("9" * 3000),
        on("a", query=[("portalId", "²"), ("objectId", "١٢٣"), ("objectType", "0-3"), ("limit", "²")]),
        on("a", query=[("portalId", "9" * 3000), ("objectId", "9" * 3000), ("userId", "x" * 3000)]),
        on("a", query=[("code", "c" * 3000), ("state", "s" * 3000), ("login", "l" * 3000)]),
        on("a", cookies=["hubnox_session=" + "x" * 5000, "hubnox_install=%ff"]),
    ]
