"""The runner: rules.toml and plugins built once into a pipeline, run per request.

Load time does everything that can be done once: read and check the config,
discover plugins, check each rule's settings against its type, and build
``Pipeline.steps``, a tuple of plain tuples. Per request, ``evaluate`` walks
that tuple with a ``for`` loop and calls each rule directly (no pluggy hook
calls), stops at the first deny, and logs the decision. Whatever a rule does
(raise, return nonsense, run past its deadline), the request gets a deny.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import threading
import traceback
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple

import structlog

if TYPE_CHECKING:  # imported when a rule needs a worker thread: most configs never do
    from ._workers import Workers

from ._config import Config, load_config, parse_config
from ._decision import Decision
from ._errors import ConfigError, PluginError
from ._limits import Limits
from ._logs import CURRENT, escape_control, scrub, secret_forms, secret_values
from ._plugins import SKIP_REASONS, PluginInfo, Plugins
from ._request import Request
from ._settings import SettingError, build_settings
from ._types import Deny, RemoveScopes

__all__ = ["Runner", "Step", "current_decision_id", "ENV_CONFIG"]

ENV_CONFIG = "AUTHRULES_CONFIG"
INLINE, THREAD, ASYNC = 0, 1, 2
_DEBUG, _INFO = 10, 20

_FAILED = Deny("server_error", "a rule failed, so the request is denied", 500)
_TIMED_OUT = Deny("temporarily_unavailable", "a rule did not answer in time, so the request is denied", 503)
#: What a rule may raise that still gets a deny. KeyboardInterrupt (a real Ctrl-C on the thread running
#: inline or async rules) and a real cancellation of the host's task propagate; see _blocking and
#: evaluate_async for the cases where those can only have come from the rule itself.
#: Anything else, however exotic (a BaseException subclass of the rule's own), is the rule's fault.
_RULE_FAULTS = (BaseException,)


def _invalid(description: str, status: int) -> Deny:
    """The invalid_request deny; a host-built Request with text a client may not see gets a generic one."""
    try:
        return Deny("invalid_request", description, status)
    except ValueError:
        return Deny("invalid_request", "the request is malformed", status if status in range(400, 600) else 400)


def _retrieved(task: "asyncio.Task[Any]") -> None:
    """Done callback of an abandoned rule task: take its outcome, so asyncio does not warn it was lost."""
    if not task.cancelled():
        task.exception()


async def _awaited(coroutine: Any, timeout: float) -> Any:
    """What an ``async def`` rule returned, or a timeout ``_Failure`` past ``timeout`` seconds.

    The rule runs in a task of its own, waited for with ``asyncio.wait``: a
    rule that swallows the cancellation ``asyncio.timeout`` would send it, and
    goes on, cannot hold the request; at the deadline its task is cancelled and
    abandoned, not waited for. A rule that blocked the loop past its deadline
    (asyncio could not stop it) answered too late: a timeout too. What the rule
    raised is raised here, for the caller to treat as the rule's fault.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    task = asyncio.ensure_future(_caught(coroutine))
    try:
        await asyncio.wait((task,), timeout=timeout)
    except asyncio.CancelledError:  # the host cancelled this request: the rule goes with it
        task.cancel()
        raise
    late = _Failure("timeout", {"timeout_ms": int(timeout * 1000)})
    if not task.done():
        task.cancel()
        task.add_done_callback(_retrieved)
        return late
    if loop.time() > deadline:
        _retrieved(task)
        return late
    raised, value = task.result()  # a rule that raised CancelledError itself: raised here, a fault
    if raised:
        raise value
    return value


async def _caught(coroutine: Any) -> tuple[bool, Any]:
    """``(False, result)`` or ``(True, exception)``: a task that raised SystemExit or KeyboardInterrupt would
    stop the whole event loop, so the rule's exception is carried out and raised in the caller's frame."""
    try:
        return False, await coroutine
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - judged by the caller, as any rule's exception is
        return True, exc


def current_decision_id() -> str | None:
    """The id of the decision being made in this thread or task, for a rule's own logs."""
    current = CURRENT.get()
    return current[0] if current is not None else None


#: ``Decision`` is a NamedTuple: ``_new(Decision, values)`` builds one without the keyword-argument
#: handling of ``Decision(...)``, the cheapest way to make the one object every request returns.
_new = tuple.__new__


class Step(NamedTuple):
    """One enabled rule, ready to call: unpacked as a plain tuple per request."""

    name: str
    type: str
    call: Callable[..., Any]
    settings: Any
    mode: int
    timeout: float
    skip: bool
    provider: str
    #: The ``Deny`` objects this rule returned that were checked free of credentials (``_vet``), by id; each
    #: is held here, so its id cannot be reused by another object. A rule returning a constant pays once.
    vetted: dict[int, Deny]

    def __repr__(self) -> str:  # never the settings: they may hold authrules.secret() values
        return f"Step(name={self.name!r}, type={self.type!r}, provider={self.provider!r}, mode={self.mode})"


class Pipeline(NamedTuple):
    """One loaded config, swapped in whole by ``reload``."""

    steps: tuple[Step, ...]
    limits: Limits
    config: Config
    plugins: tuple[PluginInfo, ...]
    async_rules: tuple[str, ...]
    #: ``steps`` again as exact tuples ``(*step[:7], step)``, what ``evaluate`` unpacks per rule: CPython
    #: unpacks a tuple subclass such as ``Step`` on a slow path (docs/performance.md).
    plan: tuple[tuple[Any, ...], ...] = ()


class _Deadline(Exception):
    pass


class _Failure:
    __slots__ = ("kind", "detail")

    def __init__(self, kind: str, detail: dict[str, Any]) -> None:
        self.kind = kind
        self.detail = detail


def _limit_problem(request: Request, limits: Limits) -> tuple[str, int] | None:
    """Re-check a request parsed under other (looser) limits than this pipeline's."""
    if request.body_size > limits.max_body_bytes:
        return "the request body is too large", 413
    if sum(len(v) for v in request.query.values()) + sum(len(v) for v in request.body.values()) \
            > limits.max_params:
        return "the request has too many parameters", 400
    for source in (request.query, request.body):
        for values in source.values():
            if any(len(v) > limits.max_value_length for v in values):
                return "a parameter value is too long", 400
    return None


class Runner:
    """Runs the rules of one config on requests; safe to share across threads and tasks.

    Build it with ``Runner.from_toml(path)``. ``logger`` is a structlog logger
    from the host; without one, authrules uses ``structlog.get_logger("authrules")``
    and so whatever structlog configuration the host has. authrules never
    configures logging itself.
    """

    def __init__(self, config: Config, *, logger: Any = None, plugins: Iterable[Any] = (),
                 autoload: bool | None = None, block: Iterable[str] = (), load: Iterable[str] = (),
                 source: str | Path | None = None) -> None:
        self._logger = logger if logger is not None else structlog.get_logger("authrules")
        self._lazy = type(self._logger).__name__ == "BoundLoggerLazyProxy"
        self._log_cache: tuple[Any, Any, bool] | None = None  # see _log_state
        self._host_plugins = tuple(plugins)
        self._options = (autoload, tuple(block), tuple(load))
        # Absolute, so that reload() reads the same file after the host changes directory.
        self._source = Path(source).absolute() if source is not None else None
        self._prefix = os.urandom(6).hex()
        self._ids = itertools.count(1)
        self._reload_lock = threading.Lock()
        self._sync_only = False
        self._workers: Workers | None = None
        self._pipeline = self._build(config)

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | Path | None = None, logger: Any = None, **options: Any) -> "Runner":
        """Load rules.toml (``path``, else ``$AUTHRULES_CONFIG``, else ``./rules.toml``)."""
        path = path if path is not None else os.environ.get(ENV_CONFIG) or "rules.toml"
        return cls(load_config(path), logger=logger, source=path, **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], logger: Any = None, **options: Any) -> "Runner":
        """Build from a dict shaped like rules.toml, e.g. in tests or a host's own config."""
        return cls(parse_config(dict(data)), logger=logger, **options)

    def _plugins(self, config: Config) -> Plugins:
        autoload, block, load = self._options
        plugins = Plugins(autoload=autoload, block=(*block, *config.block), allow=config.allow, load=load)
        for plugin in self._host_plugins:
            plugins.register(*plugin) if isinstance(plugin, tuple) else plugins.register(plugin)
        plugins.load_entry_points()
        return plugins

    def _build(self, config: Config) -> Pipeline:
        plugins = self._plugins(config)
        try:
            types = plugins.rule_types()
        except PluginError as exc:  # a clash: say which config was being loaded
            raise PluginError(exc.problem, path=config.path) from None
        steps: list[Step] = []
        for rule in config.rules:
            entry = types.get(rule.type)
            if entry is None:
                available = ", ".join(sorted(types)) or "none (no plugin is loaded)"
                problem = f"unknown rule type {rule.type!r} (available: {available})"
                failed = plugins.failures()
                if failed:  # it may come from a plugin that could not load: name each, with its cause
                    causes = "; ".join(f"{i.describe()}: {i.error}" for i in failed)
                    raise PluginError(f"{problem}; it may be provided by a plugin that failed to load: {causes}",
                                      path=config.path, rule=repr(rule.name), line=rule.line)
                skipped = "; ".join(f"{i.describe()}: {SKIP_REASONS[i.status]}" for i in plugins.infos()
                                    if i.status in SKIP_REASONS)
                if skipped:  # it may come from a plugin that policy kept from loading
                    problem += f"; not imported: {skipped}"
                raise ConfigError(problem, path=config.path, rule=repr(rule.name), line=rule.line)
            rule_type, provider = entry
            try:
                settings = build_settings(rule_type.settings, rule.settings)
            except SettingError as exc:
                raise ConfigError(f"type {rule.type!r}: {exc}", path=config.path, rule=repr(rule.name),
                                  line=rule.line) from None
            # A pure rule runs inline; an operator who sets timeout_ms on one asks for a deadline, so it
            # runs on a worker thread like a blocking rule (a hung inline call could not be abandoned).
            mode = (ASYNC if rule_type.is_async else
                    THREAD if rule_type.blocking or rule.timeout_ms is not None else INLINE)
            if not rule.enabled:
                continue
            timeout = (rule.timeout_ms or config.limits.rule_timeout_ms) / 1000
            steps.append(Step(rule.name, rule.type, rule_type.rule, settings, mode, timeout,
                              rule.on_error == "skip", provider, {}))
        for info in plugins.failures():
            self._logger.warning("authrules.plugin_failed", plugin=escape_control(info.name),
                                 distribution=escape_control(info.distribution or "") or None,
                                 error=escape_control(info.error or ""))
        if not steps:
            raise ConfigError("every rule is disabled: an empty pipeline would allow every request",
                              path=config.path)
        if any(s.mode == THREAD for s in steps) and self._workers is None:
            from ._workers import Workers

            self._workers = Workers()
        return Pipeline(tuple(steps), config.limits, config, tuple(plugins.infos()),
                        tuple(s.name for s in steps if s.mode == ASYNC), tuple((*s[:7], s) for s in steps))

    def reload(self) -> bool:
        """Re-read the config file and swap the pipeline in one step.

        Requests in flight finish on the pipeline they started with. If the new
        file is broken, the old pipeline stays, the error is logged, and the
        result is False.
        """
        if self._source is None:
            raise ConfigError("this runner was not loaded from a file, so it cannot reload")
        with self._reload_lock:
            try:
                pipeline = self._build(load_config(self._source))
            except ConfigError as exc:
                self._logger.error("authrules.reload_failed", error=escape_control(str(exc)))
                return False
            except Exception as exc:  # noqa: BLE001 - whatever a new file or plugin does, the old pipeline stays
                self._logger.error("authrules.reload_failed", error=f"unexpected {type(exc).__name__} "
                                   "while loading the config (a bug in authrules or a plugin)")
                return False
            if self._sync_only and pipeline.async_rules:
                self._logger.error("authrules.reload_failed", error=escape_control(str(self._async_error(pipeline))))
                return False
            self._pipeline = pipeline
        self._logger.info("authrules.reloaded", config=escape_control(str(self._source)), rules=[s.name for s in pipeline.steps])
        return True

    def require_sync(self) -> None:
        """Promise that this runner is only run with ``evaluate``: refuse async rules, now and on reload.

        A sync host (the WSGI middleware) calls this once. It raises
        ``ConfigError`` naming the rules when the loaded config has ``async def``
        rules; afterwards ``reload()`` keeps the old pipeline, and logs why,
        rather than swap in a config the host could not run.
        """
        with self._reload_lock:
            if self._pipeline.async_rules:
                raise self._async_error(self._pipeline)
            self._sync_only = True

    @staticmethod
    def _async_error(pipeline: Pipeline) -> ConfigError:
        return ConfigError(f"rules {', '.join(pipeline.async_rules)} are async def and need evaluate_async",
                           path=pipeline.config.path)

    # -- what is loaded -------------------------------------------------------------

    @property
    def logger(self) -> Any:
        """The structlog logger authrules' events go to (the host's, or ``structlog.get_logger``'s proxy)."""
        return self._logger

    @property
    def steps(self) -> tuple[Step, ...]:
        """The enabled rules in the order they run."""
        return self._pipeline.steps

    @property
    def limits(self) -> Limits:
        """The request limits in force; pass them to ``Request.from_http`` and friends."""
        return self._pipeline.limits

    @property
    def config(self) -> Config:
        return self._pipeline.config

    @property
    def plugins(self) -> tuple[PluginInfo, ...]:
        return self._pipeline.plugins

    @property
    def needs_async(self) -> bool:
        """True when some rule is ``async def``: only ``evaluate_async`` can run this config."""
        return bool(self._pipeline.async_rules)

    def parse(self, raw: bytes, **kwargs: Any) -> Request:
        """``Request.from_http`` under this runner's limits."""
        return Request.from_http(raw, limits=self._pipeline.limits, **kwargs)

    # -- per request ----------------------------------------------------------------

    def _log_state(self) -> tuple[Any, Any, bool]:
        """``(log, said, trace)``: the logger for this request, and which of its events are wanted.

        ``said`` is the logger for the INFO decision event, or None when the
        host's logger filters INFO out: a filtered call with 14 keywords still
        costs more than the rest of a two-rule decision, so it is not made.
        ``trace`` says whether the DEBUG per-rule events are wanted. Both are
        asked per request, so a host that reconfigures logging is honoured,
        except where the answer cannot change: a logger structlog has cached
        (``cache_logger_on_first_use``: reconfiguring no longer reaches it) whose
        class is one of ``make_filtering_bound_logger``'s (its level is part of
        the class). Then the answer is kept, and a request skips asking.
        """
        proxy = self._logger
        log = proxy.bind() if self._lazy else proxy
        enabled = getattr(log, "is_enabled_for", None)
        if enabled is None:
            return log, log, True
        said = log if enabled(_INFO) else None
        state = (log, said, said is not None and enabled(_DEBUG))
        fixed_logger = not self._lazy or "bind" in vars(proxy)  # structlog caches by replacing proxy.bind
        if fixed_logger and type(log).__module__ == "structlog._native" \
                and type(log).__name__.startswith("BoundLoggerFiltering"):
            self._log_cache = state
        return state

    def _begin(self, request: Request) -> tuple[Any, Any, bool, str, Any]:
        """``(log, said, trace, decision id, context token)`` for one request (see ``_log_state``)."""
        did = f"{self._prefix}-{next(self._ids):x}"
        log, said, trace = self._log_cache or self._log_state()
        return log, said, trace, did, CURRENT.set([did, request, None])

    def evaluate(self, request: Request) -> Decision:
        """Decide one request: run the rules in order, stop at the first deny."""
        pipeline = self._pipeline
        if pipeline.async_rules:
            raise ConfigError(f"rules {', '.join(pipeline.async_rules)} are async: use evaluate_async",
                              path=pipeline.config.path)
        did = f"{self._prefix}-{next(self._ids):x}"  # _begin, inlined on this path
        log, said, trace = self._log_cache or self._log_state()
        start = perf_counter_ns() if said is not None else 0  # only the decision event reads it
        token = CURRENT.set([did, request, None])
        try:
            if request.problem is not None or request.limits is not pipeline.limits:
                problem = self._problem(request, pipeline)
                if problem is not None:
                    return self._decide(said, did, start, request, request.scopes, None,
                                        _invalid(*problem))
            scopes = request.scopes
            for name, rtype, call, settings, mode, timeout, skip, step in pipeline.plan:
                t0 = perf_counter_ns() if trace else 0
                try:
                    result = call(request, settings) if mode == INLINE else self._blocking(call, request,
                                                                                          settings, timeout)
                except _Deadline:
                    result = _Failure("timeout", {"timeout_ms": int(timeout * 1000)})
                except KeyboardInterrupt:
                    raise
                except _RULE_FAULTS as exc:
                    result = self._raised(exc, request)
                if result is None:
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule=name, rule_type=rtype, result="pass",
                                  duration_us=(perf_counter_ns() - t0) // 1000)
                    continue
                kind = type(result)
                if kind is RemoveScopes:
                    scopes = tuple(s for s in scopes if s not in result.scopes)
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule=name, rule_type=rtype,
                                  result="narrow", removed=sorted(result.scopes),
                                  duration_us=(perf_counter_ns() - t0) // 1000)
                    continue
                if kind is Deny:
                    if step.vetted.get(id(result)) is not result:
                        result = self._vet(log, did, step, result, request)
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule=name, rule_type=rtype, result="deny",
                                  duration_us=(perf_counter_ns() - t0) // 1000)
                    return self._decide(said, did, start, request, scopes, step, result)
                deny = self._failed(log, did, step, result, request)
                if deny is not None:
                    return self._decide(said, did, start, request, scopes, step, deny)
            return self._decide(said, did, start, request, scopes, None, None)
        finally:
            CURRENT.reset(token)

    async def evaluate_async(self, request: Request) -> Decision:
        """Like ``evaluate``, awaiting ``async def`` rules and running blocking ones off the loop."""
        pipeline = self._pipeline
        start = perf_counter_ns()
        log, said, trace, did, token = self._begin(request)
        try:
            problem = self._problem(request, pipeline)
            if problem is not None:
                return self._decide(said, did, start, request, request.scopes, None,
                                    _invalid(*problem))
            scopes = request.scopes
            for step in pipeline.steps:
                name, rtype, call, settings, mode, timeout, skip = step[:7]
                t0 = perf_counter_ns()
                try:
                    if mode == INLINE:
                        result = call(request, settings)
                    elif mode == ASYNC:
                        result = await _awaited(call(request, settings), timeout)
                    else:
                        assert self._workers is not None
                        async with asyncio.timeout(timeout) as deadline:
                            result = await asyncio.wrap_future(self._workers.submit(call, request, settings))
                except TimeoutError as exc:
                    if mode == THREAD and (deadline.expired() or isinstance(exc, self._workers.Overloaded)):  # type: ignore[union-attr]
                        result = _Failure("timeout", {"timeout_ms": int(timeout * 1000)})
                    else:
                        result = self._raised(exc, request)
                except asyncio.CancelledError as exc:
                    task = asyncio.current_task()
                    if task is None or task.cancelling():
                        raise  # the host cancelled this request
                    result = self._raised(exc, request)  # the rule raised it itself
                except KeyboardInterrupt:
                    raise
                except _RULE_FAULTS as exc:
                    result = self._raised(exc, request)
                if result is None:
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule=name, rule_type=rtype, result="pass",
                                  duration_us=(perf_counter_ns() - t0) // 1000)
                    continue
                kind = type(result)
                if kind is RemoveScopes:
                    scopes = tuple(s for s in scopes if s not in result.scopes)
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule=name, rule_type=rtype,
                                  result="narrow", removed=sorted(result.scopes),
                                  duration_us=(perf_counter_ns() - t0) // 1000)
                    continue
                if kind is Deny:
                    if step.vetted.get(id(result)) is not result:
                        result = self._vet(log, did, step, result, request)
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule=name, rule_type=rtype, result="deny",
                                  duration_us=(perf_counter_ns() - t0) // 1000)
                    return self._decide(said, did, start, request, scopes, step, result)
                deny = self._failed(log, did, step, result, request)
                if deny is not None:
                    return self._decide(said, did, start, request, scopes, step, deny)
            return self._decide(said, did, start, request, scopes, None, None)
        finally:
            CURRENT.reset(token)

    # -- the rare paths, kept out of the loop ------------------------------------------

    @staticmethod
    def _problem(request: Request, pipeline: Pipeline) -> tuple[str, int] | None:
        if request.problem is not None:
            return request.problem, request.problem_status
        if request.limits is pipeline.limits:
            return None
        return _limit_problem(request, pipeline.limits)

    def _blocking(self, call: Callable[..., Any], request: Request, settings: Any, timeout: float) -> Any:
        assert self._workers is not None
        future = self._workers.submit(call, request, settings)
        try:
            return future.result(timeout)
        except BaseException as exc:
            if future.done() and not future.cancelled() and future.exception() is exc \
                    and not isinstance(exc, self._workers.Overloaded):
                # Raised by the rule on its worker thread (its own TimeoutError, even a KeyboardInterrupt:
                # no signal reaches a worker), so it is the rule's fault, never the deadline's.
                return self._raised(exc, request)
            if not isinstance(exc, TimeoutError):
                raise  # e.g. Ctrl-C while this thread waited
            future.cancel()
            return _Failure("timeout", {"timeout_ms": int(timeout * 1000)})

    def _vet(self, log: Any, did: str, step: Step, deny: Deny, request: Request) -> Deny:
        """A rule's ``Deny`` as the client and the log may see it: never holding a credential.

        Its text goes to the client (``error_description``) and into the decision event, so a rule that
        wrote the request's password or one of its own secret settings into it has that text withheld:
        still a deny, with a generic description, and an error event that says why (never what).
        """
        forms = secret_forms((*request.secrets, *secret_values(step.settings)))
        leaky_error = any(form in deny.error for form in forms)
        if not leaky_error and not any(form in deny.description for form in forms):
            if len(step.vetted) < 64:  # a rule that builds a new Deny each time is checked each time
                step.vetted[id(deny)] = deny
            return deny
        log.error("authrules.rule", decision_id=did, rule=step.name, rule_type=step.type, result="leak",
                  action="denied", detail="the rule's deny text held a credential of the request or a secret "
                  "setting, so a generic text was sent instead")
        return Deny("access_denied" if leaky_error else deny.error, "the request is denied", deny.status)

    @staticmethod
    def _raised(exc: BaseException, request: Request) -> _Failure:
        text = "".join(traceback.format_exception(exc))  # scrubbed in _failed, with the rule's secret settings
        # "exception_type", not "exception": structlog's ConsoleRenderer prints an "exception" key on lines of
        # its own, and one event must stay one line.
        return _Failure("error", {"exception_type": escape_control(type(exc).__name__), "traceback": text})

    def _failed(self, log: Any, did: str, step: Step, result: Any, request: Request) -> Deny | None:
        """Log a rule that raised, timed out or returned nonsense; the deny, or None to skip."""
        secrets = (*request.secrets, *secret_values(step.settings))
        if isinstance(result, _Failure):
            kind, detail = result.kind, result.detail
            if "traceback" in detail:
                detail = {**detail, "traceback": scrub(detail["traceback"], secrets)}
        else:
            if inspect.iscoroutine(result):
                result.close()  # an unawaited coroutine: close it rather than leave it to warn
            try:
                shown = repr(result)
            except _RULE_FAULTS:
                shown = f"<{type(result).__name__} with a failing repr>"
            kind, detail = "invalid", {"returned": scrub(str(shown), secrets, limit=300),
                                       "returned_type": escape_control(type(result).__name__)}
        action = "skipped" if step.skip else "denied"
        (log.warning if step.skip else log.error)(
            "authrules.rule", decision_id=did, rule=step.name, rule_type=step.type, result=kind,
            action=action, **detail)
        if step.skip:
            return None
        return _TIMED_OUT if kind == "timeout" else _FAILED

    def _decide(self, said: Any, did: str, start: int, request: Request, scopes: tuple[str, ...],
                step: Step | None, deny: Deny | None) -> Decision:
        """Build the decision and log it (``said`` is None when the host filters INFO out)."""
        client_id, audiences, requested = request.client_id, request.audiences, request.scopes
        endpoint, grant_type = request.endpoint, request.grant_type
        if deny is None:
            if said is not None:
                said.info("authrules.decision", decision_id=did, outcome="allow", rule=None, rule_type=None,
                          status=200, error=None, error_description=None, client_id=client_id,
                          audiences=audiences, scopes_requested=requested, scopes_granted=scopes,
                          endpoint=endpoint, grant_type=grant_type, duration_us=(perf_counter_ns() - start) // 1000)
            return _new(Decision, ("allow", did, None, None, 200, None, None, client_id, audiences, scopes,
                                   requested, endpoint, grant_type))
        rule, rule_type = (step.name, step.type) if step else (None, None)
        status, error, description = deny.status, deny.error, deny.description
        if said is not None:
            said.info("authrules.decision", decision_id=did, outcome="deny", rule=rule, rule_type=rule_type,
                      status=status, error=error, error_description=description, client_id=client_id,
                      audiences=audiences, scopes_requested=requested, scopes_granted=(), endpoint=endpoint,
                      grant_type=grant_type, duration_us=(perf_counter_ns() - start) // 1000)
        return _new(Decision, ("deny", did, rule, rule_type, status, error, description, client_id, audiences,
                               scopes, requested, endpoint, grant_type))
