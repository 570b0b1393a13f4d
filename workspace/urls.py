from django.urls import path

from workspace import teller, views

app_name = "workspace"

urlpatterns = [
    path("visits/", views.worklist, name="worklist"),
    path("visits/next/", views.claim_next, name="claim_next"),
    path("visits/<int:pk>/", views.call_screen, name="call_screen"),
    path("visits/<int:pk>/reveal/", views.reveal, name="reveal"),
    path("visits/<int:pk>/attempts/", views.attempt, name="attempt"),
    path("visits/<int:pk>/record/", views.record, name="record"),
    path("visits/<int:pk>/record/draft/", views.record_draft, name="record_draft"),
    path("teller/", teller.teller, name="teller"),
]
