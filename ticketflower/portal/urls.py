from django.urls import path

from ticketflower.portal import views

app_name = "portal"

# /tickets/ is the ticket admins' site: the submitter's tickets live under /my-tickets/.
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("area/<slug:slug>/", views.AreaView.as_view(), name="area"),
    path("submit/", views.SubmitView.as_view(), name="submit"),
    path("submit/<int:ticket_type_id>/", views.SubmitFormView.as_view(), name="submit_type"),
    path("my-tickets/", views.MyTicketsView.as_view(), name="my_tickets"),
    path("my-tickets/<int:pk>/", views.TicketView.as_view(), name="ticket"),
    path("my-tickets/<int:pk>/submitted/", views.SubmittedView.as_view(), name="submitted"),
]
