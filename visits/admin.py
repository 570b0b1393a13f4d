from django.contrib import admin

from .models import (
    CalendarDay,
    CalendarYear,
    ContactAttempt,
    Escalation,
    EscalationStep,
    EventRule,
    Notification,
    QuestionnaireInvite,
    QuestionnaireQuestion,
    Script,
    SmsMessage,
    SmsTemplate,
    Visit,
    VisitPolicy,
    VisitRecord,
    VisitTrigger,
)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "source", "loaded_at"]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_working_day", "name"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "language", "version", "is_active"]
    list_filter = ["kind", "language", "is_active"]
    search_fields = ["title"]


@admin.register(VisitPolicy)
class VisitPolicyAdmin(admin.ModelAdmin):
    list_display = ["kind", "account_type", "risk_level", "due_unit", "due_amount", "priority",
                    "preferred_channel", "version", "is_active"]
    list_filter = ["kind", "account_type", "is_active"]
    autocomplete_fields = ["script"]


@admin.register(EventRule)
class EventRuleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "rule_type", "account_type", "txn_kind", "threshold",
                    "min_count", "window_hours", "suspected_fraud", "version", "is_active"]
    list_filter = ["rule_type", "is_active", "suspected_fraud"]
    search_fields = ["code", "name"]


class VisitTriggerInline(admin.TabularInline):
    model = VisitTrigger
    extra = 0
    raw_id_fields = ["event", "rule"]


class ContactAttemptInline(admin.TabularInline):
    model = ContactAttempt
    extra = 0
    raw_id_fields = ["agent"]


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "priority", "due_at", "branch", "assigned_to"]
    list_filter = ["status", "kind", "suspected_fraud", "channel", "branch"]
    search_fields = ["=id", "=account__number"]
    raw_id_fields = ["account", "assigned_to", "policy", "rule"]
    list_select_related = ["branch", "assigned_to"]
    inlines = [VisitTriggerInline, ContactAttemptInline]
    date_hierarchy = "due_at"
    show_full_result_count = False


@admin.register(VisitRecord)
class VisitRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "visit", "channel", "submitted_by", "submitted_at", "satisfaction",
                    "handling"]
    list_filter = ["channel", "handling", "satisfaction"]
    search_fields = ["=visit__id"]
    raw_id_fields = ["visit", "submitted_by"]
    date_hierarchy = "submitted_at"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # immutable once submitted: corrections are amendments

    def has_delete_permission(self, request, obj=None):
        return False


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    can_delete = False
    readonly_fields = ["action", "from_status", "to_status", "by", "at", "note"]


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ["id", "department", "urgency", "status", "deadline_at", "handler",
                    "overdue_count"]
    list_filter = ["status", "urgency", "department"]
    search_fields = ["=id", "=visit__id"]
    raw_id_fields = ["visit", "record", "account", "handler", "follow_up_visit", "opened_by"]
    inlines = [EscalationStepInline]
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "message", "created_at", "read_at"]
    raw_id_fields = ["user"]


@admin.register(SmsTemplate)
class SmsTemplateAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "is_marketing", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "status", "not_before", "sent_at", "delivered_at"]
    list_filter = ["status"]
    raw_id_fields = ["customer", "visit", "template"]
    show_full_result_count = False


@admin.register(QuestionnaireQuestion)
class QuestionnaireQuestionAdmin(admin.ModelAdmin):
    list_display = ["kind", "order", "code", "text", "answer_type", "action_if", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(QuestionnaireInvite)
class QuestionnaireInviteAdmin(admin.ModelAdmin):
    list_display = ["visit", "created_at", "expires_at", "used_at"]
    raw_id_fields = ["visit", "assigned_to"]
    exclude = ["nonce"]
