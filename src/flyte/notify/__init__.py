"""Notifications: tell people when a run ends (``flyte.with_runcontext(notifications=...)``).

Each notification names the phases it fires on (``on_phase``: one ``flyte.models.ActionPhase``
or a tuple) and how it is delivered. The control plane sends it when the run ends in one of those
phases, retries failed deliveries, and keeps a delivery log (``flyte get run NAME``).

* :class:`Email`: by SMTP (the server's ``FLYTE_SERVER_SMTP_*`` settings).
* :class:`Slack`, :class:`Teams`: to an incoming-webhook URL.
* :class:`Webhook`: any HTTP request (method, headers, JSON body).
* :class:`NamedDelivery`: a delivery configured on the server under a name.
* :class:`NamedRule`: a whole rule set configured on the server under a name.

Texts may use ``{{.Run.Name}}``, ``{{.Run.Project}}``, ``{{.Run.Domain}}``, ``{{.Phase}}`` and
``{{.Error}}``.

Example:
    >>> import flyte.models
    >>> from flyte import notify
    >>> rule = notify.Email(on_phase=flyte.models.ActionPhase.FAILED, recipients=("oncall@example.com",))
    >>> rule.phases
    (<ActionPhase.FAILED: 'failed'>,)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from flyte.models import ActionPhase

if TYPE_CHECKING:
    from flyteidl2.task import run_pb2

__all__ = ["Email", "NamedDelivery", "NamedRule", "Notification", "Slack", "Teams", "Webhook"]

_DEFAULT_SUBJECT = "Run {{.Run.Name}} {{.Phase}}"
_DEFAULT_BODY = (
    "Run: {{.Run.Name}}\nProject/Domain: {{.Run.Project}}/{{.Run.Domain}}\nPhase: {{.Phase}}\nError: {{.Error}}\n"
)
_METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT")
_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True, kw_only=True)
class Notification:
    """What every notification has: the phases it fires on."""

    on_phase: ActionPhase | tuple[ActionPhase, ...]

    def __post_init__(self) -> None:
        phases = self.phases
        if not phases:
            raise ValueError("on_phase: give at least one phase")
        for phase in phases:
            if not isinstance(phase, ActionPhase):
                raise TypeError(f"on_phase: a flyte.models.ActionPhase, got {phase!r}")

    @property
    def phases(self) -> tuple[ActionPhase, ...]:
        return self.on_phase if isinstance(self.on_phase, tuple) else (self.on_phase,)

    def _rule(self) -> run_pb2.InlineRule:
        from flyteidl2.common import phase_pb2
        from flyteidl2.task import run_pb2

        rule = run_pb2.InlineRule()
        for phase in self.phases:
            rule.on_phases.append(phase_pb2.ActionPhase.Value(f"ACTION_PHASE_{phase.name}"))
        self._deliver(rule)
        return rule

    def _deliver(self, rule: run_pb2.InlineRule) -> None:
        raise TypeError(f"{type(self).__name__} does not say how to deliver it; use Email, Slack, Teams or Webhook")


def _webhook(rule: Any, url: str, method: str, headers: dict[str, str], body: Any) -> None:
    from flyteidl2.notification import definition_pb2

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    webhook = rule.delivery_template.webhook
    webhook.url = url
    webhook.method = definition_pb2.HttpMethod.Value(f"HTTP_METHOD_{method}")
    webhook.headers.update(headers)
    if body is not None:
        webhook.body_template = json.dumps(body)


@dataclass(frozen=True, kw_only=True)
class Email(Notification):
    """An email to ``recipients`` (plus ``cc`` / ``bcc``)."""

    recipients: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = _DEFAULT_SUBJECT
    body: str = _DEFAULT_BODY
    html_body: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.recipients, str) or not self.recipients:
            raise ValueError("recipients: a tuple of at least one email address")
        for address in (*self.recipients, *self.cc, *self.bcc):
            if "@" not in address or any(c in address for c in "\r\n<>,"):
                raise ValueError(f"{address!r} is not an email address")

    def _deliver(self, rule: Any) -> None:
        email = rule.delivery_template.email
        for target, addresses in ((email.to, self.recipients), (email.cc, self.cc), (email.bcc, self.bcc)):
            for address in addresses:
                target.add(address=address)
        email.inline.subject = self.subject
        email.inline.text_template = self.body
        email.inline.html_template = self.html_body or ""


@dataclass(frozen=True, kw_only=True)
class Slack(Notification):
    """A Slack message through an incoming webhook (``blocks``: Block Kit)."""

    webhook_url: str
    message: str | None = None
    blocks: tuple[dict[str, Any], ...] | None = None

    def _deliver(self, rule: Any) -> None:
        body: dict[str, Any] = {"text": self.message or _DEFAULT_BODY}
        if self.blocks:
            body["blocks"] = list(self.blocks)
        _webhook(rule, self.webhook_url, "POST", _JSON, body)


@dataclass(frozen=True, kw_only=True)
class Teams(Notification):
    """A Microsoft Teams message through an incoming webhook (``card``: an Adaptive Card)."""

    webhook_url: str
    title: str = _DEFAULT_SUBJECT
    message: str | None = None
    card: dict[str, Any] | None = None

    def _deliver(self, rule: Any) -> None:
        body = self.card if self.card is not None else {"title": self.title, "text": self.message or _DEFAULT_BODY}
        _webhook(rule, self.webhook_url, "POST", _JSON, body)


@dataclass(frozen=True, kw_only=True)
class Webhook(Notification):
    """Any HTTP request: ``method`` to ``url`` with ``headers`` and a JSON ``body``."""

    url: str
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"] = "POST"
    headers: dict[str, str] | None = None
    body: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in _METHODS:
            raise ValueError(f"method: one of {', '.join(_METHODS)}, got {self.method!r}")

    def _deliver(self, rule: Any) -> None:
        headers = dict(self.headers) if self.headers else (dict(_JSON) if self.body is not None else {})
        _webhook(rule, self.url, self.method, headers, self.body)


@dataclass(frozen=True, kw_only=True)
class NamedDelivery(Notification):
    """A delivery the server knows by ``name`` (its notification configuration)."""

    name: str

    def _deliver(self, rule: Any) -> None:
        if not self.name:
            raise ValueError("NamedDelivery needs a name")
        rule.delivery_config_name = self.name


@dataclass(frozen=True)
class NamedRule:
    """A whole rule set the server knows by ``name``."""

    name: str
    _kind: str = field(default="rule", repr=False, compare=False)


def to_run_spec(notifications: Any) -> tuple[str | None, run_pb2.InlineRuleList | None]:
    """``(RunSpec.notification_rule_name, RunSpec.notification_rules)`` for ``notifications``.

    Raises:
        TypeError: something that is not a NamedRule or Notification(s).
    """
    from flyteidl2.task import run_pb2

    if notifications is None:
        return None, None
    if isinstance(notifications, NamedRule):
        if not notifications.name:
            raise ValueError("NamedRule needs a name")
        return notifications.name, None
    items: Iterable[Any] = (notifications,) if isinstance(notifications, Notification) else notifications
    if not isinstance(items, (tuple, list)):
        raise TypeError(f"notifications: a NamedRule, a Notification or a tuple of them, got {notifications!r}")
    rules = run_pb2.InlineRuleList()
    for item in items:
        if not isinstance(item, Notification):
            raise TypeError(f"notifications: a NamedRule, a Notification or a tuple of them, got {item!r}")
        rules.rules.append(item._rule())
    return None, rules
