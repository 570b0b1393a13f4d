from django.shortcuts import render
from django.urls import path

from .models import Role
from .permissions import role_required

app_name = "accounts"


@role_required(Role.TELLER)
def teller(request):  # replaced by the teller page (agent-workspace issue)
    return render(request, "placeholder/page.html", {"title": "登记特殊事件"})


urlpatterns = [path("teller/", teller, name="teller")]
