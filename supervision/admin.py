from django.contrib import admin

from accounts.admin_scope import BranchScopedAdmin
from accounts.permissions import has_global_branch_scope
from core.models import AuditLogEntry
from supervision.models import (
    AuditReview,
    AuditSample,
    AuditSampleItem,
    Complaint,
    CorrectiveAction,
    MonthlyAssessment,
    TrainingAttendance,
    TrainingCourse,
)


@admin.register(AuditSample)
class AuditSampleAdmin(BranchScopedAdmin):
    # A sample spans branches; only users who see every branch list it.
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if has_global_branch_scope(request.user) else queryset.none()

    list_display = ["id", "period_start", "period_end", "rate", "size", "seed", "status"]
    list_filter = ["status"]


@admin.register(AuditSampleItem)
class AuditSampleItemAdmin(BranchScopedAdmin):
    branch_path = "record__visit__branch"
    list_display = ["sample", "record", "agent"]
    raw_id_fields = ["sample", "record", "agent"]


@admin.register(AuditReview)
class AuditReviewAdmin(BranchScopedAdmin):
    branch_path = "item__record__visit__branch"
    list_display = ["item", "reviewer", "score", "finished_at"]
    raw_id_fields = ["item", "reviewer"]


@admin.register(CorrectiveAction)
class CorrectiveActionAdmin(BranchScopedAdmin):
    branch_path = "review__item__record__visit__branch"
    list_display = ["agent", "due_on", "acknowledged_at"]
    raw_id_fields = ["review", "agent"]


@admin.register(Complaint)
class ComplaintAdmin(BranchScopedAdmin):
    branch_path = "branch"
    personal_data = True
    list_display = ["id", "source", "status", "received_at", "is_complex", "upheld"]
    list_filter = ["source", "status", "upheld", "is_complex"]
    search_fields = ["=id", "contact_name"]
    blind_search_fields = ("contact_phone_index",)
    raw_id_fields = [
        "customer",
        "visit",
        "agent",
        "investigator",
        "extension_approved_by",
        "registered_by",
    ]
    show_full_result_count = False


@admin.register(TrainingCourse)
class TrainingCourseAdmin(BranchScopedAdmin):
    list_display = ["name", "hours", "grants"]


@admin.register(TrainingAttendance)
class TrainingAttendanceAdmin(BranchScopedAdmin):
    staff_path = "agent"
    list_display = ["course", "agent", "attended_on", "hours", "passed"]
    list_filter = ["passed", "course"]
    raw_id_fields = ["agent"]


@admin.register(MonthlyAssessment)
class MonthlyAssessmentAdmin(BranchScopedAdmin):
    staff_path = "agent"
    list_display = ["month", "agent", "composite", "rank", "rewarded", "frozen"]
    list_filter = ["month", "rewarded", "frozen"]
    raw_id_fields = ["agent"]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(BranchScopedAdmin):
    personal_data = True  # who did what to whom: reading it is itself logged
    list_display = ["id", "at", "actor_label", "client_name", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["=actor_label", "=object_id", "action"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
