"""authrules: ordered authorization rules for OAuth 2.0 / OpenID Connect requests.

The data path, in one line: raw request -> ``Request`` (resolved once) ->
``Runner.evaluate`` runs the rules of rules.toml in order -> ``Decision`` ->
log events and the host's response.
"""

from ._decision import Decision
from ._errors import AuthrulesError, ConfigError, PluginError, RequestError
from ._hooks import hookimpl, hookspec
from ._limits import Limits
from ._logs import escape_control_chars, flatten_exceptions, redact_secrets
from ._plugins import ENTRY_POINT_GROUP, ENV_BLOCK, ENV_DISABLE_AUTOLOAD, PluginInfo
from ._request import Request
from ._runner import ENV_CONFIG, Runner, current_decision_id
from ._types import Deny, RemoveScopes, RuleType, secret
from ._uri import audience_key

__all__ = [
    "AuthrulesError", "ConfigError", "Decision", "Deny", "ENTRY_POINT_GROUP", "ENV_BLOCK", "ENV_CONFIG",
    "ENV_DISABLE_AUTOLOAD", "Limits", "flatten_exceptions", "PluginError", "PluginInfo", "RemoveScopes", "Request",
    "RequestError", "RuleType", "Runner", "audience_key", "current_decision_id", "escape_control_chars",
    "hookimpl", "hookspec", "redact_secrets", "secret",
]
