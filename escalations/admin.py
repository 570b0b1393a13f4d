from django.contrib import admin

from accounts.admin_scope import BranchScopedAdmin
from escalations.models import Escalation, EscalationStep


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    can_delete = False
    readonly_fields = ["action", "from_status", "to_status", "by", "at", "note"]


@admin.register(Escalation)
class EscalationAdmin(BranchScopedAdmin):
    branch_path = "account__branch"
    personal_data = True
    list_display = [
        "id",
        "department",
        "urgency",
        "status",
        "deadline_at",
        "handler",
        "overdue_count",
    ]
    list_filter = ["status", "urgency", "department"]
    search_fields = ["=id", "=visit__id"]
    raw_id_fields = ["visit", "record", "account", "handler", "follow_up_visit", "opened_by"]
    inlines = [EscalationStepInline]
    show_full_result_count = False
