"""Pages and endpoints reached without a staff login: the customer's questionnaire and the SMS
gateway's callback (authenticated by its shared secret)."""

from django.urls import path

from workspace import views

app_name = "public"

urlpatterns = [
    path("q/<str:token>/", views.questionnaire, name="questionnaire"),
    path("sms/callback/", views.sms_callback, name="sms_callback"),
]
