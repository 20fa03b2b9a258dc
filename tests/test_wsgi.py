"""authrules.wsgi.AuthrulesMiddleware under a real WSGI server (waitress, in a thread), and Request.from_wsgi.

The app behind the middleware is a plain WSGI callable that reports what it
received: the decision, the body it could still read, CONTENT_LENGTH. A few
properties need an environ in hand (that a too-large body is never read, that
a short one is caught); those tests build the environ PEP 3333 describes.
"""

from __future__ import annotations

import io
import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import waitress
from waitress import wasyncore

from _hostkit import BILLING, CALLBACK, GOOD_CLIENT, SEED_RULES, TODO, Probe, quiet_logger, raw_request, send_raw
from authrules import ConfigError, Request, Runner
from authrules.wsgi import DECISION_KEY, AuthrulesMiddleware

SECRET = "s3cr3t-Value"


class Http:
    """requests, one connection per request (``Connection: close``), so the server can stop at once."""

    @staticmethod
    def get(url: str, **kwargs: Any) -> requests.Response:
        return requests.get(url, headers={"Connection": "close", **kwargs.pop("headers", {})}, **kwargs)

    @staticmethod
    def post(url: str, **kwargs: Any) -> requests.Response:
        return requests.post(url, headers={"Connection": "close", **kwargs.pop("headers", {})}, **kwargs)


http = Http()


def report_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """What the host's app sees: the decision, and the body it can read itself."""
    length = environ.get("CONTENT_LENGTH")
    body = environ["wsgi.input"].read(int(length)) if length else b""
    decision = environ.get(DECISION_KEY)
    payload = {
        "decision": decision.to_dict() if decision is not None else None,
        "endpoint": decision.endpoint if decision is not None else None,
        "body": body.decode("latin-1"),
        "content_length": length,
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
    }
    data = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


@contextmanager
def serve(app: Any) -> Iterator[int]:
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        # Close every socket on the loop's own thread (closing under a running select() races it);
        # with nothing left to watch, the loop ends.
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:
            # The trigger pipe is gone (seen once in ~60 runs, "Bad file descriptor" with the test itself
            # passed): the loop cannot be woken, so close its sockets from here; select() then ends it.
            wasyncore.close_all(server._map)
        thread.join(10)
        assert not thread.is_alive(), "the waitress loop did not stop"
        server.task_dispatcher.shutdown()


def runner_with(*rules: dict[str, Any], probe: Probe | None = None) -> Runner:
    return Runner.from_dict({"rules": list(rules)}, logger=quiet_logger(), plugins=[probe or Probe()])


@pytest.fixture
def seed() -> Runner:
    return runner_with(*SEED_RULES)


def form(**fields: str) -> dict[str, str]:
    return fields


# -- allowed requests reach the app, body intact ----------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("media", ["form", "json"])
def test_allowed_request_reaches_the_app_with_decision_and_body(seed: Runner, media: str, chunked: bool) -> None:
    fields = {"grant_type": "client_credentials", "client_id": GOOD_CLIENT, "client_secret": SECRET,
              "audience": BILLING, "scope": "read write"}
    body = (json.dumps(fields) if media == "json" else "&".join(f"{k}={v}" for k, v in fields.items())
            .replace(":", "%3A").replace("/", "%2F").replace(" ", "+")).encode()
    content_type = "application/json" if media == "json" else "application/x-www-form-urlencoded"
    app = AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"])
    with serve(app) as port:
        response = send_raw(port, raw_request("POST", "/oauth/token", {"Content-Type": content_type}, body,
                                              chunked=chunked))
    assert response.status == 200
    seen = response.json()
    assert seen["body"] == body.decode()  # the app reads every byte the client sent
    assert seen["content_length"] == str(len(body))  # and CONTENT_LENGTH says how many
    assert seen["transfer_encoding"] is None
    assert seen["decision"]["outcome"] == "allow"
    assert seen["decision"]["client_id"] == GOOD_CLIENT
    assert seen["decision"]["scopes"] == ["read", "write"]


def test_unguarded_paths_pass_untouched(seed: Runner) -> None:
    reads: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reads.append(id(environ["wsgi.input"]))
        assert DECISION_KEY not in environ
        return report_app(environ, start_response)

    with serve(AuthrulesMiddleware(app, seed, token_paths=["/oauth/token"])) as port:
        response = send_raw(port, raw_request("POST", "/other", {"Content-Type": "text/plain"}, b"hello"))
    assert response.status == 200 and response.json()["body"] == "hello"
    assert response.json()["decision"] is None


def test_denied_request_never_reaches_the_app(seed: Runner) -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        return report_app(environ, start_response)

    with serve(AuthrulesMiddleware(app, seed, token_paths=["/oauth/token"], authorize_paths=["/authorize"])) as port:
        token = http.post(f"http://127.0.0.1:{port}/oauth/token", auth=("CLIENT_ID", SECRET),
                              data={"grant_type": "client_credentials", "audience": BILLING}, timeout=10)
        authorize = http.get(f"http://127.0.0.1:{port}/authorize", allow_redirects=False, timeout=10,
                                 params={"response_type": "code", "client_id": GOOD_CLIENT, "audience": TODO})
    assert calls == []
    assert token.status_code == 401 and token.json() == {"error": "unauthorized",
                                                         "error_description": "end_users_not_allowed"}
    assert token.headers["Cache-Control"] == "no-store" and token.headers["Pragma"] == "no-cache"
    assert token.headers["WWW-Authenticate"] == 'Basic realm="oauth", charset="UTF-8"'
    assert authorize.status_code == 401 and "Location" not in authorize.headers
    assert authorize.text == "unauthorized: end_users_not_allowed\n"


# -- what the host hands the rules -----------------------------------------------------------


def test_user_getter_and_bind_reach_the_rules() -> None:
    probe = Probe()
    runner = runner_with({"name": "probe", "type": "probe"}, {"name": "admins", "type": "need-role"},
                         *SEED_RULES, probe=probe)
    bound = {"rt-bound-to-todo": TODO}

    def user_getter(environ: dict[str, Any]) -> dict[str, Any] | None:
        name = environ.get("HTTP_X_TEST_USER")
        return {"id": name, "roles": ["admin"] if name == "root" else []} if name else None

    def bind(environ: dict[str, Any], request: Request) -> dict[str, Any] | None:
        audience = bound.get(request.param("refresh_token") or "")
        return {"context": {"refresh_audience": audience}, "audiences": [audience]} if audience else None

    app = AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"], user_getter=user_getter, bind=bind)
    url_data = {"grant_type": "refresh_token", "client_id": GOOD_CLIENT, "audience": BILLING}
    with serve(app) as port:
        url = f"http://127.0.0.1:{port}/oauth/token"
        ok = http.post(url, data={**url_data, "refresh_token": "rt-free"}, headers={"X-Test-User": "root"},
                           timeout=10)
        no_role = http.post(url, data={**url_data, "refresh_token": "rt-free"}, headers={"X-Test-User": "eve"},
                                timeout=10)
        # The refresh token is bound to the todo API: the host says so, and the audience rule denies.
        bound_deny = http.post(url, data={**url_data, "refresh_token": "rt-bound-to-todo"},
                                   headers={"X-Test-User": "root"}, timeout=10)
    assert ok.status_code == 200
    assert no_role.status_code == 403 and no_role.json()["error_description"] == "role_required"
    assert bound_deny.status_code == 401 and bound_deny.json()["error"] == "unauthorized"
    assert dict(probe.seen[0].user) == {"id": "root", "roles": ("admin",)}
    assert probe.seen[1].user["id"] == "eve"
    last = probe.seen[2]
    assert last.context["refresh_audience"] == TODO and set(last.audiences) == {BILLING, TODO}
    assert all(r.endpoint == "token" for r in probe.seen)


def test_custom_paths_name_the_endpoint() -> None:
    probe = Probe()
    runner = runner_with({"name": "probe", "type": "probe"},
                         {"name": "no", "type": "deny-all", "settings": {"status": 400, "error": "invalid_scope"}},
                         probe=probe)
    app = AuthrulesMiddleware(report_app, runner, authorize_paths=["/oauth2/v1/auth"],
                              token_paths=["/oauth2/v1/tok", "/oauth/revoke"])
    with serve(app) as port:
        auth = send_raw(port, raw_request("GET", "/oauth2/v1/auth?response_type=code&client_id=c1"))
        tok = send_raw(port, raw_request("POST", "/oauth2/v1/tok", {"Content-Type": "application/x-www-form-urlencoded"},
                                         b"grant_type=client_credentials&client_id=c1"))
        revoke = send_raw(port, raw_request("POST", "/oauth/revoke",
                                            {"Content-Type": "application/x-www-form-urlencoded"},
                                            b"token=abc&client_id=c1"))
    assert [r.endpoint for r in probe.seen] == ["authorize", "token", "revoke"]
    assert auth.status == 400 and auth.headers["content-type"].startswith("text/plain")
    for answer in (tok, revoke):
        assert answer.status == 400 and answer.json() == {"error": "invalid_scope",
                                                          "error_description": "denied_by_test"}
        assert "www-authenticate" not in answer.headers  # a challenge goes with 401 only


# -- the authorization endpoint's error redirect ------------------------------------------------


class Registry:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, client_id: str, redirect_uri: str | None) -> Any:
        self.asked.append((client_id, redirect_uri))
        return self.answer(client_id, redirect_uri) if callable(self.answer) else self.answer


def authorize(seed: Runner, checker: Any, query: dict[str, str], **options: Any) -> Any:
    app = AuthrulesMiddleware(report_app, seed, authorize_paths=["/authorize"], redirect_uri_checker=checker,
                              **options)
    with serve(app) as port:
        return http.get(f"http://127.0.0.1:{port}/authorize", params=query, allow_redirects=False, timeout=10)


DENIED = {"response_type": "code", "client_id": GOOD_CLIENT, "audience": TODO, "state": "af0ifjsldkj"}


def test_redirect_carries_error_description_and_state(seed: Runner) -> None:
    checker = Registry(True)
    response = authorize(seed, checker, {**DENIED, "redirect_uri": CALLBACK})
    assert checker.asked == [(GOOD_CLIENT, CALLBACK)]
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    assert parse_qs(location.query) == {"error": ["unauthorized"], "error_description": ["end_users_not_allowed"],
                                        "state": ["af0ifjsldkj"]}


def test_redirect_keeps_the_redirect_uri_query_and_adds_iss(seed: Runner) -> None:
    response = authorize(seed, Registry(True), {**DENIED, "redirect_uri": CALLBACK + "?tenant=a"},
                         issuer="https://login.example.com")
    location = urlsplit(response.headers["Location"])
    assert parse_qs(location.query) == {"tenant": ["a"], "error": ["unauthorized"],
                                        "error_description": ["end_users_not_allowed"], "state": ["af0ifjsldkj"],
                                        "iss": ["https://login.example.com"]}


def test_checker_may_supply_the_one_registered_uri(seed: Runner) -> None:
    checker = Registry(lambda client_id, uri: CALLBACK if uri is None else uri == CALLBACK)
    response = authorize(seed, checker, DENIED)  # no redirect_uri in the request
    assert checker.asked == [(GOOD_CLIENT, None)]
    assert response.status_code == 302 and response.headers["Location"].startswith(CALLBACK + "?error=")
    # True with no redirect_uri to go to, or another URI than the one asked about: no redirect.
    assert authorize(seed, Registry(True), DENIED).status_code == 401
    assert authorize(seed, Registry("https://other.example/cb"), {**DENIED, "redirect_uri": CALLBACK}
                     ).status_code == 401


@pytest.mark.parametrize("redirect_uri", [CALLBACK + "#frag", "javascript:alert(1)", "data:text/html,x",
                                          "/relative/cb"])
def test_never_redirect_to_a_uri_that_cannot_be_one(seed: Runner, redirect_uri: str) -> None:
    response = authorize(seed, Registry(True), {**DENIED, "redirect_uri": redirect_uri})
    assert response.status_code == 401 and "Location" not in response.headers


def test_unconfirmed_uri_and_no_checker_get_a_plain_page(seed: Runner) -> None:
    for checker in (Registry(False), Registry(None), None):
        response = authorize(seed, checker, {**DENIED, "redirect_uri": CALLBACK})
        assert response.status_code == 401 and "Location" not in response.headers
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_malformed_request_never_asks_the_checker(seed: Runner) -> None:
    checker = Registry(True)
    response = authorize(seed, checker, {**DENIED, "redirect_uri": CALLBACK, "scope": "a\"b"})
    assert response.status_code == 400 and response.text.startswith("invalid_request")
    assert checker.asked == []


@pytest.mark.parametrize("response_type,mode,where", [
    ("token", None, "fragment"), ("id_token token", None, "fragment"), ("code", "fragment", "fragment"),
    ("code", "query", "query"), ("token", "query", "fragment"), ("code id_token", None, "fragment")])
def test_implicit_responses_carry_errors_in_the_fragment(seed: Runner, response_type: str, mode: str | None,
                                                         where: str) -> None:
    query = {**DENIED, "response_type": response_type, "redirect_uri": CALLBACK}
    if mode:
        query["response_mode"] = mode
    location = urlsplit(authorize(seed, Registry(True), query).headers["Location"])
    carried = location.fragment if where == "fragment" else location.query
    other = location.query if where == "fragment" else location.fragment
    assert parse_qs(carried)["error"] == ["unauthorized"] and not other


def test_realm_names_the_challenge(seed: Runner) -> None:
    app = AuthrulesMiddleware(report_app, seed, token_paths=["/token"], realm="login.example.com")
    with serve(app) as port:
        response = http.post(f"http://127.0.0.1:{port}/token", auth=("CLIENT_ID", SECRET), timeout=10,
                                 data={"grant_type": "client_credentials", "audience": BILLING})
    assert response.headers["WWW-Authenticate"] == 'Basic realm="login.example.com", charset="UTF-8"'


# -- bodies, read under the runner's limits -----------------------------------------------------


class CountingInput(io.RawIOBase):
    """A wsgi.input that never ends and counts what was read from it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), 65536)
        buffer[:n] = b"a" * n
        self.bytes_read += n
        return n


def environ_for(path: str, body_stream: Any, **extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": body_stream, "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
            "CONTENT_TYPE": "application/x-www-form-urlencoded", **extra}


def call(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"], started["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return started["status"], started["headers"], body


# 4,401 digits: past the 4,300 that int() converts, so a length read with int() alone raised ValueError.
@pytest.mark.parametrize("declared", [str(10 ** 9), "1" + "0" * 30, "0" * 4400 + "9" * 30, "9" * 4401])
def test_body_past_content_length_limit_is_never_read(seed: Runner, declared: str) -> None:
    stream = CountingInput()
    status, headers, body = call(AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"]),
                                 environ_for("/oauth/token", stream, CONTENT_LENGTH=declared))
    assert status.startswith("413")
    assert json.loads(body)["error"] == "invalid_request"
    assert stream.bytes_read == 0


def test_a_content_length_with_thousands_of_leading_zeros_is_its_value(seed: Runner) -> None:
    body = b"grant_type=client_credentials&client_id=" + GOOD_CLIENT.encode()
    status, _, _ = call(AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"]),
                        environ_for("/oauth/token", io.BytesIO(body), CONTENT_LENGTH="0" * 4400 + str(len(body)),
                                    CONTENT_TYPE="application/x-www-form-urlencoded"))
    assert status.startswith("401")  # read and decided: the seed rules deny a request with no audience


def test_unterminated_body_is_read_one_byte_past_the_limit_at_most() -> None:
    runner = Runner.from_dict({"limits": {"max_body_bytes": 1000}, "rules": SEED_RULES}, logger=quiet_logger())
    stream = CountingInput()
    environ = environ_for("/oauth/token", io.BufferedReader(stream, 64), **{"wsgi.input_terminated": True})
    status, _, _ = call(AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"]), environ)
    assert status.startswith("413")
    assert stream.bytes_read <= 1001 + 64  # the limit plus one, and one buffer of read-ahead


def test_body_shorter_than_content_length_is_invalid(seed: Runner) -> None:
    environ = environ_for("/oauth/token", io.BytesIO(b"grant_type=x"), CONTENT_LENGTH="100")
    status, _, body = call(AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"]), environ)
    assert status.startswith("400")
    assert json.loads(body) == {"error": "invalid_request",
                                "error_description": "the request body is shorter than its Content-Length"}


def test_limits_follow_the_runner_after_reload(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    rules = ('[[rules]]\nname = "c"\ntype = "client-deny"\n[rules.settings]\nclients = ["CLIENT_ID"]\n')
    path.write_text("[limits]\nmax_body_bytes = 100000\n" + rules)
    runner = Runner.from_toml(path, logger=quiet_logger())
    app = AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"])
    body = b"grant_type=client_credentials&client_id=x&pad=" + b"a" * 2000
    environ = lambda: environ_for("/oauth/token", io.BytesIO(body), CONTENT_LENGTH=str(len(body)))  # noqa: E731
    assert call(app, environ())[0].startswith("200")
    path.write_text("[limits]\nmax_body_bytes = 1000\n" + rules)
    assert runner.reload() is True
    assert call(app, environ())[0].startswith("413")


# -- async rules, construction ------------------------------------------------------------------


def test_async_rules_are_refused_at_construction() -> None:
    runner = runner_with({"name": "slow-probe", "type": "probe-async"}, *SEED_RULES)
    with pytest.raises(ConfigError) as raised:
        AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"])
    message = str(raised.value)
    assert "slow-probe" in message and "authrules.asgi" in message


def test_reload_into_async_rules_is_refused_for_a_sync_host(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    sync = '[[rules]]\nname = "p"\ntype = "probe"\n\n[[rules]]\nname = "no"\ntype = "deny-all"\n'
    path.write_text(sync)
    runner = Runner.from_toml(path, logger=quiet_logger(), plugins=[Probe()])
    app = AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"])
    path.write_text('[[rules]]\nname = "p"\ntype = "probe-async"\n')
    assert runner.reload() is False
    assert [s.name for s in runner.steps] == ["p", "no"]
    status, _, _ = call(app, environ_for("/oauth/token", io.BytesIO(b""), CONTENT_LENGTH="0"))
    assert status.startswith("403")  # still the old rules, still answering


@pytest.mark.parametrize("kwargs,error", [
    ({}, ConfigError), ({"token_paths": "/oauth/token"}, TypeError), ({"token_paths": ["oauth/token"]}, ConfigError),
    ({"token_paths": ["/t"], "authorize_paths": ["/T/"]}, ConfigError),
    ({"token_paths": ["/t"], "realm": 'a"b'}, ValueError)])
def test_bad_construction_is_refused(seed: Runner, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        AuthrulesMiddleware(report_app, seed, **kwargs)


# -- Request.from_wsgi ---------------------------------------------------------------------------


def test_request_from_wsgi_reads_and_puts_the_body_back(seed: Runner) -> None:
    body = (b"grant_type=client_credentials&audience=https%3A%2F%2Fbilling.example.com%2Fapi"
            b"&client_id=" + GOOD_CLIENT.encode() + b"&scope=read")
    environ = environ_for("/oauth/token", io.BytesIO(body), CONTENT_LENGTH=str(len(body)),
                          QUERY_STRING="tenant=acme", HTTP_HOST="login.example.com")
    request = Request.from_wsgi(environ, limits=seed.limits)
    assert request.problem is None
    assert (request.client_id, request.audiences, request.scopes, request.endpoint) == (
        GOOD_CLIENT, (BILLING,), ("read",), "token")
    assert environ["wsgi.input"].read() == body and environ["CONTENT_LENGTH"] == str(len(body))
    raw = raw_request("POST", "/oauth/token?tenant=acme", {"Host": "login.example.com",
                                                          "Content-Type": "application/x-www-form-urlencoded"}, body)
    same = Request.from_http(raw)
    assert (same.params, same.client_id, same.audiences) == (request.params, request.client_id, request.audiences)


def test_request_from_wsgi_reencodes_the_decoded_path() -> None:
    environ = environ_for("/a b/%/t\xc3\xa9", io.BytesIO(b""), CONTENT_LENGTH="0", SCRIPT_NAME="/app")
    request = Request.from_wsgi(environ)
    assert request.problem is None and request.path == "/app/a%20b/%25/t%C3%A9"


def test_request_from_wsgi_too_large_is_a_413_problem() -> None:
    stream = CountingInput()
    request = Request.from_wsgi(environ_for("/oauth/token", stream, CONTENT_LENGTH=str(10 ** 6)))
    assert (request.problem, request.problem_status, stream.bytes_read) == ("the request body is too large", 413, 0)


def test_server_terminated_chunked_input_is_rewrapped_for_flask(seed: Runner) -> None:
    """A server that passes a chunked body as a terminated stream with no CONTENT_LENGTH (gunicorn,
    werkzeug): after the middleware, Flask reads the same form from a plain body of known length."""
    from flask import Flask, jsonify, request

    flask_app = Flask(__name__)

    @flask_app.post("/oauth/token")
    def token() -> Any:
        return jsonify(form=request.form.to_dict(), length=request.content_length,
                       decision=request.environ[DECISION_KEY].client_id)

    body = b"grant_type=client_credentials&client_id=" + GOOD_CLIENT.encode() + b"&audience=" + \
        b"https%3A%2F%2Fbilling.example.com%2Fapi"
    environ = environ_for("/oauth/token", io.BytesIO(body), HTTP_TRANSFER_ENCODING="chunked",
                          **{"wsgi.input_terminated": True})
    flask_app.wsgi_app = AuthrulesMiddleware(flask_app.wsgi_app, seed, token_paths=["/oauth/token"])  # type: ignore
    status, _, answer = call(flask_app, environ)
    assert status.startswith("200")
    seen = json.loads(answer)
    assert seen == {"form": {"grant_type": "client_credentials", "client_id": GOOD_CLIENT, "audience": BILLING},
                    "length": len(body), "decision": GOOD_CLIENT}
    assert "HTTP_TRANSFER_ENCODING" not in environ
