"""The ``authrules`` command: ``eval``, ``check`` and ``plugins``.

The CLI is a host like any other: it builds a ``Runner`` and reads decisions.
It is the one place in authrules that configures structlog, for its own
process, sending events to stderr so stdout holds only results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from typing import Any, Iterator, Sequence

import structlog

from ._config import load_config
from ._errors import ConfigError
from ._logs import escape_control, escape_control_chars, flatten_exceptions, redact_secrets
from ._plugins import ENV_DISABLE_AUTOLOAD, SKIP_REASONS, Plugins
from ._runner import ENV_CONFIG, Runner
from ._settings import is_secret_field

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _configure_logging(fmt: str, level: str) -> None:
    """The CLI's own process: every event, structlog's or a plugin's stdlib ``logging`` and ``warnings``,
    one redacted line on stderr."""
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    safe = [flatten_exceptions, redact_secrets, escape_control_chars]
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), *safe, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *safe, renderer],
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                           structlog.processors.TimeStamper(fmt="iso", utc=True)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    logging.captureWarnings(True)  # a plugin's warnings.warn() becomes a 'py.warnings' event like the rest


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal width so that it does not import shutil to ask.

    (shutil brings zlib, bz2 and lzma: ~2 ms of every start, for a width only --help prints with.)
    """

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            try:
                width = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                width = 80
        super().__init__(prog, width=width - 2)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    common.add_argument("--config", metavar="PATH",
                        help=f"rules file (default: ${ENV_CONFIG}, else ./rules.toml)")
    common.add_argument("--no-autoload", "--disable-plugin-autoload", dest="no_autoload", action="store_true",
                        help=f"load no plugin from entry points (also: {ENV_DISABLE_AUTOLOAD}=1)")
    common.add_argument("-p", dest="plugin_opts", action="append", default=[], metavar="NAME",
                        help="load plugin NAME even without autoload; 'no:NAME' blocks it before import")
    common.add_argument("--log-format", choices=("json", "console"), default="json",
                        help="log events on stderr as JSON lines (default) or console lines")
    common.add_argument("--log-level", choices=tuple(_LEVELS), default="debug",
                        help="lowest level logged (default: debug, one event per rule)")
    parser = argparse.ArgumentParser(prog="authrules", description="Run OAuth authorization rules.",
                                     formatter_class=_Formatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ev = sub.add_parser("eval", parents=[common], help="decide raw HTTP requests", formatter_class=_Formatter,
                        description="Decide each raw HTTP/1.1 request; print one JSON object per request.")
    ev.add_argument("requests", nargs="+", metavar="REQUEST", help="a file holding a raw request, or - for stdin")
    sub.add_parser("check", parents=[common], help="load the config and print the pipeline", formatter_class=_Formatter)
    pl = sub.add_parser("plugins", parents=[common], help="list discovered plugins", formatter_class=_Formatter)
    pl.add_argument("--json", action="store_true", help="print JSON lines")
    return parser


def _runner_options(args: argparse.Namespace) -> dict[str, Any]:
    block = [p[3:] for p in args.plugin_opts if p.startswith("no:")]
    load = [p for p in args.plugin_opts if not p.startswith("no:")]
    return {"autoload": False if args.no_autoload else None, "block": block, "load": load}


def _config_path(args: argparse.Namespace) -> str:
    return args.config or os.environ.get(ENV_CONFIG) or "rules.toml"


def _error(message: str) -> None:
    sys.stderr.write(f"authrules: error: {escape_control(message)}\n")


class _Overtime(BaseException):
    """Raised into a rule that runs past the whole pipeline's time budget (see ``_watchdog``).

    A ``BaseException``, so that a rule's ``except Exception`` cannot swallow it; the runner still
    takes it for the rule's fault, as it does any exception a rule raises.
    """


#: Seconds between repeated alarms, and how many a rule may ignore before the command gives up on it.
_AGAIN, _PATIENCE = 0.25, 8


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Interrupt this (main) thread after ``seconds``: a pure rule that hangs must not hang the command.

    Pure rules run inline with no deadline (a host that distrusts one sets
    ``timeout_ms`` on it). The CLI has one thread and nothing else to serve, so
    it can afford an alarm: the exception it raises lands in the stuck rule,
    which the runner turns into a deny like any other fault. The alarm repeats
    while the rule goes on (a bare ``except:`` may swallow one); a rule that
    swallows them all is beyond saving, and the command exits 2 after a couple
    of seconds rather than hang.
    """
    if not hasattr(signal, "setitimer"):
        yield
        return
    fired = 0

    def fire(_signum: int, _frame: Any) -> None:
        nonlocal fired
        fired += 1
        if fired > _PATIENCE:
            _error("a rule ignores every interruption past its time budget; giving up on the command")
            os._exit(EXIT_ERROR)
        raise _Overtime(f"the request ran past the {seconds:g} s the whole pipeline may take")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds, _AGAIN)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _eval(args: argparse.Namespace) -> int:
    runner = Runner.from_toml(_config_path(args), **_runner_options(args))
    # Every rule's deadline in turn, plus a second: only a rule that hangs can take that long.
    budget = sum(step.timeout for step in runner.steps) + 1.0
    if not runner.needs_async:
        return _eval_each(args, runner, budget, None)
    loop = asyncio.new_event_loop()  # one event loop for every request
    try:
        return _eval_each(args, runner, budget, loop)
    finally:
        # A rule past its deadline was abandoned, and one that ignores cancellation may still run: give the
        # rest a second to stop, then close regardless (asyncio.Runner would wait on such a task forever).
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
        loop.close()


def _eval_each(args: argparse.Namespace, runner: Runner, budget: float,
               loop: asyncio.AbstractEventLoop | None) -> int:
    status = EXIT_OK
    for name in args.requests:
        try:
            # Past the limits the request is refused anyway: read no more than enough to tell.
            most = runner.limits.max_body_bytes + runner.limits.max_header_bytes + 1024
            if name == "-":
                raw = sys.stdin.buffer.read(most)
            else:
                with open(name, "rb") as handle:
                    raw = handle.read(most)
        except OSError as exc:
            _error(f"cannot read request {name}: {exc.strerror or exc}")
            status = EXIT_ERROR
            continue
        request = runner.parse(raw)
        with _watchdog(budget):
            decision = (runner.evaluate(request) if loop is None
                        else loop.run_until_complete(runner.evaluate_async(request)))
        sys.stdout.write(json.dumps({"request": name, **decision.to_dict()}) + "\n")
        sys.stdout.flush()
        if decision.outcome != "allow" and status == EXIT_OK:
            status = EXIT_DENIED
    return status


def _sorted(values: frozenset[Any]) -> list[Any]:
    """A set in a stable order for printing, even when its items do not compare (ints and strings)."""
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, repr(v)))


def _settings_text(settings: Any) -> str:
    if settings is None:
        return "{}"
    parts = []
    for f in dataclasses.fields(settings):
        if not f.init:
            continue
        value = getattr(settings, f.name)
        shown = '"[secret]"' if is_secret_field(f) else _shown(value)
        parts.append(f"{f.name} = {shown}")
    return "{ " + ", ".join(parts) + " }"


def _shown(value: Any) -> str:
    """One setting's value; a nested settings dataclass is shown field by field, so its secrets stay masked."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _settings_text(value)
    if isinstance(value, (tuple, frozenset, list)):
        items = _sorted(value) if isinstance(value, frozenset) else list(value)
        return "[" + ", ".join(_shown(v) for v in items) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_shown(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, default=str)


def _check(args: argparse.Namespace) -> int:
    runner = Runner.from_toml(_config_path(args), **_runner_options(args))
    config = runner.config
    providers = {p.name: p for p in runner.plugins}
    print(f"{config.path}: OK, {len(runner.steps)} rule(s) run in this order:")
    for i, step in enumerate(runner.steps, 1):
        info = providers.get(step.provider)
        origin = info.describe() if info else f"plugin {step.provider!r}"
        mode = {0: "inline", 1: f"blocking, timeout {int(step.timeout * 1000)} ms",
                2: f"async, timeout {int(step.timeout * 1000)} ms"}[step.mode]
        extra = ", on_error = skip" if step.skip else ""
        print(f"  {i}. {step.name}  [{step.type} from {origin}; {mode}{extra}]")
        print(f"     settings: {_settings_text(step.settings)}")
    disabled = [r.name for r in config.rules if not r.enabled]
    if disabled:
        print(f"  disabled: {', '.join(disabled)}")
    return EXIT_OK


def _plugins(args: argparse.Namespace) -> int:
    block: tuple[str, ...] = ()
    allow = None
    path = _config_path(args)
    if os.path.exists(path):
        try:
            config = load_config(path)
            block, allow = config.block, config.allow
        except ConfigError as exc:
            _error(f"{exc} (listing plugins without its [plugins] policy)")
    opts = _runner_options(args)
    plugins = Plugins(autoload=opts["autoload"], block=(*opts["block"], *block), allow=allow, load=opts["load"])
    plugins.load_entry_points()
    clash = None
    try:
        plugins.rule_types()
    except ConfigError as exc:
        clash = str(exc)
    infos = plugins.infos()
    for info in infos:
        if args.json:
            print(json.dumps(info._asdict()))
            continue
        dist = f"{info.distribution} {info.version}" if info.distribution else info.source
        types = ", ".join(info.rule_types) or "-"
        line = f"{info.name}  ({dist})  {info.status}  rule types: {types}"
        if info.error:
            line += f"  error: {escape_control(info.error)}"
        if info.status in SKIP_REASONS:
            line += f"  skipped, never imported: {SKIP_REASONS[info.status]}"
        print(line)
    if not infos:
        print("no plugins found in the 'authrules' entry point group")
    if clash:
        _error(clash)
        return EXIT_ERROR
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_usage(sys.stderr)
        return EXIT_ERROR
    if args.command == "eval" and args.requests.count("-") > 1:
        _error("'-' (stdin) may be given once: stdin holds one request")
        return EXIT_ERROR
    _configure_logging(args.log_format, args.log_level)
    try:
        return {"eval": _eval, "check": _check, "plugins": _plugins}[args.command](args)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:  # `authrules eval ... | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not raise again
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a bug of ours: exit 2, name the type, never echo values
        _error(f"unexpected {type(exc).__name__} (a bug in authrules or a plugin; rerun with "
               "--log-level debug and report it)")
        return EXIT_ERROR
