from django.contrib import admin

from accounts.admin import CustomerAdmin as AccountsCustomerAdmin
from accounts.admin_scope import BranchScopedAdmin
from accounts.models import Customer
from visits.contact import do_not_contact_visits_cancel
from visits.models import (
    ContactAttempt,
    EventRule,
    Script,
    Visit,
    VisitPolicy,
    VisitRecord,
    VisitTrigger,
)


@admin.register(Script)
class ScriptAdmin(BranchScopedAdmin):
    list_display = ["title", "kind", "language", "version", "is_active"]
    list_filter = ["kind", "language", "is_active"]
    search_fields = ["title"]


@admin.register(VisitPolicy)
class VisitPolicyAdmin(BranchScopedAdmin):
    list_display = [
        "kind",
        "account_type",
        "risk_level",
        "due_unit",
        "due_amount",
        "priority",
        "preferred_channel",
        "version",
        "is_active",
    ]
    list_filter = ["kind", "account_type", "is_active"]
    autocomplete_fields = ["script"]


@admin.register(EventRule)
class EventRuleAdmin(BranchScopedAdmin):
    list_display = [
        "code",
        "name",
        "rule_type",
        "account_type",
        "txn_kind",
        "threshold",
        "min_count",
        "window_hours",
        "suspected_fraud",
        "version",
        "is_active",
    ]
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
class VisitAdmin(BranchScopedAdmin):
    branch_path = "branch"
    personal_data = True
    list_display = ["id", "kind", "status", "priority", "due_at", "branch", "assigned_to"]
    list_filter = ["status", "kind", "suspected_fraud", "channel", "branch"]
    search_fields = ["=id"]
    blind_search_fields = ("account__number_index",)
    raw_id_fields = ["account", "assigned_to", "policy", "rule"]
    list_select_related = ["branch", "assigned_to"]
    inlines = [VisitTriggerInline, ContactAttemptInline]
    date_hierarchy = "due_at"
    show_full_result_count = False


@admin.register(VisitRecord)
class VisitRecordAdmin(BranchScopedAdmin):
    branch_path = "visit__branch"
    personal_data = True
    list_display = [
        "id",
        "visit",
        "channel",
        "submitted_by",
        "submitted_at",
        "satisfaction",
        "handling",
    ]
    list_filter = ["channel", "handling", "satisfaction"]
    search_fields = ["=visit__id"]
    raw_id_fields = ["visit", "submitted_by"]
    date_hierarchy = "submitted_at"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # immutable once submitted: corrections are amendments

    def has_delete_permission(self, request, obj=None):
        return False


# The customer page lives in accounts/admin.py; it is registered again here, one layer up, so
# that setting do-not-contact in the admin cancels the visits as the API does (SPEC §4).
admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(AccountsCustomerAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.do_not_contact and "do_not_contact" in form.changed_data:
            do_not_contact_visits_cancel(customer=obj, request=request)
