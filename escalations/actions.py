"""What may happen to an escalation: the actions, the states they leave from, who may take them."""

from django.utils.translation import gettext_lazy

from accounts.models import Role
from escalations.models import EscalationStatus

S = EscalationStatus


class Action:
    OPEN = "open"
    ACCEPT = "accept"
    RESOLVE = "resolve"
    REPLY = "reply"
    CLOSE = "close"
    REOPEN = "reopen"
    TRANSFER = "transfer"
    EXTEND = "extend"
    OVERDUE = "overdue"  # a system event on the timeline, not a transition


ACTION_LABELS = {
    Action.OPEN: gettext_lazy("转办"),
    Action.ACCEPT: gettext_lazy("受理"),
    Action.RESOLVE: gettext_lazy("处理完毕"),
    Action.REPLY: gettext_lazy("回复客户"),
    Action.CLOSE: gettext_lazy("客户满意，关闭"),
    Action.REOPEN: gettext_lazy("客户不满意，重开"),
    Action.TRANSFER: gettext_lazy("转交其他部门"),
    Action.EXTEND: gettext_lazy("延长时限"),
    Action.OVERDUE: gettext_lazy("超时"),
}

# The whole lifecycle. Anything not listed is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.OPENED, Action.ACCEPT): S.ACCEPTED,
    (S.REOPENED, Action.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, Action.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Action.REPLY): S.REPLIED,
    (S.REPLIED, Action.CLOSE): S.CLOSED,
    (S.REPLIED, Action.REOPEN): S.REOPENED,
    # Transfer: back to "waiting for acceptance" at the other department, deadline kept.
    (S.OPENED, Action.TRANSFER): S.OPENED,
    (S.ACCEPTED, Action.TRANSFER): S.OPENED,
    (S.REOPENED, Action.TRANSFER): S.REOPENED,
    # Extending the deadline keeps the status.
    (S.OPENED, Action.EXTEND): S.OPENED,
    (S.ACCEPTED, Action.EXTEND): S.ACCEPTED,
    (S.REOPENED, Action.EXTEND): S.REOPENED,
}

# With the department, the deadline running.
ACTIVE_STATUSES = (S.OPENED, S.ACCEPTED, S.REOPENED)

# Who may take each action. ``None`` (the system, e.g. an online questionnaire) may open,
# close and reopen only.
ACTION_ROLES = {
    Action.OPEN: (Role.AGENT, Role.SUPERVISOR),
    Action.ACCEPT: (Role.HANDLER,),
    Action.RESOLVE: (Role.HANDLER,),
    Action.TRANSFER: (Role.HANDLER, Role.SUPERVISOR),
    Action.REPLY: (Role.AGENT, Role.SUPERVISOR),
    Action.CLOSE: (Role.AGENT, Role.SUPERVISOR),
    Action.REOPEN: (Role.AGENT, Role.SUPERVISOR),
    Action.EXTEND: (Role.SUPERVISOR,),
}
SYSTEM_ACTIONS = (Action.OPEN, Action.CLOSE, Action.REOPEN)


class EscalationError(Exception):
    """A refused escalation action; ``str(error)`` is a translated message for the user."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
