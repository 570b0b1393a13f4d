"""Branches, departments, staff, customers, accounts and the events core banking sends."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crypto import BlindIndexField, EncryptedTextField, MaskedCopyField, blind_index
from core.masking import mask_account_number, mask_id_number, mask_phone
from core.models import ServiceClient


class Branch(models.Model):
    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("网点")
        verbose_name_plural = _("网点")
        permissions = [("access_branch", _("可访问该网点的客户与回访"))]

    def __str__(self):
        return f"{self.code} {self.name}"


class Department(models.Model):
    code = models.CharField(_("代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    email = models.EmailField(_("部门邮箱"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("处理部门")
        verbose_name_plural = _("处理部门")
        permissions = [("access_department", _("可处理该部门的转办事项"))]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    AGENT = "agent", _("回访人员")
    TELLER = "teller", _("柜员")
    HANDLER = "handler", _("部门处理人")
    SUPERVISOR = "supervisor", _("监督管理人员")
    ADMINISTRATOR = "administrator", _("系统管理员")
    SECURITY_ADMIN = "security_admin", _("安全管理员")
    AUDIT_ADMIN = "audit_admin", _("审计管理员")


class Certification(models.Model):
    """A qualification that a kind of visit may require (e.g. discussing wealth products)."""

    code = models.CharField(_("代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name = _("资质")
        verbose_name_plural = _("资质")

    def __str__(self):
        return self.name


class StaffProfile(models.Model):
    """Role and availability of a member of staff. Branch and department scope are guardian
    object permissions on Branch and Department (see accounts/permissions.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="profile",
        verbose_name=_("用户"),
    )
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, db_index=True)
    employee_no = models.CharField(_("工号"), max_length=20, unique=True, null=True, blank=True)
    phone_extension = models.CharField(_("分机"), max_length=20, blank=True)
    is_absent = models.BooleanField(_("缺勤"), default=False)
    password_changed_at = models.DateTimeField(_("密码修改时间"), default=timezone.now)
    certifications = models.ManyToManyField(
        Certification, through="StaffCertification", blank=True, verbose_name=_("资质")
    )

    class Meta:
        verbose_name = _("员工档案")
        verbose_name_plural = _("员工档案")

    def __str__(self):
        return f"{self.user.get_username()} ({self.get_role_display()})"


class StaffCertification(models.Model):
    profile = models.ForeignKey(StaffProfile, on_delete=models.CASCADE, verbose_name=_("员工资料"))
    certification = models.ForeignKey(
        Certification, on_delete=models.PROTECT, verbose_name=_("资格证书")
    )
    granted_on = models.DateField(_("取得日期"), default=timezone.localdate)
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "certification"], name="one_certification_per_staff"
            )
        ]
        verbose_name = _("员工资质")
        verbose_name_plural = _("员工资质")


class CustomerType(models.TextChoices):
    PERSONAL = "personal", _("个人")
    CORPORATE = "corporate", _("对公")


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAO_PERMIT = "hk_macao_permit", _("港澳居民来往内地通行证")
    TAIWAN_PERMIT = "taiwan_permit", _("台湾居民来往大陆通行证")
    FOREIGN_RESIDENT = "foreign_resident", _("外国人永久居留身份证")
    BUSINESS_LICENSE = "business_license", _("统一社会信用代码")
    OTHER = "other", _("其他")


class RiskLevel(models.TextChoices):
    LOW = "low", _("低")
    MEDIUM = "medium", _("中")
    HIGH = "high", _("高")


class CustomerQuerySet(models.QuerySet):
    def by_id_number(self, id_number: str):
        return self.filter(id_number_hash=blind_index(id_number))

    def by_mobile(self, mobile: str):
        return self.filter(mobile_hash=blind_index(mobile))


class Customer(models.Model):
    external_id = models.CharField(_("核心客户号"), max_length=40, unique=True)
    customer_type = models.CharField(_("客户类型"), max_length=10, choices=CustomerType.choices)
    name = models.CharField(_("姓名/名称"), max_length=200)
    id_type = models.CharField(_("证件类型"), max_length=20, choices=IdType.choices)
    id_number = EncryptedTextField(_("证件号码"))
    id_number_hash = BlindIndexField(source="id_number", verbose_name=_("证件号码索引"))
    id_expiry = models.DateField(_("证件有效期"), null=True, blank=True)
    mobile = EncryptedTextField(_("手机号码"), blank=True)
    mobile_hash = BlindIndexField(source="mobile", verbose_name=_("手机号码索引"))
    email = models.EmailField(_("电子邮箱"), blank=True)
    landline = EncryptedTextField(_("固定电话"), blank=True)
    address = EncryptedTextField(_("地址"), blank=True)
    risk_level = models.CharField(
        _("风险等级"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW
    )
    marketing_consent = models.BooleanField(_("营销同意"), default=False)
    do_not_contact = models.BooleanField(_("勿扰"), default=False)
    # The customer replied "TD" (退订): no more SMS; phone callbacks go on (SPEC §4).
    sms_opt_out = models.BooleanField(_("退订短信"), default=False, db_default=False)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="customers", verbose_name=_("网点")
    )
    source_version = models.BigIntegerField(_("来源版本"), null=True, blank=True)
    legal_hold = models.BooleanField(_("法律保全"), default=False)
    relationship_ended_on = models.DateField(_("业务关系终止日"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        indexes = [models.Index(fields=["branch", "risk_level"], name="customer_branch_risk")]

    def __str__(self):
        return f"{self.external_id} {self.name}"

    @property
    def masked_mobile(self) -> str:
        return mask_phone(self.mobile)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_landline(self) -> str:
        return mask_phone(self.landline)


class AccountType(models.TextChoices):
    PERSONAL_SAVINGS = "personal_savings", _("个人储蓄账户")
    CORPORATE = "corporate", _("对公账户")
    SPECIAL = "special", _("特殊账户")


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    DORMANT = "dormant", _("久悬")
    FROZEN = "frozen", _("冻结")
    CLOSED = "closed", _("已销户")


ABNORMAL_STATUSES = (AccountStatus.DORMANT, AccountStatus.FROZEN)


class AccountQuerySet(models.QuerySet):
    def by_number(self, number: str):
        return self.filter(number_index=blind_index(number))


class Account(models.Model):
    # Encrypted; exact lookups through the blind index (``Account.objects.by_number``), lists and
    # exports show the masked copy (6222********0001) without decrypting.
    number = EncryptedTextField(_("账号"), max_length=32)
    number_index = BlindIndexField(
        source="number", unique=True, db_index=False, verbose_name=_("账号索引")
    )
    number_masked = MaskedCopyField(
        _("账号（脱敏）"), max_length=32, source="number", mask=mask_account_number
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("客户")
    )
    account_type = models.CharField(_("账户类型"), max_length=20, choices=AccountType.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    opened_on = models.DateField(_("开户日期"))
    closed_on = models.DateField(_("销户日期"), null=True, blank=True)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("网点")
    )
    source_version = models.BigIntegerField(_("来源版本"), null=True, blank=True)
    legal_hold = models.BooleanField(_("法律保全"), default=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    objects = AccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("账户")
        verbose_name_plural = _("账户")
        indexes = [
            models.Index(fields=["branch", "status"], name="account_branch_status"),
            models.Index(fields=["opened_on"], name="account_opened_on"),
        ]

    def __str__(self):
        return self.masked_number

    @property
    def masked_number(self) -> str:
        return self.number_masked or mask_account_number(self.number)

    @property
    def number_last4(self) -> str:
        return self.masked_number[-4:]

    def validate_unique(self, exclude=None):
        # The number's uniqueness is its blind index's, which no form edits.
        super().validate_unique(exclude)
        if self.number and "number" not in (exclude or ()):
            others = Account.objects.by_number(self.number).exclude(pk=self.pk)
            if others.exists():
                raise ValidationError({"number": _("该账号已存在。")})

    @property
    def is_abnormal(self) -> bool:
        return self.status in ABNORMAL_STATUSES


class EventType(models.TextChoices):
    ACCOUNT_OPENED = "account_opened", _("开户")
    TRANSACTION = "transaction", _("交易")
    INFO_CHANGED = "info_changed", _("信息变更")
    COMPLAINT = "complaint", _("投诉")
    ACCOUNT_CLOSED = "account_closed", _("销户")


class TxnKind(models.TextChoices):
    CASH = "cash", _("现金")
    TRANSFER = "transfer", _("转账")


class AccountEvent(models.Model):
    """An event on an account, from core banking (client set) or a teller (created_by set).

    On PostgreSQL the table is partitioned by month of ``occurred_at`` (visits migration
    ``event_store_partitioned``): its primary key is (id, occurred_at), ``id`` alone stays unique
    because one identity sequence numbers every partition. The idempotency of ``event_id`` is
    kept by ``EventKey`` (a unique index on a partitioned table would have to include the month),
    which also holds the first answer."""

    # The account and the client are checked by PostgreSQL triggers, once per statement, not by
    # a foreign key's check of each row (visits migration 0009_event_reference_checks).
    client = models.ForeignKey(
        ServiceClient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("接口客户端"),
        db_constraint=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    event_id = models.CharField(_("事件编号"), max_length=64)
    event_type = models.CharField(_("类型"), max_length=20, choices=EventType.choices)
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("账户"),
        db_constraint=False,
    )
    occurred_at = models.DateTimeField(_("发生时间"))
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    amount = models.DecimalField(_("金额"), max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, verbose_name=_("币种"))
    txn_kind = models.CharField(
        max_length=10, choices=TxnKind.choices, blank=True, verbose_name=_("交易种类")
    )
    direction = models.CharField(max_length=3, blank=True, verbose_name=_("收付方向"))
    channel = models.CharField(max_length=10, blank=True, verbose_name=_("渠道"))
    flagged = models.BooleanField(_("可疑/大额"), default=False)
    body_hash = models.CharField(max_length=64, blank=True, verbose_name=_("请求内容摘要"))

    class Meta:
        verbose_name = _("账户事件")
        verbose_name_plural = _("账户事件")
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="event_account_time"),
            models.Index(fields=["client", "event_id"], name="event_client_event_id"),
        ]

    def __str__(self):
        return f"{self.event_id} {self.get_event_type_display()}"


class EventKey(models.Model):
    """The idempotency key of an event a service client sent: unique per client, kept for
    ``CALLBACK["EVENT_KEY_DAYS"]`` days (then a repeat is stored as a new event). A repeat with
    the same ``body_hash`` is answered with the first answer (``answer``, kept only when it says
    more than "no visit": null stands for ``{"event_id": ..., "visits": []}``), another body
    with 409."""

    # No index of its own: the unique (client, event_id) index serves lookups by client, and
    # one index fewer is one write fewer for each of the events a batch brings. The reference
    # is checked once per statement by a PostgreSQL trigger (visits migration 0009).
    client = models.ForeignKey(
        ServiceClient,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    event_id = models.CharField(max_length=64)
    body_hash = models.CharField(max_length=64)
    answer = models.JSONField(null=True, blank=True)
    # Indexed for the nightly purge (created_at < cutoff) by accounts migration 0011, outside
    # the model: a BRIN index on PostgreSQL (keys are written in time order; a range index is
    # a few pages and costs a batch's thousand keys next to nothing), a B-tree elsewhere.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "event_id"], name="event_key_unique"),
        ]

    def __str__(self):
        return self.event_id


class ConsentKind(models.TextChoices):
    MARKETING = "marketing", _("营销")
    CONTACT = "contact", _("联系（勿扰）")
    SMS = "sms", _("短信（退订）")


class ConsentEntry(models.Model):
    """The consent and opt-out ledger: kept as proof, never edited."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consents", verbose_name=_("客户")
    )
    kind = models.CharField(_("类型"), max_length=10, choices=ConsentKind.choices)
    granted = models.BooleanField(_("同意"))
    source = models.CharField(_("来源渠道"), max_length=20)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("记录时间"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("记录人"),
    )

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("同意记录")
        verbose_name_plural = _("同意记录")
        indexes = [models.Index(fields=["customer", "kind", "-recorded_at"], name="consent_lookup")]


class PasswordHistory(models.Model):
    """A password a user had before (its hash only): a new password may not reuse the last
    few (accounts/passwords.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("历史密码")
        verbose_name_plural = _("历史密码")
