from django.shortcuts import render
from django.urls import path

from accounts.models import Role
from accounts.permissions import role_required

app_name = "supervision"


def _placeholder(title, *roles):  # replaced by the supervision and data-protection issues
    @role_required(*roles)
    def view(request):
        return render(request, "placeholder/page.html", {"title": title})

    return view


urlpatterns = [
    path("supervision/", _placeholder("统计看板", Role.SUPERVISOR), name="dashboard"),
    path("supervision/samples/", _placeholder("抽查", Role.SUPERVISOR), name="samples"),
    path("supervision/complaints/", _placeholder("投诉", Role.SUPERVISOR), name="complaints"),
    path(
        "supervision/audit-log/",
        _placeholder("审计日志", Role.SUPERVISOR, Role.AUDIT_ADMIN),
        name="audit_log",
    ),
]
