"""Online questionnaire (SPEC §3): a signed, expiring, single-use link per visit.

The token is ``TimestampSigner(salt).sign(nonce)``: the signature proves the link was made
here, its timestamp limits its age, and the nonce names the QuestionnaireInvite row, whose
``used_at`` (set by a conditional UPDATE) makes it single-use even under double submission.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Role
from accounts.permissions import branches_visible_to
from core.audit import audit
from core.audit_actions import AuditAction
from core.models import Notification
from visits.models import AttemptOutcome, Channel, ContactAttempt, Visit, VisitKind, VisitRecord
from workspace.completion import transactions_denied_escalate, visit_complete
from workspace.models import QuestionnaireInvite, QuestionnaireQuestion
from workspace.services import flagged_events_of

SALT = "visits.questionnaire"


class InviteError(Exception):
    """The link is not valid (bad signature, expired, used, or the visit is closed)."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def link_max_age() -> timedelta:
    return timedelta(days=settings.CALLBACK["QUESTIONNAIRE_LINK_DAYS"])


def invite_url(invite: QuestionnaireInvite) -> str:
    token = _signer().sign(invite.nonce)
    return settings.CALLBACK.get("PUBLIC_BASE_URL", "").rstrip("/") + reverse(
        "public:questionnaire", args=[token]
    )


def invite_create(visit: Visit) -> tuple[QuestionnaireInvite, str]:
    """The visit's questionnaire link. An unused, unexpired invite is reused, so a retried job
    hands out one invite, not several."""
    now = timezone.now()
    with transaction.atomic():
        visit = Visit.objects.select_for_update().get(pk=visit.pk)
        invite = (
            QuestionnaireInvite.objects.filter(
                visit=visit, used_at__isnull=True, expires_at__gt=now
            )
            .order_by("-created_at")
            .first()
        )
        if invite is None:
            invite = QuestionnaireInvite.objects.create(
                visit=visit,
                nonce=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + link_max_age(),
            )
            ContactAttempt.objects.create(
                visit=visit, channel=Channel.ONLINE, outcome=AttemptOutcome.ONLINE_SENT,
                started_at=now,
            )  # fmt: skip
            if visit.is_open and visit.channel != Channel.ONLINE:
                visit.channel = Channel.ONLINE
                visit.save(update_fields=["channel", "updated_at"])
            audit(AuditAction.QUESTIONNAIRE_INVITE, obj=invite, after={"visit": visit.pk})
    return invite, invite_url(invite)


def invite_from_token(token: str, *, now=None) -> QuestionnaireInvite:
    now = now or timezone.now()
    try:
        nonce = _signer().unsign(token, max_age=link_max_age())
    except signing.SignatureExpired as exc:
        raise InviteError(gettext("链接已过期。")) from exc
    except signing.BadSignature as exc:
        raise InviteError(gettext("链接无效。")) from exc
    invite = (
        QuestionnaireInvite.objects.select_related("visit__account__customer", "visit__branch")
        .filter(nonce=nonce)
        .first()
    )
    if invite is None:
        raise InviteError(gettext("链接无效。"))
    if invite.used_at is not None:
        raise InviteError(gettext("该问卷已提交，链接已失效。"))
    if invite.expires_at <= now:
        raise InviteError(gettext("链接已过期。"))
    if not invite.visit.is_open:
        raise InviteError(gettext("该回访已结束，无需再填写问卷。"))
    return invite


def questions_for(visit: Visit) -> list[QuestionnaireQuestion]:
    return list(
        QuestionnaireQuestion.objects.filter(is_active=True)
        .filter(Q(kind=visit.kind) | Q(kind=""))
        .order_by("order", "pk")
    )


def answer_needs_action(question: QuestionnaireQuestion, answer) -> bool:
    """``action_if``: "no"/"yes" for yes/no questions, "low" for a rating of 2 or less,
    "any" for a non-empty text."""
    rule = (question.action_if or "").strip().lower()
    if not rule or answer in (None, ""):
        return False
    if question.answer_type == "rating":
        return rule == "low" and int(answer) <= 2
    if question.answer_type == "yes_no":
        return rule == str(answer).lower()
    return rule == "any" and bool(str(answer).strip())


def _staff_for_action(visit: Visit):
    if visit.assigned_to_id:
        return visit.assigned_to
    User = get_user_model()
    supervisors = User.objects.filter(profile__role=Role.SUPERVISOR, is_active=True).order_by("pk")
    for user in supervisors[:200]:
        if branches_visible_to(user).filter(pk=visit.branch_id).exists():
            return user
    return None


def _flagged_answers(questions, answers: dict, flagged: list[str]) -> str:
    """The answers that need action, in the customer's words: "question: answer" per line."""
    labels = {"yes": gettext("是"), "no": gettext("否")}
    return "\n".join(
        f"{q.text}：{labels.get(str(answers.get(q.code)), answers.get(q.code))}"
        for q in questions
        if q.code in flagged
    )


def questionnaire_submit(*, invite: QuestionnaireInvite, answers: dict) -> VisitRecord:
    """The customer's answers become the visit's record (channel online). Single use: the
    conditional UPDATE on ``used_at`` lets exactly one submission through."""
    now = timezone.now()
    questions = questions_for(invite.visit)
    with transaction.atomic():
        taken = QuestionnaireInvite.objects.filter(
            pk=invite.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not taken:
            raise InviteError(gettext("该问卷已提交，链接已失效。"))
        visit = Visit.objects.select_for_update().get(pk=invite.visit_id)
        if not visit.is_open or VisitRecord.objects.filter(visit=visit).exists():
            raise InviteError(gettext("该回访已结束，无需再填写问卷。"))
        flagged = [q.code for q in questions if answer_needs_action(q, answers.get(q.code))]
        rating = next((answers.get(q.code) for q in questions if q.answer_type == "rating"), None)
        texts = [str(answers.get(q.code)) for q in questions if q.answer_type == "text"]
        feedback = "\n".join(t for t in texts if t and t != "None")
        follow_up = visit.kind == VisitKind.FOLLOW_UP
        record = VisitRecord.objects.create(
            visit=visit,
            channel=Channel.ONLINE,
            submitted_at=now,
            answers={**answers, "_needs_action": flagged},
            satisfaction=int(rating) if rating not in (None, "") else None,
            feedback=feedback,
            # On a follow-up visit the customer is satisfied with the escalation's result when
            # no answer needs action.
            resolution_satisfied=not flagged if follow_up else None,
        )
        # "Not my transactions": a suspected fraud, escalated exactly as a denial on the phone.
        fraud = None
        if any(q.denies_transactions and q.code in flagged for q in questions):
            fraud = transactions_denied_escalate(
                visit=visit, record=record, events=flagged_events_of(visit)
            )
        assignee = None
        if flagged:
            assignee = _staff_for_action(visit)
            if assignee is not None:
                QuestionnaireInvite.objects.filter(pk=invite.pk).update(assigned_to=assignee)
                Notification.objects.get_or_create(
                    dedup_key=f"questionnaire:{invite.pk}",
                    defaults={
                        "user": assignee,
                        "message": gettext("线上问卷回访 #%(pk)s 的答案需要跟进")
                        % {"pk": visit.pk},
                        "link": reverse("workspace:call_screen", args=[visit.pk]),
                    },
                )
        visit_complete(
            visit=visit,
            record=record,
            words=feedback or _flagged_answers(questions, answers, flagged),
            details={
                "invite": invite.pk,
                "needs_action": flagged,
                "assigned_to": assignee.pk if assignee else None,
                "suspected_fraud": fraud.pk if fraud else None,
            },
            now=now,
        )
    return record
