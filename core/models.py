"""What every layer uses: the business calendar, the audit log, notifications, API clients."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# --- Business calendar -------------------------------------------------------------------


class CalendarYear(models.Model):
    """A year whose official holiday plan is loaded. Business days are refused outside them."""

    year = models.PositiveSmallIntegerField(_("年份"), primary_key=True)
    source = models.CharField(_("来源"), max_length=100)
    loaded_at = models.DateTimeField(_("载入时间"), default=timezone.now)

    class Meta:
        ordering = ["year"]
        verbose_name = _("日历年度")
        verbose_name_plural = _("日历年度")

    def __str__(self):
        return str(self.year)


class CalendarDay(models.Model):
    """An exception to the Monday-Friday week: a holiday on a weekday, or a weekend day that
    is a working day (调休)."""

    date = models.DateField(_("日期"), primary_key=True)
    is_working_day = models.BooleanField(_("工作日"))
    name = models.CharField(_("名称"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日/调休")
        verbose_name_plural = _("节假日/调休")

    def __str__(self):
        return f"{self.date} {self.name}"


# --- Notifications -------------------------------------------------------------------------


class Notification(models.Model):
    """In-app notification. ``dedup_key`` makes a doubled job notify once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("用户"),
    )
    message = models.CharField(max_length=300, verbose_name=_("内容"))
    link = models.CharField(max_length=200, blank=True, verbose_name=_("链接"))
    dedup_key = models.CharField(
        max_length=120, unique=True, null=True, blank=True, verbose_name=_("去重键")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("已读时间"))

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]


# --- Audit log (append-only, hash-chained) -------------------------------------------------


class AuditLogEntry(models.Model):
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_label = models.CharField(_("操作人标识"), max_length=150, blank=True)
    client_name = models.CharField(_("接口客户端"), max_length=100, blank=True)
    ip = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    action = models.CharField(_("操作"), max_length=50, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=50, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)
    prev_hash = models.CharField(max_length=64, verbose_name=_("上一条哈希值"))
    hash = models.CharField(max_length=64, verbose_name=_("哈希值"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        indexes = [models.Index(fields=["object_type", "object_id"], name="auditlog_object")]
        # Append-only: UPDATE and DELETE refused on PostgreSQL except by the retention procedure.
        triggers = [
            pgtrigger.Protect(
                name="auditlog_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Condition(
                    "current_setting('callback.retention', true) IS DISTINCT FROM 'on'"
                ),
            )
        ]


# --- API clients ---------------------------------------------------------------------------


class ServiceClient(models.Model):
    """A machine client of the REST API (core banking). The key is shown once, stored hashed."""

    SCOPES = ("ingest", "read")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    key_prefix = models.CharField(max_length=12, unique=True, verbose_name=_("密钥前缀"))
    key_hash = models.CharField(max_length=64, verbose_name=_("密钥摘要"))
    scopes = models.JSONField(_("权限范围"), default=list)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口客户端")
        verbose_name_plural = _("接口客户端")

    def __str__(self):
        return self.name

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes

    # DRF treats request.user as authenticated when this is True.
    is_authenticated = True
