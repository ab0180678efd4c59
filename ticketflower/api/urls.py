from django.urls import include, path, re_path

from ticketflower.api import views

app_name = "api"

v1 = [
    path("ticket-types/", views.TicketTypeListView.as_view(), name="ticket-types"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(), name="docs"),
]

urlpatterns = [
    path("v1/", include(v1)),
    # Last: whatever else is asked under /api/ gets the API's JSON 404.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
