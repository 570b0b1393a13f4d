from django.shortcuts import render
from django.urls import path

from accounts.models import Role
from accounts.permissions import role_required

app_name = "escalations"


@role_required(Role.HANDLER, Role.SUPERVISOR)
def inbox(request):  # replaced by the department inbox (escalation issue)
    return render(request, "placeholder/page.html", {"title": "转办事项"})


urlpatterns = [path("escalations/", inbox, name="inbox")]
