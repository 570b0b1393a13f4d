"""Customer-facing supervision pages without login. Included at the site root: /complaint/."""

from django.urls import path

from supervision import views

app_name = "public_complaints"

urlpatterns = [
    path("complaint/", views.public_complaint, name="new"),
]
