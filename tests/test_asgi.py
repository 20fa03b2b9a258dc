"""authrules.asgi.AuthrulesMiddleware under a real ASGI server (uvicorn, in a thread), and Request.from_asgi.

The app behind the middleware is a plain ASGI callable that reports what it
received. Properties that depend on the exact order of ASGI messages (no
``receive`` at all for a too-large body, a client that goes away, a state dict
that must not be shared) call the middleware with the messages a server sends.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple

import httpx
import pytest
import uvicorn

from _hostkit import BILLING, CALLBACK, GOOD_CLIENT, SEED_RULES, TODO, Probe, quiet_logger, raw_request, send_raw
from authrules import Request, Runner
from authrules.asgi import DECISION_KEY, AuthrulesMiddleware, read_body

SECRET = "s3cr3t-Value"


async def report_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What the host's app sees: the decision (scope and state), and the body it can read itself."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    decision = scope.get(DECISION_KEY)
    payload = json.dumps({
        "decision": decision.to_dict() if decision is not None else None,
        "state_decision": (scope.get("state") or {}).get(DECISION_KEY) is decision if decision else None,
        "body": body.decode("latin-1"),
    }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


@contextmanager
def serve(app: Any) -> Iterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            if not thread.is_alive():
                raise AssertionError("uvicorn did not start")
            threading.Event().wait(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def runner_with(*rules: dict[str, Any], probe: Probe | None = None) -> Runner:
    return Runner.from_dict({"rules": list(rules)}, logger=quiet_logger(), plugins=[probe or Probe()])


@pytest.fixture
def seed() -> Runner:
    return runner_with(*SEED_RULES)


# -- under uvicorn --------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("media", ["form", "json"])
def test_allowed_request_reaches_the_app_with_decision_and_replayed_body(seed: Runner, media: str,
                                                                         chunked: bool) -> None:
    fields = {"grant_type": "client_credentials", "client_id": GOOD_CLIENT, "client_secret": SECRET,
              "audience": BILLING, "scope": "read write"}
    body = (json.dumps(fields) if media == "json" else str(httpx.QueryParams(fields))).encode()
    content_type = "application/json" if media == "json" else "application/x-www-form-urlencoded"
    with serve(AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"])) as port:
        response = send_raw(port, raw_request("POST", "/oauth/token", {"Content-Type": content_type}, body,
                                              chunked=chunked))
    assert response.status == 200
    seen = response.json()
    assert seen["body"] == body.decode()
    assert seen["state_decision"] is True
    assert seen["decision"]["outcome"] == "allow" and seen["decision"]["scopes"] == ["read", "write"]


def test_denies_are_answered_as_rfc_6749_says(seed: Runner) -> None:
    async def checker(client_id: str, redirect_uri: str | None) -> bool:
        await asyncio.sleep(0)
        return (client_id, redirect_uri) == (GOOD_CLIENT, CALLBACK)

    app = AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"], authorize_paths=["/authorize"],
                              redirect_uri_checker=checker)
    with serve(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        token = client.post("/oauth/token", auth=("CLIENT_ID", SECRET),
                            data={"grant_type": "client_credentials", "audience": BILLING})
        redirect = client.get("/authorize", params={"response_type": "code", "client_id": GOOD_CLIENT,
                                                    "redirect_uri": CALLBACK, "audience": TODO, "state": "s-1"})
        plain = client.get("/authorize", params={"response_type": "code", "client_id": GOOD_CLIENT,
                                                 "redirect_uri": CALLBACK + "x", "audience": TODO, "state": "s-1"})
    assert token.status_code == 401 and token.json() == {"error": "unauthorized",
                                                         "error_description": "end_users_not_allowed"}
    assert token.headers["cache-control"] == "no-store" and token.headers["pragma"] == "no-cache"
    assert token.headers["www-authenticate"].startswith('Basic realm="oauth"')
    assert redirect.status_code == 302
    assert redirect.headers["location"] == (CALLBACK + "?error=unauthorized&error_description=end_users_not_allowed"
                                            "&state=s-1")
    assert plain.status_code == 401 and "location" not in plain.headers


def test_async_rules_run_on_the_event_loop_with_async_host_callbacks() -> None:
    probe = Probe()
    runner = runner_with({"name": "probe", "type": "probe-async"}, {"name": "admins", "type": "need-role"},
                         *SEED_RULES, probe=probe)
    assert runner.needs_async

    async def user_getter(scope: dict[str, Any]) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        for name, value in scope["headers"]:
            if name == b"x-test-user":
                return {"id": value.decode(), "roles": ["admin"] if value == b"root" else []}
        return None

    async def bind(scope: dict[str, Any], request: Request) -> dict[str, Any] | None:
        return {"audiences": [TODO]} if request.param("refresh_token") == "rt-todo" else None

    app = AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"], user_getter=user_getter, bind=bind)
    data = {"grant_type": "refresh_token", "client_id": GOOD_CLIENT, "audience": BILLING}
    with serve(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        ok = client.post("/oauth/token", data={**data, "refresh_token": "rt-1"}, headers={"X-Test-User": "root"})
        no_role = client.post("/oauth/token", data={**data, "refresh_token": "rt-1"}, headers={"X-Test-User": "eve"})
        bound = client.post("/oauth/token", data={**data, "refresh_token": "rt-todo"}, headers={"X-Test-User": "root"})
    assert ok.status_code == 200
    assert no_role.status_code == 403 and no_role.json()["error_description"] == "role_required"
    assert bound.status_code == 401
    assert [r.user["id"] for r in probe.seen] == ["root", "eve", "root"]
    assert set(probe.seen[2].audiences) == {BILLING, TODO}


def test_root_path_is_not_part_of_the_guarded_path(seed: Runner) -> None:
    app = AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"])
    config = dict(path="/auth/oauth/token", root_path="/auth")
    status, _, body, _ = asyncio.run(call(app, {**config, "method": "POST",
                                             "headers": [(b"content-type", b"application/x-www-form-urlencoded"),
                                                         (b"authorization", b"Basic Q0xJRU5UX0lEOnMzY3IzdC1WYWx1ZQ==")]},
                                       [b"grant_type=client_credentials&audience=x"]))
    assert status == 401 and json.loads(body)["error"] == "unauthorized"


# -- the ASGI messages, one by one ------------------------------------------------------------------


class Outcome(NamedTuple):
    status: int | None
    headers: list[tuple[bytes, bytes]]
    body: bytes
    receives: int


async def call(app: Any, scope_extra: dict[str, Any], chunks: list[bytes], *,
               disconnect_after: int | None = None) -> Outcome:
    """Drive ``app`` with the messages a server sends for one request, as a server would."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/", "raw_path": None, "query_string": b"", "root_path": "",
             "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), **scope_extra}
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect_after is not None:
        queue = queue[:disconnect_after] + [{"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []
    calls = {"receive": 0}

    async def receive() -> dict[str, Any]:
        calls["receive"] += 1
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)  # a real server waits for the client: nothing more comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 10)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Outcome(start["status"] if start else None, start["headers"] if start else [], body, calls["receive"])


@pytest.mark.parametrize("declared", [b"1000000000", b"9" * 4401])  # 4,401 digits: past what int() converts
def test_body_past_content_length_limit_is_never_received(seed: Runner, declared: bytes) -> None:
    app = AuthrulesMiddleware(report_app, seed, token_paths=["/oauth/token"])
    out = asyncio.run(call(app, {"path": "/oauth/token", "headers": [(b"content-length", declared)]}, [b"x"]))
    assert out.status == 413 and json.loads(out.body)["error"] == "invalid_request"
    assert out.receives == 0
    assert (b"cache-control", b"no-store") in out.headers


def test_streamed_body_stops_at_the_limit() -> None:
    runner = Runner.from_dict({"limits": {"max_body_bytes": 1000}, "rules": SEED_RULES}, logger=quiet_logger())
    app = AuthrulesMiddleware(report_app, runner, token_paths=["/oauth/token"])
    out = asyncio.run(call(app, {"path": "/oauth/token"}, [b"a" * 600] * 50))
    assert out.status == 413
    assert out.receives == 2


def test_client_gone_before_the_body_ends_reaches_nobody(seed: Runner) -> None:
    reached: list[str] = []

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    app = AuthrulesMiddleware(app_, seed, token_paths=["/oauth/token"])
    out = asyncio.run(call(app, {"path": "/oauth/token"}, [b"grant_type=", b"x"], disconnect_after=1))
    assert out.status is None and reached == []


def test_replayed_body_then_the_real_receive(seed: Runner) -> None:
    messages: list[dict[str, Any]] = []

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        messages.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AuthrulesMiddleware(app_, seed, token_paths=["/oauth/token"])
    body = [b"grant_type=client_credentials&client_id=", GOOD_CLIENT.encode(),
            b"&audience=https%3A%2F%2Fbilling.example.com%2Fapi"]
    out = asyncio.run(call(app, {"path": "/oauth/token", "headers": [
        (b"content-type", b"application/x-www-form-urlencoded")]}, body))
    assert out.status == 204
    assert messages == [{"type": "http.request", "body": b"".join(body), "more_body": False}]


def test_lifespan_state_is_copied_not_shared(seed: Runner) -> None:
    shared_state = {"db": "pool"}
    seen: list[dict[str, Any]] = []

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["state"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AuthrulesMiddleware(app_, seed, token_paths=["/oauth/token"])
    asyncio.run(call(app, {"path": "/oauth/token", "state": shared_state, "headers": [
        (b"content-type", b"application/x-www-form-urlencoded")]},
        [b"grant_type=client_credentials&client_id=" + GOOD_CLIENT.encode() + b"&audience=urn:billing"]))
    assert shared_state == {"db": "pool"}
    assert seen[0]["db"] == "pool" and seen[0][DECISION_KEY].outcome == "allow"


def test_non_http_scopes_pass_through(seed: Runner) -> None:
    got: list[str] = []

    async def app_(scope: Any, receive: Any, send: Any) -> None:
        got.append(scope["type"])

    app = AuthrulesMiddleware(app_, seed, token_paths=["/oauth/token"])
    asyncio.run(app({"type": "lifespan"}, None, None))
    asyncio.run(app({"type": "websocket", "path": "/oauth/token"}, None, None))
    assert got == ["lifespan", "websocket"]


# -- Request.from_asgi and read_body ----------------------------------------------------------------


def test_request_from_asgi_matches_from_http() -> None:
    body = b'{"grant_type":"client_credentials","audience":["https://billing.example.com/api"],"scope":"read write"}'
    scope = {"type": "http", "method": "POST", "path": "/oauth/token", "query_string": b"tenant=acme",
             "headers": [(b"content-type", b"application/json"),
                         (b"authorization", b"Basic YUIzZEVmR2gxSmtMbU5vUDpzM2NyM3QtVmFsdWU=")]}
    request = Request.from_asgi(scope, body)
    raw = raw_request("POST", "/oauth/token?tenant=acme",
                      {"Content-Type": "application/json",
                       "Authorization": "Basic YUIzZEVmR2gxSmtMbU5vUDpzM2NyM3QtVmFsdWU="}, body)
    same = Request.from_http(raw)
    assert request.problem is None
    assert (request.client_id, request.client_auth, request.audiences, request.scopes) == (
        GOOD_CLIENT, "client_secret_basic", (BILLING,), ("read", "write"))
    assert (same.params, same.client_id, same.audiences) == (request.params, request.client_id, request.audiences)


def test_read_body_gives_a_replaying_receive() -> None:
    async def scenario() -> tuple[Any, ...]:
        chunks = [{"type": "http.request", "body": b"ab", "more_body": True},
                  {"type": "http.request", "body": b"cd", "more_body": False},
                  {"type": "http.disconnect"}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0)

        body, problem, replay = await read_body({"headers": []}, receive, Runner.from_dict(
            {"rules": SEED_RULES}, logger=quiet_logger()).limits)
        return body, problem, await replay(), await replay()

    body, problem, first, second = asyncio.run(scenario())
    assert (body, problem) == (b"abcd", None)
    assert first == {"type": "http.request", "body": b"abcd", "more_body": False}
    assert second == {"type": "http.disconnect"}
