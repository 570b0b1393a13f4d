from django.urls import path

from escalations import views

app_name = "escalations"

urlpatterns = [
    path("escalations/", views.inbox, name="inbox"),
    path("escalations/stats/", views.stats, name="stats"),
    path("escalations/<int:pk>/", views.detail, name="detail"),
    path("escalations/<int:pk>/<str:action>/", views.act, name="act"),
    path("visits/<int:visit_pk>/escalate/", views.open_from_visit, name="open"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
]
