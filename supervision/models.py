"""Audit samples and reviews, complaints, training, assessments, and the audit log."""

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch, Certification, Customer
from core.crypto import BlindIndexField, EncryptedTextField, blind_index
from visits.models import Visit, VisitRecord

# --- Audit sampling and review -------------------------------------------------------------


class SampleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN = "open", _("评审中")
    FINISHED = "finished", _("已完成")


class AuditSample(models.Model):
    period_start = models.DateField(_("期间开始"))
    period_end = models.DateField(_("期间结束"))
    scope = models.JSONField(_("范围"), default=dict, blank=True)
    rate = models.DecimalField(_("抽样比例"), max_digits=5, decimal_places=4, null=True, blank=True)
    size = models.PositiveIntegerField(_("样本量"), null=True, blank=True)
    seed = models.BigIntegerField(_("随机种子"))
    status = models.CharField(
        _("状态"), max_length=10, choices=SampleStatus.choices, default=SampleStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    # Drafted by the monthly beat job (one per supervisor and period), not drawn by hand.
    scheduled = models.BooleanField(_("定时生成"), default=False)

    class Meta:
        ordering = ["-period_start", "-pk"]
        verbose_name = _("抽查样本")
        verbose_name_plural = _("抽查样本")
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "period_start", "period_end"],
                condition=Q(scheduled=True),
                name="one_scheduled_sample_per_period",
            )
        ]

    def __str__(self):
        return f"{self.period_start:%Y-%m} #{self.pk}"


class AuditSampleItem(models.Model):
    sample = models.ForeignKey(
        AuditSample, on_delete=models.CASCADE, related_name="items", verbose_name=_("样本")
    )
    record = models.ForeignKey(
        VisitRecord,
        on_delete=models.PROTECT,
        related_name="audit_items",
        verbose_name=_("回访记录"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("回访人员"),
    )

    class Meta:
        verbose_name = _("样本记录")
        verbose_name_plural = _("样本记录")
        constraints = [
            models.UniqueConstraint(fields=["sample", "record"], name="record_once_per_sample")
        ]


class CheckResult(models.TextChoices):
    """One checklist item's finding: "no" is a finding, "not assessed" and "not applicable"
    are not."""

    YES = "yes", _("是")
    NO = "no", _("否")
    NOT_APPLICABLE = "na", _("不适用")
    NOT_ASSESSED = "unassessed", _("未评估")


def _check(label):
    return models.CharField(label, max_length=10, choices=CheckResult.choices)


class AuditReview(models.Model):
    item = models.OneToOneField(
        AuditSampleItem, on_delete=models.PROTECT, related_name="review", verbose_name=_("样本记录")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("评审人")
    )
    record_complete = _check(_("记录完整"))
    identity_stated = _check(_("表明身份"))
    script_followed = _check(_("遵循话术"))
    reminders_given = _check(_("已作安全提示"))
    handled_in_time = _check(_("问题及时处理"))
    escalation_justified = _check(_("转办合理"))
    score = models.PositiveSmallIntegerField(
        _("评分"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    findings = models.TextField(_("发现问题"), blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("抽查评审")
        verbose_name_plural = _("抽查评审")
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=100), name="review_score_max_100")
        ]
        # A finished review is final (PostgreSQL trigger; the retention procedure excepted).
        triggers = [
            pgtrigger.Protect(
                name="finished_review_immutable",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Condition(
                    "OLD.finished_at IS NOT NULL AND current_setting('callback.retention', true) IS DISTINCT FROM 'on'"
                ),
            )
        ]


class CorrectiveAction(models.Model):
    review = models.ForeignKey(
        AuditReview, on_delete=models.PROTECT, related_name="actions", verbose_name=_("抽查评审")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="corrective_actions",
        verbose_name=_("回访人员"),
    )
    description = models.TextField(_("整改要求"))
    due_on = models.DateField(_("整改期限"))
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))

    class Meta:
        ordering = ["due_on"]
        verbose_name = _("整改事项")
        verbose_name_plural = _("整改事项")


# --- Complaints about callback work --------------------------------------------------------


class ComplaintSource(models.TextChoices):
    HOTLINE = "hotline", _("客服热线")
    SUGGESTION_BOX = "suggestion_box", _("意见箱")
    ONLINE = "online", _("线上")


class ComplaintStatus(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    INVESTIGATING = "investigating", _("调查中")
    ANSWERED = "answered", _("已答复")


class ComplaintQuerySet(models.QuerySet):
    def by_phone(self, phone: str):
        return self.filter(contact_phone_index=blind_index(phone))


class Complaint(models.Model):
    source = models.CharField(_("来源"), max_length=20, choices=ComplaintSource.choices)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("客户"),
    )
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("回访"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints_against",
        verbose_name=_("被投诉人员"),
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("网点")
    )
    contact_name = models.CharField(_("联系人"), max_length=100, blank=True)
    contact_phone = EncryptedTextField(_("联系电话"), max_length=30, blank=True)
    contact_phone_index = BlindIndexField(source="contact_phone", verbose_name=_("联系电话索引"))
    text = models.TextField(_("投诉内容"))
    received_at = models.DateTimeField(_("收到时间"), default=timezone.now)
    # The regulator's clock, kept by supervision.complaints (15 / 30 days + approved extension).
    decision_due_at = models.DateTimeField(_("答复期限"), null=True, blank=True, db_index=True)
    due_provisional = models.BooleanField(_("暂定答复期限"), default=False, db_default=False)
    is_complex = models.BooleanField(_("复杂案件"), default=False)
    extension_days = models.PositiveSmallIntegerField(
        _("延长天数"), default=0, validators=[MaxValueValidator(30)]
    )
    extension_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("延期批准人"),
    )
    extension_reason = models.CharField(_("延长理由"), max_length=300, blank=True)
    investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("调查人"),
    )
    status = models.CharField(
        _("状态"),
        max_length=20,
        choices=ComplaintStatus.choices,
        default=ComplaintStatus.REGISTERED,
    )
    upheld = models.BooleanField(_("投诉成立"), null=True, blank=True)
    answer = models.TextField(_("答复内容"), blank=True)
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("登记人"),
    )
    # When the overdue notice went out; a later deadline (an extension) is noticed again.
    overdue_notified_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("超期提醒时间")
    )

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("投诉")
        verbose_name_plural = _("投诉")
        constraints = [
            models.CheckConstraint(condition=Q(extension_days__lte=30), name="extension_max_30")
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="complaint_status_time")]


class ComplaintChangeKind(models.TextChoices):
    COMPLEX = "complex", _("认定为复杂案件")
    EXTENSION = "extension", _("延长答复期限")


class ComplaintChangeRequest(models.Model):
    """Marking a complaint complex, or extending its clock, is asked by one supervisor and
    decided by another, neither the one who asked nor anyone involved in the complaint (its
    registrant included) (SPEC §8; supervision/complaints.py)."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.PROTECT, related_name="change_requests"
    )
    kind = models.CharField(_("申请事项"), max_length=10, choices=ComplaintChangeKind.choices)
    days = models.PositiveSmallIntegerField(
        _("延长天数"), default=0, validators=[MaxValueValidator(30)]
    )
    reason = models.CharField(_("理由"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    approved = models.BooleanField(_("批准"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("投诉复杂认定及延期申请")
        verbose_name_plural = _("投诉复杂认定及延期申请")
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "kind"],
                condition=Q(decided_at__isnull=True),
                name="complaint_change_one_pending",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="complaint_change_decider_not_requester",
            ),
        ]


# --- Training and assessment ---------------------------------------------------------------


class TrainingCourse(models.Model):
    name = models.CharField(_("课程"), max_length=100)
    hours = models.DecimalField(_("学时"), max_digits=5, decimal_places=1)
    grants = models.ForeignKey(
        Certification,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("通过后取得资质"),
    )

    class Meta:
        verbose_name = _("培训课程")
        verbose_name_plural = _("培训课程")

    def __str__(self):
        return self.name


class TrainingAttendance(models.Model):
    course = models.ForeignKey(
        TrainingCourse,
        on_delete=models.PROTECT,
        related_name="attendance",
        verbose_name=_("培训课程"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="trainings",
        verbose_name=_("回访人员"),
    )
    attended_on = models.DateField(_("日期"))
    hours = models.DecimalField(_("学时"), max_digits=5, decimal_places=1)
    passed = models.BooleanField(_("通过"), default=False)

    class Meta:
        ordering = ["-attended_on"]
        verbose_name = _("培训记录")
        verbose_name_plural = _("培训记录")


class MonthlyAssessment(models.Model):
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assessments",
        verbose_name=_("回访人员"),
    )
    month = models.DateField(_("月份"))  # first day of the month
    visits_completed = models.PositiveIntegerField(default=0, verbose_name=_("已完成回访数"))
    visits_attempted = models.PositiveIntegerField(default=0, verbose_name=_("已联系回访数"))
    reach_rate = models.FloatField(null=True, blank=True, verbose_name=_("联系成功率"))
    on_time_rate = models.FloatField(null=True, blank=True, verbose_name=_("按时完成率"))
    rated_visits = models.PositiveIntegerField(default=0, verbose_name=_("有评分的回访数"))
    raw_satisfaction = models.FloatField(null=True, blank=True, verbose_name=_("原始满意度"))
    adjusted_satisfaction = models.FloatField(null=True, blank=True, verbose_name=_("调整后满意度"))
    audit_score = models.FloatField(null=True, blank=True, verbose_name=_("抽查评分"))
    upheld_complaints = models.PositiveIntegerField(default=0, verbose_name=_("成立的投诉数"))
    composite = models.FloatField(null=True, blank=True, verbose_name=_("综合得分"))
    rank = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("排名"))
    rewarded = models.BooleanField(default=False, verbose_name=_("获得奖励"))
    frozen = models.BooleanField(default=False, verbose_name=_("已锁定"))
    computed_at = models.DateTimeField(default=timezone.now, verbose_name=_("计算时间"))

    class Meta:
        ordering = ["month", "rank"]
        verbose_name = _("月度考核")
        verbose_name_plural = _("月度考核")
        constraints = [
            models.UniqueConstraint(fields=["agent", "month"], name="one_assessment_per_month")
        ]


# --- Retention and destruction (SPEC §6) -----------------------------------------------------


class DestructionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    APPROVED = "approved", _("已批准")
    EXECUTED = "executed", _("已执行")
    REJECTED = "rejected", _("已驳回")


class DestructionList(models.Model):
    """Records due for destruction, drawn up by the monthly job or a supervisor; approved by
    someone other than its creator, then executed (see supervision/retention.py)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    status = models.CharField(
        _("状态"), max_length=10, choices=DestructionStatus.choices, default=DestructionStatus.DRAFT
    )
    criteria = models.JSONField(_("条件"), default=dict, blank=True)
    item_count = models.PositiveIntegerField(_("条目数"), default=0)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    executed_at = models.DateTimeField(_("执行时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("销毁清单")
        verbose_name_plural = _("销毁清单")
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("created_by")),
                name="destruction_approver_not_creator",
            )
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_status_display()}"


class DestructionListItem(models.Model):
    destruction_list = models.ForeignKey(
        DestructionList, on_delete=models.CASCADE, related_name="items"
    )
    record_class = models.CharField(_("记录类别"), max_length=40)
    object_type = models.CharField(_("对象类型"), max_length=50)
    object_id = models.CharField(_("对象编号"), max_length=64)
    row_count = models.PositiveIntegerField(_("涉及行数"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destruction_list", "object_type", "object_id"],
                name="destruction_item_once_per_list",
            )
        ]


class DestructionCertificate(models.Model):
    """Proof of a destruction: kept forever, never changed (trigger on PostgreSQL)."""

    destruction_list = models.OneToOneField(
        DestructionList, on_delete=models.PROTECT, related_name="certificate"
    )
    summary = models.JSONField(_("销毁内容"), default=dict)
    item_count = models.PositiveIntegerField(_("条目数"))
    row_count = models.PositiveIntegerField(_("涉及行数"))
    method = models.CharField(_("方式"), max_length=200)
    executed_at = models.DateTimeField(_("执行时间"), default=timezone.now)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ids_sha256 = models.CharField(_("已销毁编号的SHA-256"), max_length=64)
    # Audit-log destruction: the hash of the last destroyed entry, where the chain now starts.
    chain_anchor = models.CharField(max_length=64, blank=True)
    # Where the remaining chain skips destroyed entries: pairs [hash of the remaining entry
    # before ("" at the start of the log), hash the next remaining entry links to]. More than
    # one when a legal hold kept entries inside the destroyed range.
    chain_jumps = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-executed_at"]
        verbose_name = _("销毁证明")
        verbose_name_plural = _("销毁证明")
        triggers = [
            pgtrigger.Protect(
                name="destruction_certificate_immutable",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]


class VisitDayRollup(models.Model):
    """Visits due on one day (business time zone) per branch, agent and kind: how many, how many
    completed, how many still open. Derived data for the dashboard: kept current by
    ``supervision.rollups.rollups_refresh`` (a beat job with a watermark) and rebuilt from the
    visits by the nightly reconciliation."""

    day = models.DateField()
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    kind = models.CharField(max_length=20)
    due = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    open = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "branch"], name="rollup_day_branch")]


class ActivityDayRollup(models.Model):
    """Calls and records of one day (business time zone) per branch, for the dashboard's reach,
    on-time and satisfaction figures: visits attempted and reached that day (each counted once
    a day), records submitted, on time and rated, and the sum of their satisfaction scores.
    Derived data, rebuilt per day with the visit roll-ups (``supervision.rollups``)."""

    day = models.DateField()
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    attempted = models.PositiveIntegerField(default=0)
    reached = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    on_time = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfaction_sum = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "branch"], name="activity_day_branch")]


class ActivityVisitDay(models.Model):
    """One visit's calls and record on the current day, as summed into that day's
    ``ActivityDayRollup`` rows by the last refresh: kept for that one day only (replaced whole at
    every refresh), so the dashboard reads today from the roll-up and corrects it for the few
    visits changed since (their figures now minus these). No foreign keys: a snapshot."""

    day = models.DateField()
    visit_id = models.BigIntegerField()
    branch_id = models.BigIntegerField()
    attempted = models.PositiveSmallIntegerField(default=0)
    reached = models.PositiveSmallIntegerField(default=0)
    completed = models.PositiveSmallIntegerField(default=0)
    on_time = models.PositiveSmallIntegerField(default=0)
    rated = models.PositiveSmallIntegerField(default=0)
    satisfaction_sum = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["visit_id"], name="activity_visit_day_visit")]


class RollupWatermark(models.Model):
    """Up to when the visits' changes are in the roll-ups (``updated_at``); also when today's
    activity roll-up was built, and the roll-up rows' version (``token``, new at every rebuild:
    the dashboard's cache of closed-day figures is keyed by it)."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()
    token = models.CharField(max_length=32, blank=True, default="")
