"""The example hosts under their real servers, driven by raw sockets and real OAuth client libraries.

Each host (Flask behind waitress, Starlette under uvicorn) runs as its own
process on 127.0.0.1, with the repo's rules.toml. "plain" hosts register no
redirect URI, so every deny is answered with the decision's status; "registered"
hosts know the redirect URIs of two clients, so a rule's deny at /authorize
goes back to the client as an RFC 6749 4.1.2.1 error redirect.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import requests
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import (
    BackendApplicationClient, LegacyApplicationClient, MissingTokenError, OAuth2Error, WebApplicationClient,
)
from requests_oauthlib import OAuth2Session

from _hostkit import (
    BILLING, CALLBACK, DEFAULT_RULES, GOOD_CLIENT, TODO, ExampleHost, Response, raw_request, shared_cases,
)
from _secret_guard import make_secret
from authrules import Request, Runner

NAMES = ("flask", "starlette")
SECRET = "s3cr3t-Value"
EVIL = "https://evil.example.net/cb"


def _quiet_runner() -> Runner:
    def drop(*_: Any) -> Any:
        raise structlog.DropEvent
    return Runner.from_toml(DEFAULT_RULES, logger=structlog.wrap_logger(structlog.ReturnLogger(), processors=[drop]))


@pytest.fixture(scope="module")
def reference() -> Runner:
    """The same rules in-process: what the hosts must answer is what these decisions say."""
    return _quiet_runner()


@pytest.fixture(scope="module", params=NAMES)
def plain_host(request: pytest.FixtureRequest) -> Iterator[ExampleHost]:
    with ExampleHost(request.param) as host:
        yield host


@pytest.fixture(scope="module", params=NAMES)
def registered_host(request: pytest.FixtureRequest) -> Iterator[ExampleHost]:
    with ExampleHost(request.param, "--client", f"{GOOD_CLIENT}={CALLBACK}", "--client",
                     f"CLIENT_ID={CALLBACK}") as host:
        yield host


@pytest.fixture(autouse=True)
def _loopback_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// token URLs unless told the transport is a test loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


# -- what an answer must look like ----------------------------------------------------------


def assert_token_error(response: Response | requests.Response | httpx.Response, status: int, error: str,
                       description: str | None = None, basic: bool | None = None) -> None:
    headers = {k.lower(): v for k, v in response.headers.items()}
    body = response.body if isinstance(response, Response) else response.content
    assert (response.status if isinstance(response, Response) else response.status_code) == status, body
    assert headers["content-type"].startswith("application/json")
    assert headers["cache-control"] == "no-store" and headers["pragma"] == "no-cache"
    payload = json.loads(body)
    assert payload["error"] == error
    if description is not None:
        assert payload["error_description"] == description
    assert set(payload) <= {"error", "error_description"}
    if status == 401:  # RFC 6749 5.2 / RFC 9110 11.6.1
        assert re.fullmatch(r'Basic realm="[^"]+"(, charset="UTF-8")?', headers["www-authenticate"])
    else:
        assert "www-authenticate" not in headers
    assert "location" not in headers


def assert_plain_page(response: Response, status: int, error: str) -> None:
    assert response.status == status, response.body
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    assert response.body.decode("ascii").startswith(error)


def assert_error_redirect(location: str, redirect_uri: str, error: str, description: str, state: str | None) -> None:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == redirect_uri
    assert not parts.fragment
    params = parse_qs(parts.query, keep_blank_values=True)
    assert params["error"] == [error]
    assert params["error_description"] == [description]
    if state is None:
        assert "state" not in params
    else:
        assert params["state"] == [state]


def assert_allowed(response: Response | requests.Response | httpx.Response, client_id: str,
                   scopes: list[str]) -> dict[str, Any]:
    status = response.status if isinstance(response, Response) else response.status_code
    body = response.body if isinstance(response, Response) else response.content
    assert status == 200, body
    payload = json.loads(body)
    assert payload["allowed"] is True
    assert payload["client_id"] == client_id
    assert payload["scopes"] == scopes
    return payload


# -- every shared case, as raw bytes ---------------------------------------------------------


def test_every_shared_case_gets_its_decision_status(plain_host: ExampleHost, reference: Runner) -> None:
    cases = shared_cases()
    for name, raw, expected in cases:
        decision = reference.evaluate(reference.parse(raw))
        # The in-process reference agrees with expected.json, so the status below is the one it implies.
        assert decision.outcome == expected["outcome"], name
        for key in ("rule_type", "client_id"):
            if key in expected:
                assert getattr(decision, key) == expected[key], name
        response = plain_host.send(raw)
        target = raw.split(b" ", 2)[1].decode()
        if decision.outcome == "allow":
            payload = assert_allowed(response, decision.client_id, list(decision.scopes))
            if "scopes" in expected:
                assert payload["scopes"] == expected["scopes"], name
            continue
        if decision.rule is None:
            assert decision.error == "invalid_request" and decision.status == 400, name
        if target.startswith("/oauth/token"):
            assert_token_error(response, decision.status, decision.error, decision.error_description)
        else:
            assert_plain_page(response, decision.status, decision.error)
    logged = [e for e in plain_host.events() if e.get("event") == "authrules.decision"]
    assert len(logged) >= len(cases)
    text = plain_host.log_text()
    for name, _raw, expected in cases:
        for secret in expected.get("secrets", ()):
            assert secret not in text, (name, secret)
    assert all(line.startswith("{") and json.loads(line) for line in plain_host.log_lines())


def test_authorize_denies_redirect_only_to_registered_uris(registered_host: ExampleHost,
                                                          reference: Runner) -> None:
    redirected = 0
    for name, raw, _expected in shared_cases():
        request = reference.parse(raw)
        decision = reference.evaluate(request)
        response = registered_host.send(raw)
        if decision.outcome == "allow":
            assert_allowed(response, decision.client_id, list(decision.scopes))
        elif request.endpoint == "token":
            assert_token_error(response, decision.status, decision.error, decision.error_description)
        elif decision.rule is None:  # malformed: client and redirect URI cannot be trusted, never redirect
            assert_plain_page(response, 400, "invalid_request")
        else:
            assert response.status == 302, name
            assert_error_redirect(response.headers["location"], CALLBACK, decision.error,
                                  decision.error_description, request.param("state"))
            redirected += 1
    assert redirected >= 3


@pytest.mark.parametrize("redirect_uri", [EVIL, CALLBACK + "/other", CALLBACK.upper()])
def test_unregistered_redirect_uri_gets_a_plain_page(registered_host: ExampleHost, redirect_uri: str) -> None:
    target = httpx.URL("/authorize", params={"response_type": "code", "client_id": GOOD_CLIENT,
                                             "redirect_uri": redirect_uri, "audience": TODO, "state": "xyz"})
    response = registered_host.send(raw_request("GET", str(target)))
    assert_plain_page(response, 401, "unauthorized")


def test_invalid_request_at_authorize_never_redirects(registered_host: ExampleHost) -> None:
    # Two different client ids: the request is ambiguous, so whose redirect URI would it be?
    target = (f"/authorize?response_type=code&client_id={GOOD_CLIENT}&client_id=CLIENT_ID"
              f"&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&audience={BILLING}&state=s")
    response = registered_host.send(raw_request("GET", target))
    assert_plain_page(response, 400, "invalid_request")


def test_implicit_flow_errors_go_in_the_fragment(registered_host: ExampleHost) -> None:
    target = httpx.URL("/authorize", params={"response_type": "token", "client_id": "CLIENT_ID",
                                             "redirect_uri": CALLBACK, "audience": BILLING, "state": "st8"})
    response = registered_host.send(raw_request("GET", str(target)))
    assert response.status == 302
    parts = urlsplit(response.headers["location"])
    assert not parts.query
    assert parse_qs(parts.fragment) == {"error": ["unauthorized"], "error_description": ["end_users_not_allowed"],
                                        "state": ["st8"]}


# -- requests-oauthlib ------------------------------------------------------------------------


class Recorder:
    """Every response a requests session received (a requests response hook)."""

    def __init__(self, session: requests.Session) -> None:
        self.responses: list[requests.Response] = []
        session.hooks["response"].append(lambda r, *a, **k: self.responses.append(r))

    @property
    def last(self) -> requests.Response:
        return self.responses[-1]


def test_requests_oauthlib_authorization_url(registered_host: ExampleHost) -> None:
    session = OAuth2Session(GOOD_CLIENT, redirect_uri=CALLBACK, scope=["openid", "read:todos"])
    url, state = session.authorization_url(registered_host.url("/authorize"), audience=BILLING)
    allowed = requests.get(url, allow_redirects=False, timeout=10)
    payload = assert_allowed(allowed, GOOD_CLIENT, ["openid", "read:todos"])
    assert payload["response_type"] == "code"

    url, state = session.authorization_url(registered_host.url("/authorize"), audience=TODO)
    denied = requests.get(url, allow_redirects=False, timeout=10)
    assert denied.status_code == 302
    assert_error_redirect(denied.headers["Location"], CALLBACK, "unauthorized", "end_users_not_allowed", state)
    # The client library reads the error back from the redirect, state checked.
    with pytest.raises(OAuth2Error) as raised:
        WebApplicationClient(GOOD_CLIENT).parse_request_uri_response(denied.headers["Location"], state=state)
    assert raised.value.error == "unauthorized" and raised.value.description == "end_users_not_allowed"


@pytest.mark.parametrize("basic", [True, False], ids=["client_secret_basic", "client_secret_post"])
def test_requests_oauthlib_code_exchange(registered_host: ExampleHost, basic: bool) -> None:
    token_url = registered_host.url("/oauth/token")
    for client_id, audience, outcome in ((GOOD_CLIENT, BILLING, "allow"), (GOOD_CLIENT, TODO, "deny"),
                                         ("CLIENT_ID", BILLING, "deny")):
        session = OAuth2Session(client_id, redirect_uri=CALLBACK)
        seen = Recorder(session)
        kwargs: dict[str, Any] = {"code": "SplxlOBeZQQYbYS6WxSbIA", "client_secret": SECRET, "audience": audience,
                                  "include_client_id": not basic}
        if outcome == "allow":
            with pytest.raises(MissingTokenError):  # the example answers its JSON, not a token
                session.fetch_token(token_url, **kwargs)
            payload = assert_allowed(seen.last, client_id, [])
            assert payload["grant_type"] == "authorization_code"
        else:
            with pytest.raises(OAuth2Error) as raised:
                session.fetch_token(token_url, **kwargs)
            assert raised.value.error == "unauthorized"
            assert raised.value.description == "end_users_not_allowed"
            assert_token_error(seen.last, 401, "unauthorized", "end_users_not_allowed")
        sent = seen.last.request
        assert sent.headers.get("Authorization", "").startswith("Basic ") is basic
        assert (f"client_secret={SECRET}" in (sent.body or "")) is (not basic)


def test_requests_oauthlib_password_refresh_and_client_credentials(registered_host: ExampleHost) -> None:
    token_url = registered_host.url("/oauth/token")
    # Resource owner password credentials.
    session = OAuth2Session(client=LegacyApplicationClient(GOOD_CLIENT))
    seen = Recorder(session)
    with pytest.raises(MissingTokenError):
        session.fetch_token(token_url, username="jane@example.com", password="Tr0ub4dor&3", client_id=GOOD_CLIENT,
                            client_secret=SECRET, include_client_id=True, audience=BILLING)
    assert assert_allowed(seen.last, GOOD_CLIENT, [])["grant_type"] == "password"
    with pytest.raises(OAuth2Error):
        session.fetch_token(token_url, username="jane@example.com", password="Tr0ub4dor&3", client_id=GOOD_CLIENT,
                            client_secret=SECRET, include_client_id=True, audience=TODO)
    assert_token_error(seen.last, 401, "unauthorized", "end_users_not_allowed")

    # Refresh, client authenticated with Basic.
    session = OAuth2Session(GOOD_CLIENT, token={"access_token": "a", "refresh_token": "rt-1", "token_type": "Bearer"})
    seen = Recorder(session)
    with pytest.raises(OAuth2Error):
        session.refresh_token(token_url, refresh_token="rt-1", auth=(GOOD_CLIENT, SECRET), audience=TODO)
    assert_token_error(seen.last, 401, "unauthorized", "end_users_not_allowed")
    assert seen.last.request.headers["Authorization"].startswith("Basic ")
    with pytest.raises(MissingTokenError):
        session.refresh_token(token_url, refresh_token="rt-1", auth=(GOOD_CLIENT, SECRET), audience=BILLING)
    assert assert_allowed(seen.last, GOOD_CLIENT, [])["grant_type"] == "refresh_token"

    # Client credentials.
    for client_id, outcome in ((GOOD_CLIENT, "allow"), ("CLIENT_ID", "deny")):
        session = OAuth2Session(client=BackendApplicationClient(client_id))
        seen = Recorder(session)
        with pytest.raises(MissingTokenError if outcome == "allow" else OAuth2Error):
            session.fetch_token(token_url, client_id=client_id, client_secret=SECRET, audience=BILLING,
                                scope=["read:invoices"])
        if outcome == "allow":
            payload = assert_allowed(seen.last, client_id, ["read:invoices"])
            assert payload["grant_type"] == "client_credentials"
        else:
            assert_token_error(seen.last, 401, "unauthorized", "end_users_not_allowed")


# -- Authlib ----------------------------------------------------------------------------------


def test_authlib_authorization_url_with_pkce(registered_host: ExampleHost) -> None:
    session = AuthlibSession(GOOD_CLIENT, redirect_uri=CALLBACK, scope="openid profile",
                             code_challenge_method="S256")
    verifier = "v" * 64
    url, state = session.create_authorization_url(registered_host.url("/authorize"), code_verifier=verifier,
                                                  audience=BILLING)
    assert "code_challenge=" in url
    assert_allowed(requests.get(url, allow_redirects=False, timeout=10), GOOD_CLIENT, ["openid", "profile"])
    url, state = session.create_authorization_url(registered_host.url("/authorize"), code_verifier=verifier)
    denied = requests.get(url, allow_redirects=False, timeout=10)  # no audience: denied by deny_missing
    assert denied.status_code == 302
    assert_error_redirect(denied.headers["Location"], CALLBACK, "unauthorized", "end_users_not_allowed", state)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_token_grants(registered_host: ExampleHost, method: str) -> None:
    token_url = registered_host.url("/oauth/token")

    def session(client_id: str) -> tuple[AuthlibSession, Recorder]:
        s = AuthlibSession(client_id, SECRET, token_endpoint_auth_method=method, redirect_uri=CALLBACK)
        return s, Recorder(s)

    grants: list[tuple[str, dict[str, Any]]] = [
        ("authorization_code", {"grant_type": "authorization_code", "code": "SplxlOBeZQQYbYS6WxSbIA"}),
        ("password", {"username": "jane@example.com", "password": "hunter2!"}),
        ("client_credentials", {"grant_type": "client_credentials"}),
    ]
    for grant, kwargs in grants:
        s, seen = session(GOOD_CLIENT)
        token = s.fetch_token(token_url, audience=BILLING, **kwargs)
        assert token["allowed"] is True and token["client_id"] == GOOD_CLIENT
        assert assert_allowed(seen.last, GOOD_CLIENT, [])["grant_type"] == grant
        sent = seen.last.request
        assert sent.headers.get("Authorization", "").startswith("Basic ") is (method == "client_secret_basic")
        for client_id, audience in ((GOOD_CLIENT, TODO), ("CLIENT_ID", BILLING)):
            s, seen = session(client_id)
            with pytest.raises(OAuthError) as raised:
                s.fetch_token(token_url, audience=audience, **kwargs)
            assert raised.value.error == "unauthorized"
            assert raised.value.description == "end_users_not_allowed"
            assert_token_error(seen.last, 401, "unauthorized", "end_users_not_allowed")

    s, seen = session(GOOD_CLIENT)
    refreshed = s.refresh_token(token_url, refresh_token="rt-1", audience=BILLING)
    assert refreshed["allowed"] is True
    assert assert_allowed(seen.last, GOOD_CLIENT, [])["grant_type"] == "refresh_token"
    with pytest.raises(OAuthError):
        s.refresh_token(token_url, refresh_token="rt-1", audience=TODO)
    assert_token_error(seen.last, 401, "unauthorized", "end_users_not_allowed")


def test_httpx_json_bodies(registered_host: ExampleHost) -> None:
    token_url = registered_host.url("/oauth/token")
    with httpx.Client(timeout=10) as client:
        allowed = client.post(token_url, json={"grant_type": "client_credentials", "client_id": GOOD_CLIENT,
                                               "client_secret": SECRET, "audience": [BILLING],
                                               "scope": "read:invoices"})
        assert assert_allowed(allowed, GOOD_CLIENT, ["read:invoices"])["grant_type"] == "client_credentials"
        denied = client.post(token_url, json={"grant_type": "client_credentials", "client_id": GOOD_CLIENT,
                                              "client_secret": SECRET, "audience": [BILLING, TODO]})
        assert_token_error(denied, 401, "unauthorized", "end_users_not_allowed")
        basic = client.post(token_url, auth=("CLIENT_ID", SECRET),
                            json={"grant_type": "client_credentials", "audience": BILLING})
        assert_token_error(basic, 401, "unauthorized", "end_users_not_allowed")
        not_an_object = client.post(token_url, json=["grant_type", "client_credentials"])
        assert_token_error(not_an_object, 400, "invalid_request")


# -- bodies, limits, paths ---------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("media", ["form", "json"])
def test_body_stays_readable_by_the_host(plain_host: ExampleHost, media: str, chunked: bool) -> None:
    fields = {"grant_type": "client_credentials", "client_id": GOOD_CLIENT, "client_secret": SECRET,
              "audience": BILLING, "scope": "read:invoices write:invoices"}
    if media == "form":
        body = str(httpx.QueryParams(fields)).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(fields).encode()
        content_type = "application/json"
    response = plain_host.send(raw_request("POST", "/oauth/token", {"Content-Type": content_type}, body,
                                           chunked=chunked))
    payload = assert_allowed(response, GOOD_CLIENT, ["read:invoices", "write:invoices"])
    assert payload["grant_type"] == "client_credentials"  # read by the host's own view from the body
    # And a deny that only the body can cause: the rules read the chunked body too.
    fields["audience"] = TODO
    body = (str(httpx.QueryParams(fields)) if media == "form" else json.dumps(fields)).encode()
    denied = plain_host.send(raw_request("POST", "/oauth/token", {"Content-Type": content_type}, body,
                                         chunked=chunked))
    assert_token_error(denied, 401, "unauthorized", "end_users_not_allowed")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_past_the_limit_is_413(plain_host: ExampleHost, chunked: bool) -> None:
    body = b"grant_type=client_credentials&audience=" + b"a" * (64 * 1024 + 10)
    response = plain_host.send(raw_request("POST", "/oauth/token",
                                           {"Content-Type": "application/x-www-form-urlencoded"}, body,
                                           chunked=chunked))
    assert_token_error(response, 413, "invalid_request", "the request body is too large")


@pytest.mark.parametrize("path", ["/oauth/token/", "//oauth/token", "/oauth//token", "/OAuth/Token",
                                  "/oauth/%74oken", "/x/../oauth/token", "/oauth/./token"])
def test_path_spellings_never_skip_the_rules(plain_host: ExampleHost, path: str) -> None:
    body = b"grant_type=client_credentials&audience=https%3A%2F%2Fbilling.example.com%2Fapi"
    response = plain_host.send(raw_request("POST", path, {"Content-Type": "application/x-www-form-urlencoded",
                                                           "Authorization": "Basic Q0xJRU5UX0lEOnMzY3IzdC1WYWx1ZQ=="},
                                           body))
    # Paths are compared in a normal form that merges every spelling a router might treat as the token
    # endpoint, so each one is decided by the rules (CLIENT_ID is denied), never passed on unguarded.
    assert_token_error(response, 401, "unauthorized", "end_users_not_allowed")


def test_other_paths_are_not_guarded(plain_host: ExampleHost) -> None:
    response = plain_host.send(raw_request("GET", "/health"))
    assert response.status == 404  # the host's own answer: the middleware did not touch it
    assert "cache-control" not in response.headers or response.headers["cache-control"] != "no-store"


def test_request_from_parts_matches_the_hosts(reference: Runner) -> None:
    """The wire form the tests send decodes to the request the rules see (a guard on the helpers above)."""
    raw = raw_request("POST", "/oauth/token", {"Content-Type": "application/json"},
                      json.dumps({"grant_type": "client_credentials", "client_id": GOOD_CLIENT,
                                  "audience": BILLING}).encode(), chunked=True)
    request = Request.from_http(raw)
    assert request.problem is None and request.client_id == GOOD_CLIENT and request.audiences == (BILLING,)


def test_the_starlette_access_log_leaves_the_query_out() -> None:
    """uvicorn logs the raw target; a percent-encoded name (pass%77ord) escapes every pattern, so no query."""
    secret = make_secret("access-log")
    target = (f"/authorize?response_type=code&client_id={GOOD_CLIENT}&audience={quote(BILLING, safe='')}"
              f"&pass%77ord={secret}")
    with ExampleHost("starlette", "--access-log") as host:
        assert host.send(raw_request("GET", target)).status == 200
        for _ in range(50):  # the access line is written after the answer
            if any(e.get("logger") == "uvicorn.access" for e in host.events()):
                break
            time.sleep(0.05)
        access = [e for e in host.events() if e.get("logger") == "uvicorn.access"]
        assert access and "/authorize?[query not logged]" in json.dumps(access[0])
        assert secret not in host.log_text()
