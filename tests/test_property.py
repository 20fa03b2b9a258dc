"""Property-based tests: generated OAuth requests against a small independent reference model.

The generator builds a request *plan* (which parameters, where, how often, how
encoded, form or JSON, Basic or body credentials) and renders it to raw
HTTP/1.1 bytes. The reference model decides the plan directly from what was
generated: it never parses bytes and shares no code with authrules. In
particular, which audience strings denote ``http://todoapi2.api`` is a table
written by hand from RFC 3986 section 6 and the rule's documented promises
(case, default port, trailing slash, dot segments, percent-encoded unreserved
characters, userinfo, fragment, trailing dot on the host).

Then: random bytes, random headers and mangled requests never crash the
runner; each gets a decision, and a refusal is a clean ``invalid_request``.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _logcap import capture
from _secret_guard import MARKER, find_leak, make_secret, register
from authrules import Request, Runner

LOGGER, SINK = capture()
RUNNER = Runner.from_dict({"rules": [
    {"name": "deny-todo-api", "type": "audience-deny",
     "settings": {"audiences": ["http://todoapi2.api"], "deny_missing": True, "error": "unauthorized",
                  "error_description": "end_users_not_allowed", "status": 401}},
    {"name": "deny-client", "type": "client-deny",
     "settings": {"clients": ["CLIENT_ID"], "error": "unauthorized", "error_description": "end_users_not_allowed",
                  "status": 401}}]}, logger=LOGGER, autoload=False, load=["audience-deny", "client-deny"])

# value -> does it denote http://todoapi2.api (hand-labelled, see the module docstring)
AUDIENCES = {
    "http://todoapi2.api": True, "http://todoapi2.api/": True, "HTTP://TODOAPI2.API": True,
    "http://TodoApi2.Api:80": True, "http://todoapi2.api:80/": True, "http://%74odoapi2.api": True,
    "http://todoapi2.api./": True, "http:TodoApi2.api": True, "http:///todoapi2.api/": True, "http://todoapi2.api#frag": True,
    "http://todoapi2.api/./": True, "http://todoapi2.api/a/..": True, "http://todoapi2.api:/": True,
    "https://todoapi2.api": False, "http://todoapi2.api:8080": False, "http://todoapi2.api/v1": False,
    "http://todoapi22.api": False, "http://todoapi2.api.evil.example": False, "http://todoapi2.api?x=1": False,
    "https://billing.example.com/api": False, "https://billing.example.com/api/": False, "urn:example:api": False,
    "my-api": False, "todoapi2.api": False, "http://todoapi2.apl": False,
}
CLIENTS = ["CLIENT_ID", "aB3dEfGh1JkLmNoP", "client-42", "CLIENT_ID2", "client_id", "CLIENT ID", "ClIeNt_Id",
           "c:with:colons", "c+plus%pct"]
GUARDED = ("client_id", "client_secret", "audience", "resource", "scope", "grant_type", "response_type", "state",
           "redirect_uri", "request_uri", "request", "client_assertion", "authorization_details")
SCOPES = ["openid", "email", "profile", "offline_access", "read:todos", "admin"]
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
SECRET_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                      max_size=12)


@dataclass
class Occurrence:
    name: str
    values: tuple[str, ...]   # more than one only as a JSON array
    where: str                # "query" or "body"


@dataclass
class Plan:
    endpoint: str
    body_format: str          # "form" or "json" (token endpoint only)
    occurrences: list[Occurrence] = field(default_factory=list)
    basic: tuple[str, str] | None = None
    basic_scheme: str = "Basic"
    basic_encoded: bool = False  # the Basic user-id percent-encoded (RFC 6749 2.3.1) though it need not be
    header_case: str = "title"
    charset: bool = False


# -- rendering a plan to bytes (the generator's side; the model never looks at this) ---------------

def percent_encode(value: str, rnd: random.Random) -> str:
    out = []
    for char in value:
        if char in UNRESERVED and rnd.random() < 0.8:
            out.append(char)
        elif char == " " and rnd.random() < 0.5:
            out.append("+")
        else:
            out.extend(f"%{b:02X}" if rnd.random() < 0.5 else f"%{b:02x}" for b in char.encode("utf-8"))
    return "".join(out)


def render(plan: Plan, rnd: random.Random) -> bytes:
    query = [o for o in plan.occurrences if o.where == "query"]
    body = [o for o in plan.occurrences if o.where == "body"]
    target = "/authorize" if plan.endpoint == "authorize" else "/oauth/token"
    if query:
        target += "?" + "&".join(f"{percent_encode(o.name, rnd)}={percent_encode(o.values[0], rnd)}" for o in query)
    name = (lambda n: n.title()) if plan.header_case == "title" else (lambda n: n.upper()) \
        if plan.header_case == "upper" else (lambda n: n.lower())
    headers = [(name("host"), "as.example.com")]
    payload = b""
    if plan.basic is not None:
        user, password = plan.basic
        if plan.basic_encoded or set(user) & set(":+%"):
            user = "".join(f"%{b:02X}" for b in user.encode("utf-8"))
        token = base64.b64encode(f"{user}:{percent_encode(password, rnd)}".encode()).decode()
        register(token, "the property tests' Basic credentials")
        headers.append((name("authorization"), f"{plan.basic_scheme} {token}"))
    if body:
        if plan.body_format == "json":
            pairs = [json.dumps(o.name) + ":" + (json.dumps(list(o.values)) if len(o.values) > 1 or rnd.random() < 0.2
                                                 and o.name in ("audience", "resource")
                                                 else json.dumps(o.values[0], ensure_ascii=rnd.random() < 0.5))
                     for o in body]
            payload = ("{" + ",".join(pairs) + "}").encode("utf-8")
            headers.append((name("content-type"), "application/json" + ("; charset=utf-8" if plan.charset else "")))
        else:
            payload = "&".join(f"{percent_encode(o.name, rnd)}={percent_encode(o.values[0], rnd)}"
                               for o in body).encode()
            headers.append((name("content-type"),
                            "application/x-www-form-urlencoded" + ("; charset=UTF-8" if plan.charset else "")))
        headers.append((name("content-length"), str(len(payload))))
    method = "GET" if plan.endpoint == "authorize" else "POST"
    rnd.shuffle(headers)
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("ascii") + payload


# -- the reference model ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    outcome: str
    rule: str | None
    error: str | None
    client_id: str | None = None
    scopes: tuple[str, ...] = ()


def model(plan: Plan) -> Expected:
    invalid = Expected("deny", None, "invalid_request")
    by_name: dict[str, list[tuple[str, ...]]] = {}
    for o in plan.occurrences:
        kept = tuple(dict.fromkeys(v for v in o.values if v))
        if kept:
            by_name.setdefault(o.name, []).append(kept)
    # RFC 6749 3.1: a parameter sent more than once must carry the same value each time (resource may repeat).
    # The empty string is a value: beside a non-empty one, even of resource, it is a conflict.
    given: dict[str, set[str]] = {}
    for o in plan.occurrences:
        given.setdefault(o.name, set()).update(o.values)
    if any("" in values and len(values) > 1 for values in given.values()):
        return invalid
    for name, seen in by_name.items():
        if name != "resource" and len(set(seen)) > 1:
            return invalid
    # A request with a body carries what authrules resolves there: a server reads the body, the query, or both.
    # Beside a JSON body, a query with any of them must hold all the body does (servers may skip JSON).
    if any(o.where == "body" for o in plan.occurrences):
        places = {name: ({v for o in plan.occurrences if o.name == name and o.where == "query" for v in o.values},
                         {v for o in plan.occurrences if o.name == name and o.where == "body" for v in o.values})
                  for name in GUARDED}
        if any(in_query and in_query != in_body for in_query, in_body in places.values()):
            return invalid
        if plan.body_format == "json" and any(in_query for in_query, _ in places.values()) and any(
                in_body and in_body != in_query for in_query, in_body in places.values()):
            return invalid
    param_client = by_name.get("client_id", [(None,)])[0][0]
    client = param_client
    if plan.basic is not None:
        if plan.basic_encoded or set(plan.basic[0]) & set(":+%"):
            return invalid  # RFC 6749 servers would decode the id, RFC 7617 ones would not
        if param_client is not None and param_client != plan.basic[0]:
            return invalid  # the header and the request disagree
        if "client_secret" in by_name:
            return invalid  # two client authentication methods
        client = plan.basic[0]
    audiences = [v for name in ("audience", "resource") for values in by_name.get(name, []) for v in values]
    scope = by_name.get("scope", [("",)])[0][0]
    scopes = tuple(dict.fromkeys(s for s in scope.split(" ") if s))
    if not audiences or any(AUDIENCES[a] for a in audiences):
        return Expected("deny", "deny-todo-api", "unauthorized", client, scopes)
    if client == "CLIENT_ID":
        return Expected("deny", "deny-client", "unauthorized", client, scopes)
    return Expected("allow", None, None, client, scopes)


# -- the generator -----------------------------------------------------------------------------------

@st.composite
def plans(draw) -> tuple[Plan, random.Random]:
    endpoint = draw(st.sampled_from(["authorize", "token"]))
    plan = Plan(endpoint, draw(st.sampled_from(["form", "json"])), header_case=draw(
        st.sampled_from(["title", "upper", "lower"])), charset=draw(st.booleans()))
    # A token request carries its parameters in the body; one in five spreads them over query and body too,
    # which is refused where a resolved parameter sits in the query only (servers read different places).
    spread = draw(st.integers(0, 4)) == 0
    where = st.sampled_from(["query"] if endpoint == "authorize" else ["query", "body", "body"] if spread
                            else ["body"])
    occ = plan.occurrences

    def add(name: str, value: str, *, array: tuple[str, ...] = ()) -> None:
        loc = draw(where)
        values = array if array and loc == "body" and plan.body_format == "json" else (value,)
        occ.append(Occurrence(name, values, loc))
        if draw(st.integers(0, 4)) == 0:  # repeated with the same value: allowed
            occ.append(Occurrence(name, values, loc))

    secrets = {n: make_secret(draw(SECRET_TEXT)) for n in ("client_secret", "password", "code", "refresh_token")}
    if endpoint == "token":
        grant = draw(st.sampled_from(["client_credentials", "password", "authorization_code", "refresh_token"]))
        add("grant_type", grant)
        if grant == "password":
            add("username", draw(st.sampled_from(["jane@example.com", "jäne doe", "j&ne=1"])))
            add("password", secrets["password"])
        elif grant != "client_credentials":
            add("code" if grant == "authorization_code" else "refresh_token",
                secrets["code" if grant == "authorization_code" else "refresh_token"])
    else:
        add("response_type", "code")
        add("state", draw(st.sampled_from(["xyz", "a b", "s&t=1"])))

    client = draw(st.sampled_from(["CLIENT_ID"] * 4 + CLIENTS))
    credentials = draw(st.sampled_from(["param", "basic", "basic+param", "body-secret", "none"]
                                       if endpoint == "token" else ["param", "none"]))
    if credentials in ("param", "basic+param", "body-secret"):
        add("client_id", client)
    if credentials == "body-secret":
        add("client_secret", secrets["client_secret"])
    if credentials.startswith("basic"):
        other = draw(st.sampled_from([client, client, draw(st.sampled_from(CLIENTS))]))
        plan.basic = (other, secrets["client_secret"])
        plan.basic_scheme = draw(st.sampled_from(["Basic", "basic", "BASIC"]))
        plan.basic_encoded = draw(st.integers(0, 3)) == 0
        if draw(st.integers(0, 5)) == 0:
            add("client_secret", secrets["client_secret"])  # a second method: refused

    names = list(AUDIENCES) + [a for a, todo in AUDIENCES.items() if not todo] * 3 + [""]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        name = draw(st.sampled_from(["audience", "resource"]))
        value = draw(st.sampled_from(names))
        extra = tuple(draw(st.lists(st.sampled_from(names), max_size=2)))
        add(name, value, array=(value, *extra))
    if draw(st.booleans()):
        tokens = draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=5))
        add("scope", draw(st.sampled_from([" ", "  "])).join(tokens))
    order = draw(st.permutations(range(len(occ))))
    plan.occurrences = [occ[i] for i in order]
    return plan, random.Random(draw(st.integers(0, 2**32)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_decisions_match_the_reference_model(generated):
    plan, rnd = generated
    raw = render(plan, rnd)
    start = len(SINK.lines)
    decision = RUNNER.evaluate(RUNNER.parse(raw))
    expected = model(plan)
    assert (decision.outcome, decision.rule, decision.error) == (expected.outcome, expected.rule, expected.error), \
        decision.error_description
    if expected.error != "invalid_request":
        assert decision.client_id == expected.client_id
        assert decision.scopes == expected.scopes
    # Nothing the client sent comes back in the description or reaches the log.
    shown = json.dumps(decision.to_dict())
    assert MARKER not in shown and find_leak(shown) is None
    assert find_leak("\n".join(SINK.lines[start:])) is None
    del SINK.lines[start:]


# -- nothing crashes the runner ------------------------------------------------------------------------

VALID = (b"POST /oauth/token HTTP/1.1\r\nHost: as.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n"
         b"Content-Length: 86\r\n\r\ngrant_type=client_credentials&client_id=c1&audience=https%3A%2F%2Fa.example&scope=a")
REFUSAL_STATUSES = {400, 413, 414, 431, 501}


def assert_decided(decision) -> None:
    assert decision.outcome in ("allow", "deny")
    if decision.rule is None and decision.outcome == "deny":
        assert decision.error == "invalid_request" and decision.status in REFUSAL_STATUSES
        assert decision.error_description and decision.error_description.isascii()
        assert all(c not in decision.error_description for c in "\r\n\"\\")
    else:
        assert decision.rule in (None, "deny-todo-api", "deny-client")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_get_a_decision(raw):
    assert_decided(RUNNER.evaluate(RUNNER.parse(raw)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=8), st.integers(0, 8))
def test_random_headers_get_a_decision(headers, at):
    lines = VALID.split(b"\r\n")
    injected = [f"{k}: {v}".encode("utf-8", "surrogatepass") for k, v in headers]
    raw = b"\r\n".join(lines[:1 + min(at, 4)] + injected + lines[1 + min(at, 4):])
    assert_decided(RUNNER.evaluate(RUNNER.parse(raw)))
    request = Request.from_parts("POST", "/oauth/token?x=1", [("content-type", "application/x-www-form-urlencoded"),
                                                               *headers], b"client_id=c1")
    assert_decided(RUNNER.evaluate(request))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.binary(max_size=4), st.integers(0, 3)), max_size=6))
def test_mangled_requests_get_a_decision(edits):
    raw = bytearray(VALID)
    for pos, data, cut in edits:
        raw[pos:pos + cut] = data
    assert_decided(RUNNER.evaluate(RUNNER.parse(bytes(raw))))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80), st.binary(max_size=200))
def test_random_parts_get_a_decision(method, target, body):
    request = Request.from_parts(method or "GET", target, [("content-type", "application/json")], body)
    assert_decided(RUNNER.evaluate(request))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()), st.text(max_size=40)),
       st.sampled_from(["Basic", "basic", "Bearer", "DPoP", ""]), st.sampled_from(["query", "body", "none"]))
def test_random_authorization_headers_get_a_decision_and_are_never_echoed(token, scheme, client_at):
    value = f"{scheme} {token}".strip()
    params = "grant_type=client_credentials&audience=https%3A%2F%2Fa.example"
    query = "?client_id=c1" if client_at == "query" else ""
    body = (params + ("&client_id=c1" if client_at == "body" else "")).encode()
    request = Request.from_parts("POST", f"/oauth/token{query}", [
        ("Authorization", value), ("Content-Type", "application/x-www-form-urlencoded")], body)
    decision = RUNNER.evaluate(request)
    assert_decided(decision)
    if len(token) >= 4:
        assert token not in (decision.error_description or "")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=12)), min_size=1, max_size=4))
def test_unknown_parameters_never_come_back_to_the_client(extra):
    """Whatever a client names its parameters or puts in them, a description never quotes it."""
    from urllib.parse import quote
    pairs = [(make_secret(n), make_secret(v)) for n, v in extra]
    query = "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs)
    for raw in (f"GET /authorize?client_id=c1&audience=https%3A%2F%2Fa.example&{query} HTTP/1.1\r\n\r\n".encode(),
                f"GET /authorize?client_id=c1&{query}&{query.replace('=', '=x', 1)} HTTP/1.1\r\n\r\n".encode()):
        decision = RUNNER.evaluate(RUNNER.parse(raw))
        assert_decided(decision)
        assert MARKER not in json.dumps(decision.to_dict())
