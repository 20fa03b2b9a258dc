"""One runner under load: 8 threads and 1,000 asyncio tasks at once, 40,000 decisions.

Every decision must equal the single-threaded answer for its request, every
decision id must be unique, and every decision must be logged exactly once
(counted by decision id), with its rule events in pipeline order. A blocking
rule checks that the decision id it sees on its worker thread
(``current_decision_id()``) is its own request's.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
from urllib.parse import urlencode

from _fault_env import expected_cases, shared_cases
from _logcap import capture
from authrules import Deny, RemoveScopes, Request, RuleType, Runner, current_decision_id, hookimpl

THREADS, PER_THREAD = 8, 2_500
TASKS, PER_TASK = 1_000, 20


class LoadPlugin:
    """An inline rule that narrows scopes and a blocking one that checks its context."""

    def __init__(self) -> None:
        self.seen: dict[str, str | None] = {}
        self.lock = threading.Lock()

    @hookimpl
    def authrules_rule_types(self):
        def narrow(request, settings):
            return RemoveScopes(["admin"]) if "admin" in request.scopes else None

        def check(request, settings):
            did = current_decision_id()
            with self.lock:
                assert did not in self.seen, "a decision id was handed out twice"
                self.seen[did] = request.client_id
            return Deny("access_denied", "client is suspended", 403) if request.client_id == "suspended" else None

        return [RuleType("load-narrow", narrow), RuleType("load-check", check, blocking=True)]


def build(plugin: LoadPlugin, logger) -> Runner:
    return Runner.from_dict({"rules": [
        {"name": "narrow", "type": "load-narrow"},
        {"name": "check", "type": "load-check", "timeout_ms": 20_000},
        {"name": "deny-todo-api", "type": "audience-deny",
         "settings": {"audiences": ["http://todoapi2.api"], "deny_missing": True}},
        {"name": "deny-client", "type": "client-deny", "settings": {"clients": ["CLIENT_ID"]}},
    ]}, logger=logger, plugins=[plugin], autoload=False, load=["audience-deny", "client-deny"])


def corpus() -> list[bytes]:
    raws = [(shared_cases() / f"{name}.http").read_bytes() for name in expected_cases()]
    rnd = random.Random(3)
    for i in range(150):
        params = [("client_id", rnd.choice(["CLIENT_ID", "suspended", f"client-{i}", "aB3dEfGh1JkLmNoP"])),
                  ("scope", " ".join(rnd.sample(["openid", "email", "admin", "profile"], rnd.randint(0, 3))))]
        for _ in range(rnd.randint(0, 2)):
            params.append((rnd.choice(["audience", "resource"]),
                           rnd.choice(["http://todoapi2.api", "HTTP://TodoApi2.api/", "https://billing.example.com/api",
                                       f"https://api{i}.example", ""])))
        rnd.shuffle(params)
        raws.append(f"GET /authorize?{urlencode(params)} HTTP/1.1\r\nHost: as.example.com\r\n\r\n".encode())
    return raws


def signature(decision) -> tuple:
    return (decision.outcome, decision.rule, decision.rule_type, decision.status, decision.error,
            decision.error_description, decision.client_id, decision.audiences, decision.scopes)


def test_one_runner_shared_by_threads_and_tasks_decides_like_one_thread():
    raws = corpus()
    reference = build(LoadPlugin(), capture(level=20)[0])
    requests = [reference.parse(raw) for raw in raws]  # Request objects are immutable: shared by everyone
    expected = [signature(reference.evaluate(r)) for r in requests]
    assert len({e[:2] for e in expected}) >= 4, "the corpus exercises allow and every deny"

    plugin = LoadPlugin()
    logger, sink = capture(level=10)
    runner = build(plugin, logger)
    results: list[tuple[int, object]] = []
    results_lock = threading.Lock()
    start = threading.Barrier(THREADS + 1)

    def thread_worker(seed: int) -> None:
        rnd = random.Random(seed)
        mine = []
        start.wait()
        for _ in range(PER_THREAD):
            index = rnd.randrange(len(requests))
            mine.append((index, runner.evaluate(requests[index])))
        with results_lock:
            results.extend(mine)

    async def task_worker(seed: int) -> list:
        rnd = random.Random(seed)
        mine = []
        for _ in range(PER_TASK):
            index = rnd.randrange(len(requests))
            mine.append((index, await runner.evaluate_async(requests[index])))
        return mine

    async def tasks() -> None:
        start.wait()
        done = await asyncio.gather(*(task_worker(10_000 + i) for i in range(TASKS)))
        with results_lock:
            for mine in done:
                results.extend(mine)

    threads = [threading.Thread(target=thread_worker, args=(i,)) for i in range(THREADS)]
    threads.append(threading.Thread(target=asyncio.run, args=(tasks(),)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)

    total = THREADS * PER_THREAD + TASKS * PER_TASK
    assert len(results) == total
    mismatched = [(raws[i][:80], signature(d), expected[i]) for i, d in results if signature(d) != expected[i]]
    assert not mismatched, mismatched[:3]

    ids = [d.decision_id for _, d in results]
    assert len(set(ids)) == total, "decision ids are unique"

    events = sink.events
    decisions = collections.Counter(e["decision_id"] for e in events if e["event"] == "authrules.decision")
    assert len(decisions) == total and set(decisions.values()) == {1}, "each decision is logged exactly once"
    assert set(decisions) == set(ids)
    logged = {e["decision_id"]: e for e in events if e["event"] == "authrules.decision"}
    rules = collections.defaultdict(list)
    for e in events:
        if e["event"] == "authrules.rule":
            rules[e["decision_id"]].append(e["rule"])
    order = ["narrow", "check", "deny-todo-api", "deny-client"]
    for index, decision in results:
        entry = logged[decision.decision_id]
        assert (entry["outcome"], entry["rule"], entry["status"]) == (decision.outcome, decision.rule,
                                                                       decision.status)
        ran = rules[decision.decision_id]
        if decision.error == "invalid_request":
            assert ran == []
        else:
            stop = order.index(decision.rule) + 1 if decision.rule else len(order)
            assert ran == order[:stop], ran
            # the blocking rule ran on a worker thread, under this decision's id, for this request
            assert plugin.seen[decision.decision_id] == requests[index].client_id


def test_async_rules_shared_by_a_thousand_tasks():
    """An ``async def`` rule (awaited, under its deadline) with every task interleaving at each await."""
    seen: dict[str, str | None] = {}

    class AsyncPlugin:
        @hookimpl
        def authrules_rule_types(self):
            async def lookup(request, settings):
                did = current_decision_id()
                await asyncio.sleep(0)
                assert current_decision_id() == did, "another task's decision id leaked in"
                seen[did] = request.client_id
                return Deny("access_denied", "suspended", 403) if request.client_id == "suspended" else None
            return [RuleType("load-lookup", lookup)]

    def build_async(logger) -> Runner:
        return Runner.from_dict({"rules": [
            {"name": "lookup", "type": "load-lookup", "timeout_ms": 20_000},
            {"name": "deny-client", "type": "client-deny", "settings": {"clients": ["CLIENT_ID"]}}]},
            logger=logger, plugins=[AsyncPlugin()], autoload=False, load=["client-deny"])

    requests = [Request.from_http(raw) for raw in corpus()]
    reference = build_async(capture(level=20)[0])
    expected = [signature(asyncio.run(reference.evaluate_async(r))) for r in requests]
    logger, sink = capture(level=20)
    runner = build_async(logger)

    async def worker(seed: int) -> list:
        rnd = random.Random(seed)
        out = []
        for _ in range(PER_TASK):
            index = rnd.randrange(len(requests))
            out.append((index, await runner.evaluate_async(requests[index])))
        return out

    async def main() -> list:
        return [pair for chunk in await asyncio.gather(*(worker(i) for i in range(TASKS))) for pair in chunk]

    results = asyncio.run(main())
    assert len(results) == TASKS * PER_TASK
    assert all(signature(d) == expected[i] for i, d in results)
    counts = collections.Counter(e["decision_id"] for e in sink.events if e["event"] == "authrules.decision")
    assert set(counts.values()) == {1} and set(counts) == {d.decision_id for _, d in results}
    for index, decision in results:
        if decision.error != "invalid_request":
            assert seen[decision.decision_id] == requests[index].client_id
