from django.urls import path

from supervision import views, views_security

app_name = "supervision"


urlpatterns = [
    path("supervision/", views.dashboard, name="dashboard"),
    path("supervision/samples/", views.samples, name="samples"),
    path("supervision/samples/<int:pk>/", views.sample_detail, name="sample"),
    path("supervision/samples/<int:pk>/open/", views.sample_start, name="sample_open"),
    path("supervision/reviews/<int:pk>/", views.review, name="review"),
    path("supervision/my-actions/", views.my_actions, name="my_actions"),
    path(
        "supervision/my-actions/<int:pk>/acknowledge/",
        views.action_acknowledge,
        name="action_acknowledge",
    ),
    path("supervision/complaints/", views.complaints, name="complaints"),
    path("supervision/complaints/new/", views.complaint_new, name="complaint_new"),
    path("supervision/complaints/<int:pk>/", views.complaint_detail, name="complaint"),
    path("supervision/training/", views.training, name="training"),
    path("supervision/assessments/", views.assessments, name="assessments"),
    path(
        "supervision/export/<slug:name>.<slug:fmt>",
        views.export,
        name="export",
    ),
    path("supervision/audit-log/", views_security.audit_log, name="audit_log"),
]
