"""Exceptions authrules raises to its callers, and the one it keeps to itself."""

from __future__ import annotations

__all__ = ["AuthrulesError", "ConfigError", "PluginError", "RequestError"]


class AuthrulesError(Exception):
    """Base class of every error authrules raises on purpose."""


class ConfigError(AuthrulesError):
    """rules.toml (or a config given in-process) cannot be used.

    The message names the file, the rule and the problem, and the line where
    one is known, so that ``authrules check`` can print it as is.
    """

    def __init__(self, problem: str, *, path: str | None = None, rule: str | None = None,
                 line: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.rule = rule
        self.line = line
        where = path or "<config>"
        if line is not None:
            where += f":{line}"
        if rule is not None:
            where += f": rule {rule}"
        super().__init__(f"{where}: {problem}")


class PluginError(ConfigError):
    """A plugin cannot be used: it failed to import, or clashes with another."""

    def __init__(self, problem: str, *, path: str | None = None, rule: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(problem, path=path, rule=rule, line=line)
        if path is None and rule is None:  # about the installed plugins, not about any config file
            self.args = (problem,)


class RequestError(AuthrulesError):
    """A request is malformed or ambiguous; it is answered ``invalid_request``.

    The description is sent to the client, so it never quotes a value from the
    request: it names parameters and headers only.
    """

    def __init__(self, description: str, status: int = 400) -> None:
        self.description = description
        self.status = status
        super().__init__(description)
