from django.contrib import admin

from accounts.admin_scope import BranchScopedAdmin
from workspace.models import QuestionnaireInvite, QuestionnaireQuestion, SmsMessage, SmsTemplate


@admin.register(SmsTemplate)
class SmsTemplateAdmin(BranchScopedAdmin):
    list_display = ["code", "kind", "is_marketing", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(SmsMessage)
class SmsMessageAdmin(BranchScopedAdmin):
    branch_path = "customer__branch"
    personal_data = True
    list_display = ["id", "customer", "status", "not_before", "sent_at", "delivered_at"]
    list_filter = ["status"]
    raw_id_fields = ["customer", "visit", "template"]
    show_full_result_count = False


@admin.register(QuestionnaireQuestion)
class QuestionnaireQuestionAdmin(BranchScopedAdmin):
    list_display = [
        "kind",
        "order",
        "code",
        "text",
        "answer_type",
        "action_if",
        "denies_transactions",
        "is_active",
    ]
    list_filter = ["kind", "is_active"]


@admin.register(QuestionnaireInvite)
class QuestionnaireInviteAdmin(BranchScopedAdmin):
    branch_path = "visit__branch"
    personal_data = True
    list_display = ["visit", "created_at", "expires_at", "used_at"]
    raw_id_fields = ["visit", "assigned_to"]
    exclude = ["nonce"]
