from django.urls import path

from supervision import views_security as views

app_name = "records"

urlpatterns = [
    path("records/", views.record_list, name="list"),
    path("records/<int:pk>/", views.record_detail, name="detail"),
    path("records/<int:pk>/amend/", views.record_amend_view, name="amend"),
    path("records/destruction/", views.destruction_lists, name="destruction_lists"),
    path("records/destruction/<int:pk>/", views.destruction_detail, name="destruction_detail"),
    path(
        "records/destruction/<int:pk>/<str:action>/",
        views.destruction_act,
        name="destruction_act",
    ),
]
