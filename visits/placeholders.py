"""The placeholders of call scripts and SMS templates, rendered in one place.

``{bank_name}`` ``{agent_name}`` ``{customer_name}`` ``{masked_mobile}`` ``{masked_account}``
``{address}`` ``{branch_name}``.

One fallback rule: a placeholder without a value (no agent for an SMS) renders empty; an unknown
placeholder, or a stray brace, stays as written. ``{masked_account}`` right after "尾号" (or
"尾号为") renders the last four digits, as customers read them ("尾号2745"); elsewhere the
masked number ("6222********2745"). The customer's name is masked in a text sent to the
customer (``for_customer``); on the call screen the agent needs it to address the customer.
"""

import re

from django.conf import settings

from core.masking import mask_address, mask_name
from visits.models import Visit

PLACEHOLDERS = (
    "bank_name",
    "agent_name",
    "customer_name",
    "masked_mobile",
    "masked_account",
    "address",
    "branch_name",
)
_PLACEHOLDER = re.compile(r"(尾号为?)?\{(\w+)\}")


def placeholder_values(visit: Visit, *, agent=None, for_customer: bool = False) -> dict[str, str]:
    customer = visit.account.customer
    return {
        "bank_name": settings.CALLBACK["BANK_NAME"],
        "agent_name": (agent.get_full_name() or agent.get_username()) if agent else "",
        "customer_name": mask_name(customer.name) if for_customer else customer.name,
        "masked_mobile": customer.masked_mobile,
        "masked_account": visit.account.masked_number,
        "address": mask_address(customer.address),
        "branch_name": visit.branch.name,
    }


def render_placeholders(
    template: str, visit: Visit, *, agent=None, for_customer: bool = False
) -> str:
    """``template`` with its placeholders filled for ``visit`` (see the module docstring)."""
    values = placeholder_values(visit, agent=agent, for_customer=for_customer)
    tail = visit.account.number_last4

    def fill(match: re.Match) -> str:
        prefix, name = match.group(1) or "", match.group(2)
        if name not in values:
            return match.group(0)
        if name == "masked_account" and prefix:
            return prefix + tail
        return prefix + (values[name] or "")

    return _PLACEHOLDER.sub(fill, template)
