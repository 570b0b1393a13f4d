"""Escalations: a problem found on a visit, sent to a department and followed up."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Department
from visits.models import Visit, VisitRecord


class Urgency(models.TextChoices):
    URGENT = "urgent", _("紧急")
    HIGH = "high", _("高")
    NORMAL = "normal", _("一般")


class EscalationStatus(models.TextChoices):
    OPENED = "opened", _("已转办")
    ACCEPTED = "accepted", _("已受理")
    RESOLVED = "resolved", _("已处理")
    REPLIED = "replied", _("已回复客户")
    CLOSED = "closed", _("已关闭")
    REOPENED = "reopened", _("已重开")


class Escalation(models.Model):
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, related_name="escalations", verbose_name=_("回访")
    )
    record = models.ForeignKey(
        VisitRecord,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escalations",
        verbose_name=_("回访记录"),
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="escalations", verbose_name=_("账户")
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="escalations", verbose_name=_("部门")
    )
    urgency = models.CharField(_("紧急程度"), max_length=10, choices=Urgency.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=EscalationStatus.choices, default=EscalationStatus.OPENED
    )
    description = models.TextField(_("问题描述"))
    deadline_at = models.DateTimeField(_("处理时限"))
    # The deadline rests on a calendar year not loaded yet; recomputed when it is loaded.
    due_provisional = models.BooleanField(_("暂定处理时限"), default=False, db_default=False)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handled_escalations",
        verbose_name=_("处理人"),
    )
    result = models.TextField(_("处理结果"), blank=True)
    round = models.PositiveSmallIntegerField(_("轮次"), default=1)
    follow_up_visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="followed_escalations",
        verbose_name=_("跟进回访"),
    )
    overdue_count = models.PositiveSmallIntegerField(_("超时次数"), default=0)
    overdue_notified_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("超时提醒时间")
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("发起人"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("办结时间"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("关闭时间"))

    class Meta:
        verbose_name = _("转办")
        verbose_name_plural = _("转办")
        indexes = [
            models.Index(fields=["department", "status", "deadline_at"], name="esc_dept_queue"),
            models.Index(fields=["status", "deadline_at"], name="esc_status_deadline"),
        ]
        # A closed escalation is final (PostgreSQL trigger; the retention procedure excepted).
        triggers = [
            pgtrigger.Protect(
                name="closed_escalation_immutable",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Condition(
                    "OLD.status = 'closed' AND current_setting('callback.retention', true) IS DISTINCT FROM 'on'"
                ),
            )
        ]

    def __str__(self):
        return f"#{self.pk} {self.department} {self.get_status_display()}"


class EscalationStep(models.Model):
    """One transition of an escalation: who, when, from what to what, and why."""

    escalation = models.ForeignKey(
        Escalation, on_delete=models.PROTECT, related_name="steps", verbose_name=_("转办事项")
    )
    action = models.CharField(_("操作"), max_length=20)
    from_status = models.CharField(max_length=10, blank=True, verbose_name=_("原状态"))
    to_status = models.CharField(max_length=10, verbose_name=_("新状态"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("时间"))
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("转办步骤")
        verbose_name_plural = _("转办步骤")
