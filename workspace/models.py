"""The fallback channels of the workspace: SMS messages and the online questionnaire."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from visits.models import Visit, VisitKind


class SmsTemplate(models.Model):
    """Placeholders as in scripts. Replies: 1 = correct, 2 = wrong, TD = opt out."""

    code = models.CharField(_("代码"), max_length=40, unique=True)
    kind = models.CharField(_("回访类型"), max_length=20, choices=VisitKind.choices, blank=True)
    body = models.TextField(_("内容"))
    is_marketing = models.BooleanField(_("含营销内容"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("短信模板")
        verbose_name_plural = _("短信模板")

    def __str__(self):
        return self.code


class SmsStatus(models.TextChoices):
    QUEUED = "queued", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("失败")
    SKIPPED = "skipped", _("未发送")


class SmsMessage(models.Model):
    """The SMS outbox. ``idempotency_key`` is unique, so a retried task sends nothing twice."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="sms_messages", verbose_name=_("客户")
    )
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sms_messages",
        verbose_name=_("回访"),
    )
    template = models.ForeignKey(
        SmsTemplate, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("短信模板")
    )
    body = models.TextField(verbose_name=_("短信内容"))
    status = models.CharField(
        max_length=10, choices=SmsStatus.choices, default=SmsStatus.QUEUED, verbose_name=_("状态")
    )
    idempotency_key = models.CharField(max_length=100, unique=True, verbose_name=_("幂等键"))
    not_before = models.DateTimeField(default=timezone.now, verbose_name=_("最早发送时间"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("发送时间"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("送达时间"))
    gateway_message_id = models.CharField(
        max_length=100, blank=True, db_index=True, verbose_name=_("网关消息编号")
    )
    tries = models.PositiveSmallIntegerField(default=0, verbose_name=_("尝试次数"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("错误信息"))
    reply_text = models.CharField(max_length=200, blank=True, verbose_name=_("回复内容"))
    replied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("回复时间"))

    class Meta:
        verbose_name = _("短信")
        verbose_name_plural = _("短信")
        indexes = [
            models.Index(fields=["status", "not_before"], name="sms_outbox_queue"),
            models.Index(fields=["customer", "sent_at"], name="sms_customer_sent"),
        ]


class QuestionnaireQuestion(models.Model):
    kind = models.CharField(_("回访类型"), max_length=20, choices=VisitKind.choices, blank=True)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    code = models.CharField(_("代码"), max_length=40)
    text = models.CharField(_("问题"), max_length=300)
    answer_type = models.CharField(
        _("答案类型"),
        max_length=10,
        choices=[("yes_no", _("是/否")), ("rating", _("评分1-5")), ("text", _("文字"))],
    )
    action_if = models.CharField(
        _("需跟进的答案"), max_length=20, blank=True, help_text=_("例如 no，或评分 ≤2 写 low")
    )
    # "Are the recent transactions all yours?": the answer that needs action is the customer
    # denying transactions, a suspected fraud escalated to security as on the phone (SPEC §4).
    denies_transactions = models.BooleanField(
        _("否认交易即疑似欺诈"),
        default=False,
        db_default=False,
        help_text=_(
            "客户对此问题作出“需跟进的答案”即表示交易非本人操作，按疑似欺诈紧急转安全保卫部"
        ),
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["kind", "order"]
        verbose_name = _("问卷问题")
        verbose_name_plural = _("问卷问题")

    def __str__(self):
        return self.text


class QuestionnaireInvite(models.Model):
    """A single-use, expiring link to the online questionnaire of one visit."""

    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, related_name="invites", verbose_name=_("回访")
    )
    nonce = models.CharField(max_length=40, unique=True, verbose_name=_("随机数"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    expires_at = models.DateTimeField(verbose_name=_("失效时间"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("使用时间"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("分配给"),
    )

    class Meta:
        verbose_name = _("线上问卷邀请")
        verbose_name_plural = _("线上问卷邀请")


class RecordDraft(models.Model):
    """What an agent has typed into a visit's record form, kept on the server as they type so
    that an expired session, a closed tab or a crash loses nothing. One per visit and agent;
    removed when the record is submitted."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="record_drafts")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="record_drafts"
    )
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("回访记录草稿")
        verbose_name_plural = _("回访记录草稿")
        constraints = [
            models.UniqueConstraint(fields=["visit", "agent"], name="record_draft_one_per_agent")
        ]
