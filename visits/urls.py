from django.urls import path

from . import views

app_name = "visits"

urlpatterns = [
    path("visits/", views.worklist, name="worklist"),
]
