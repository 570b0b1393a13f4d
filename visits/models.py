"""Calendar, policies, rules, visits, contact attempts, records, escalations and channels."""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    Account,
    AccountEvent,
    AccountType,
    Branch,
    Certification,
    RiskLevel,
    TxnKind,
)

# --- Policies, scripts and rules ---------------------------------------------------------


class VisitKind(models.TextChoices):
    NEW_ACCOUNT = "new_account", _("新开户回访")
    PERIODIC = "periodic", _("定期回访")
    SPECIAL_EVENT = "special_event", _("特殊情况回访")
    FOLLOW_UP = "follow_up", _("跟踪回访")


class Channel(models.TextChoices):
    PHONE = "phone", _("电话")
    SMS = "sms", _("短信")
    ONLINE = "online", _("线上问卷")


class Script(models.Model):
    """A call script (话术). Placeholders: {bank_name} {agent_name} {customer_name}
    {masked_mobile} {masked_account} {address} {branch_name}."""

    kind = models.CharField(_("回访类型"), max_length=20, choices=VisitKind.choices)
    language = models.CharField(_("语言"), max_length=10, default="zh-hans")
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("内容"))
    version = models.PositiveIntegerField(_("版本"), default=1)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["kind", "language", "-version"]
        verbose_name = _("话术")
        verbose_name_plural = _("话术")

    def __str__(self):
        return f"{self.title} v{self.version}"


class DueUnit(models.TextChoices):
    BUSINESS_DAYS = "business_days", _("工作日")
    WORKING_HOURS = "working_hours", _("工作小时")
    # Calls are allowed every day: suspected fraud counts 2 hours of calling time (SPEC §4).
    CALLING_HOURS = "calling_hours", _("通话时段小时")
    CALENDAR_DAYS = "calendar_days", _("自然日")
    CYCLE_MONTHS = "cycle_months", _("周期（月）")


class VisitPolicy(models.Model):
    """When a visit of a kind is due, for an account type and risk level (blank = any)."""

    kind = models.CharField(_("回访类型"), max_length=20, choices=VisitKind.choices)
    account_type = models.CharField(
        _("账户类型"), max_length=20, choices=AccountType.choices, blank=True
    )
    risk_level = models.CharField(
        _("风险等级"), max_length=10, choices=RiskLevel.choices, blank=True
    )
    due_unit = models.CharField(_("时限单位"), max_length=20, choices=DueUnit.choices)
    due_amount = models.PositiveIntegerField(_("时限数量"))
    halve_for_high_risk = models.BooleanField(_("高风险或异常账户周期减半"), default=True)
    priority = models.PositiveSmallIntegerField(_("优先级"), default=50)
    preferred_channel = models.CharField(
        _("首选渠道"), max_length=10, choices=Channel.choices, default=Channel.PHONE
    )
    script = models.ForeignKey(
        Script, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("话术")
    )
    required_certification = models.ForeignKey(
        Certification, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("所需资质")
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["kind", "account_type", "risk_level"]
        verbose_name = _("回访策略")
        verbose_name_plural = _("回访策略")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "account_type", "risk_level"],
                condition=Q(is_active=True),
                name="one_active_policy_per_scope",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.account_type or '*'} {self.risk_level or '*'}"


class RuleType(models.TextChoices):
    SINGLE_TRANSACTION = "single_transaction", _("单笔大额交易")
    DAILY_CUMULATIVE = "daily_cumulative", _("当日累计金额")
    SMALL_BURST = "small_burst", _("频繁小额交易")
    INFO_CHANGE = "info_change", _("预留信息变更")
    COMPLAINT = "complaint", _("投诉")
    ACCOUNT_CLOSED = "account_closed", _("销户")


class EventRule(models.Model):
    """A rule that makes an account event trigger a special-event visit, kept as data."""

    code = models.CharField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    rule_type = models.CharField(_("规则类型"), max_length=20, choices=RuleType.choices)
    account_type = models.CharField(
        _("账户类型"), max_length=20, choices=AccountType.choices, blank=True
    )
    txn_kind = models.CharField(_("交易方式"), max_length=10, choices=TxnKind.choices, blank=True)
    threshold = models.DecimalField(
        _("金额阈值"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    # Other currencies than CNY are judged on their USD equivalent (PBOC large-value rules);
    # blank: the CNY threshold converted at the reference rates.
    usd_threshold = models.DecimalField(
        _("美元等值阈值"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    min_count = models.PositiveIntegerField(_("笔数下限"), null=True, blank=True)
    window_hours = models.PositiveIntegerField(_("时间窗（小时）"), null=True, blank=True)
    suspected_fraud = models.BooleanField(_("疑似欺诈"), default=False)
    due_unit = models.CharField(
        _("时限单位"), max_length=20, choices=DueUnit.choices, default=DueUnit.BUSINESS_DAYS
    )
    due_amount = models.PositiveIntegerField(_("时限数量"), default=1)
    priority = models.PositiveSmallIntegerField(_("优先级"), default=70)
    version = models.PositiveIntegerField(_("版本"), default=1)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["rule_type", "code"]
        verbose_name = _("事件规则")
        verbose_name_plural = _("事件规则")

    def __str__(self):
        return self.name


class CurrencyRate(models.Model):
    """A reference rate (CNY per one unit of the currency), kept as data for administrators to
    update. Transactions in a currency without a rate are refused (SPEC §4 "Currencies")."""

    code = models.CharField(_("币种"), max_length=3, unique=True)
    cny_per_unit = models.DecimalField(
        _("人民币参考汇率（每1单位）"),
        max_digits=18,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0.000001"))],
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("参考汇率")
        verbose_name_plural = _("参考汇率")
        constraints = [
            models.CheckConstraint(condition=Q(cny_per_unit__gt=0), name="currency_rate_positive")
        ]

    def __str__(self):
        return f"{self.code} {self.cny_per_unit}"


# --- Visits --------------------------------------------------------------------------------


class VisitStatus(models.TextChoices):
    PENDING = "pending", _("待分配")
    ASSIGNED = "assigned", _("已分配")
    IN_PROGRESS = "in_progress", _("进行中")
    COMPLETED = "completed", _("已完成")
    UNREACHABLE = "unreachable", _("无法联系")
    CANCELLED = "cancelled", _("已取消")


OPEN_VISIT_STATUSES = (VisitStatus.PENDING, VisitStatus.ASSIGNED, VisitStatus.IN_PROGRESS)


class CancelReason(models.TextChoices):
    ACCOUNT_CLOSED = "account_closed", _("账户已销户")
    DO_NOT_CONTACT = "do_not_contact", _("客户已设置勿扰")


# A visit that may not be made (the customer is do-not-contact and it is no suspected fraud)
# is never late: it can be neither called nor moved down the fallback ladder.
UNCONTACTABLE = Q(account__customer__do_not_contact=True, suspected_fraud=False)


class VisitQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_VISIT_STATUSES)

    def due_before(self, moment):
        return self.filter(due_at__lt=moment)

    def overdue(self, now=None):
        return self.open().due_before(now or timezone.now()).exclude(UNCONTACTABLE)


class Visit(models.Model):
    # No single-column indexes on account, branch and agent: the composite indexes below lead
    # with them, and every index costs time on each of the millions of generated rows
    # (bench/generate.py: about 1 s per index per 866,000 visits on this machine).
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="visits",
        verbose_name=_("账户"),
        db_index=False,
    )
    branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        related_name="visits",
        verbose_name=_("网点"),
        db_index=False,
    )
    kind = models.CharField(_("回访类型"), max_length=20, choices=VisitKind.choices)
    status = models.CharField(
        _("状态"), max_length=20, choices=VisitStatus.choices, default=VisitStatus.PENDING
    )
    priority = models.PositiveSmallIntegerField(_("优先级"), default=50)
    suspected_fraud = models.BooleanField(_("疑似欺诈"), default=False)
    due_at = models.DateTimeField(_("到期时间"))
    # The due time rests on a calendar year not loaded yet (Monday-Friday assumed); recomputed
    # when the year is loaded (core.calendar_plans).
    due_provisional = models.BooleanField(_("暂定到期时间"), default=False, db_default=False)
    channel = models.CharField(
        _("当前渠道"), max_length=10, choices=Channel.choices, default=Channel.PHONE
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("回访人员"),
        db_index=False,
    )
    assigned_at = models.DateTimeField(_("分配时间"), null=True, blank=True)
    callback_at = models.DateTimeField(_("预约回拨时间"), null=True, blank=True)
    phone_attempts = models.PositiveSmallIntegerField(_("电话尝试次数"), default=0)
    last_attempt_on = models.DateField(_("最近尝试日期"), null=True, blank=True)
    policy = models.ForeignKey(
        VisitPolicy, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("策略")
    )
    policy_version = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("策略版本"))
    rule = models.ForeignKey(
        EventRule,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("规则"),
        db_index=False,  # partial index below
    )
    rule_version = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("规则版本"))
    reason = models.CharField(_("回访原因"), max_length=300, blank=True)
    events = models.ManyToManyField(
        AccountEvent,
        through="VisitTrigger",
        related_name="visits",
        blank=True,
        verbose_name=_("触发事件"),
    )
    unreachable_reason = models.TextField(_("无法联系原因"), blank=True)
    cancelled_reason = models.CharField(
        _("取消原因"), max_length=200, choices=CancelReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("回访")
        verbose_name_plural = _("回访")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=Q(status__in=[s.value for s in OPEN_VISIT_STATUSES]),
                name="one_open_visit_per_account_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["assigned", "in_progress"]) | Q(assigned_to__isnull=False),
                name="assigned_visit_has_agent",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="visit_status_due"),
            # Partial where a new visit has nothing to index: a generated visit is unassigned,
            # not completed and without a rule, so it costs none of these three.
            models.Index(
                fields=["assigned_to", "status", "due_at"],
                name="visit_agent_status_due",
                condition=Q(assigned_to__isnull=False),
            ),
            models.Index(
                fields=["branch", "status", "-priority", "due_at"], name="visit_branch_queue"
            ),
            models.Index(fields=["account", "kind", "-created_at"], name="visit_account_kind"),
            models.Index(fields=["updated_at"], name="visit_updated_at"),
            models.Index(
                fields=["completed_at"],
                name="visit_completed_at",
                condition=Q(completed_at__isnull=False),
            ),
            models.Index(fields=["rule"], name="visit_rule", condition=Q(rule__isnull=False)),
            # Covering (PostgreSQL): the dashboard's "visits due today" by branch, kind,
            # status and agent is an index-only scan instead of one heap page per visit.
            models.Index(
                fields=["due_at"],
                name="visit_due_cover",
                include=["branch", "kind", "status", "assigned_to"],
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} {self.account}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_VISIT_STATUSES

    def is_overdue(self, now=None) -> bool:
        if not self.is_open or self.due_at >= (now or timezone.now()):
            return False
        return self.suspected_fraud or not self.account.customer.do_not_contact


class VisitTrigger(models.Model):
    """Why a visit exists: each event that created or joined it, and the rule that matched."""

    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, related_name="triggers", verbose_name=_("回访")
    )
    # No database-level foreign key to events: on PostgreSQL the events table is partitioned
    # by month and its key is (id, occurred_at), so ``id`` alone cannot be referenced. The ORM
    # still cascades; the monthly purge keeps every event a trigger or a check points to.
    event = models.ForeignKey(
        AccountEvent,
        on_delete=models.CASCADE,
        related_name="triggers",
        db_constraint=False,
        verbose_name=_("账户事件"),
    )
    rule = models.ForeignKey(
        EventRule, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("事件规则")
    )
    rule_version = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("规则版本"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("回访触发")
        verbose_name_plural = _("回访触发")
        constraints = [
            models.UniqueConstraint(fields=["visit", "event"], name="one_trigger_per_visit_event")
        ]


class AttemptOutcome(models.TextChoices):
    REACHED = "reached", _("已接通")
    NO_ANSWER = "no_answer", _("无人接听")
    BUSY = "busy", _("占线")
    WRONG_NUMBER = "wrong_number", _("号码错误")
    REFUSED = "refused", _("拒绝")
    CALLBACK = "callback", _("预约回拨")
    SMS_SENT = "sms_sent", _("短信已发送")
    SMS_FAILED = "sms_failed", _("短信发送失败")
    ONLINE_SENT = "online_sent", _("问卷已发送")
    ONLINE_EXPIRED = "online_expired", _("问卷过期未答")


class ContactAttempt(models.Model):
    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("回访")
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("回访人员"),
    )
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    outcome = models.CharField(_("结果"), max_length=20, choices=AttemptOutcome.choices)
    callback_at = models.DateTimeField(_("预约回拨时间"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        ordering = ["started_at"]
        verbose_name = _("联系尝试")
        verbose_name_plural = _("联系尝试")
        indexes = [
            models.Index(fields=["visit", "started_at"], name="attempt_visit_time"),
            models.Index(fields=["started_at"], name="attempt_started_at"),
        ]


class ItemStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("已确认")
    CHANGED = "changed", _("有变更")
    NOT_ASKED = "not_asked", _("未询问")


class UsageStatus(models.TextChoices):
    USES = "uses", _("使用")
    NOT_USED = "not_used", _("未使用")
    UNKNOWN = "unknown", _("未询问")


class Handling(models.TextChoices):
    NO_PROBLEM = "no_problem", _("无问题")
    RESOLVED = "resolved", _("当场解决")
    ESCALATED = "escalated", _("转办")


class VisitRecord(models.Model):
    """The structured record of a completed visit (SPEC §2). Immutable once submitted;
    corrections are RecordAmendments."""

    visit = models.OneToOneField(
        Visit, on_delete=models.PROTECT, related_name="record", verbose_name=_("回访")
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    submitted_at = models.DateTimeField(_("提交时间"), default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="records",
        verbose_name=_("回访人员"),
    )
    # 1. Basic information
    mobile_status = models.CharField(
        _("手机号码"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.NOT_ASKED
    )
    email_status = models.CharField(
        _("电子邮箱"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.NOT_ASKED
    )
    landline_status = models.CharField(
        _("固定电话"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.NOT_ASKED
    )
    address_status = models.CharField(
        _("地址"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.NOT_ASKED
    )
    reported_changes = models.JSONField(_("客户报告的变更"), default=dict, blank=True)
    id_expiry_checked = models.BooleanField(_("已核对证件有效期"), default=False)
    id_expiry_reported = models.DateField(_("证件有效期"), null=True, blank=True)
    # 2. Account use
    transactions_reviewed = models.BooleanField(_("已核对近期交易"), default=False)
    usage_frequency = models.CharField(_("使用频率"), max_length=50, blank=True)
    amount_range = models.CharField(_("金额范围"), max_length=50, blank=True)
    usage_channels = models.JSONField(_("使用渠道"), default=list, blank=True)
    online_banking = models.CharField(
        _("网上银行"), max_length=10, choices=UsageStatus.choices, default=UsageStatus.UNKNOWN
    )
    mobile_banking = models.CharField(
        _("手机银行"), max_length=10, choices=UsageStatus.choices, default=UsageStatus.UNKNOWN
    )
    sms_alerts = models.CharField(
        _("短信提醒"), max_length=10, choices=UsageStatus.choices, default=UsageStatus.UNKNOWN
    )
    channel_feedback = models.TextField(_("渠道使用反馈"), blank=True)
    needs = models.JSONField(_("业务需求（营销线索）"), default=list, blank=True)
    needs_note = models.CharField(_("需求说明"), max_length=300, blank=True)
    # 3. Security reminders
    reminder_anti_fraud = models.BooleanField(_("已提示防诈骗"), default=False)
    reminder_safe_operation = models.BooleanField(_("已提示安全操作"), default=False)
    # 4. Outcome
    feedback = models.TextField(_("客户反馈"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    handling = models.CharField(
        _("问题处理"), max_length=20, choices=Handling.choices, default=Handling.NO_PROBLEM
    )
    problem = models.TextField(_("问题描述"), blank=True)
    answers = models.JSONField(_("问卷答案"), default=dict, blank=True)
    # Follow-up visits only: is the customer satisfied with the escalation's result?
    resolution_satisfied = models.BooleanField(_("对处理结果满意"), null=True, blank=True)

    class Meta:
        verbose_name = _("回访记录")
        verbose_name_plural = _("回访记录")
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True)
                | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="satisfaction_1_to_5",
            ),
            models.CheckConstraint(
                condition=~Q(channel="phone")
                | Q(reminder_anti_fraud=True, reminder_safe_operation=True),
                name="phone_record_has_security_reminders",
            ),
        ]
        indexes = [
            models.Index(fields=["submitted_by", "submitted_at"], name="record_agent_time"),
            models.Index(fields=["submitted_at"], name="record_submitted_at"),
        ]
        # Submitted records are immutable on PostgreSQL whatever the path (ORM, admin, raw SQL);
        # only the retention procedure (SET LOCAL callback.retention = 'on') may anonymise them.
        triggers = [
            pgtrigger.Protect(
                name="record_immutable",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Condition(
                    "current_setting('callback.retention', true) IS DISTINCT FROM 'on'"
                ),
            )
        ]

    def __str__(self):
        return f"{_('回访记录')} #{self.pk}"


class TransactionCheck(models.Model):
    """The customer's answer on one flagged transaction: confirmed, or denied (suspected fraud)."""

    record = models.ForeignKey(
        VisitRecord, on_delete=models.PROTECT, related_name="transaction_checks"
    )
    # No database-level foreign key: see VisitTrigger.event.
    event = models.ForeignKey(
        AccountEvent, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    confirmed = models.BooleanField(_("客户确认"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "event"], name="one_check_per_event")
        ]


class RecordAmendment(models.Model):
    """A correction of a submitted record: the original stays, this says what and why."""

    record = models.ForeignKey(VisitRecord, on_delete=models.PROTECT, related_name="amendments")
    field = models.CharField(_("字段"), max_length=50)
    old_value = models.TextField(_("原值"), blank=True)
    new_value = models.TextField(_("新值"), blank=True)
    reason = models.CharField(_("更正原因"), max_length=300)
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    amended_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["amended_at"]
        verbose_name = _("记录更正")
        verbose_name_plural = _("记录更正")
