from django.urls import path

from ticketflower.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("area/<slug:slug>/", views.AreaView.as_view(), name="area"),
]
