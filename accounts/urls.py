from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [path("teller/", views.teller, name="teller")]
