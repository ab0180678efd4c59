from django.urls import include, path, re_path

from ticketflower.api import files, views, work

app_name = "api"

v1 = [
    path("ticket-types/", views.TicketTypeListView.as_view(), name="ticket-types"),
    path("tickets/", work.TicketListView.as_view(), name="tickets"),
    path("tickets/<int:pk>/", work.TicketDetailView.as_view(), name="ticket"),
    path("tasks/", work.TaskListView.as_view(), name="tasks"),
    path("tasks/pool/", work.PoolView.as_view(), name="pool"),
    path("tasks/<int:pk>/claim/", work.TaskClaimView.as_view(), name="task-claim"),
    path("tasks/<int:pk>/start/", work.TaskStartView.as_view(), name="task-start"),
    path("tasks/<int:pk>/complete/", work.TaskCompleteView.as_view(), name="task-complete"),
    path("tasks/<int:pk>/release/", work.TaskReleaseView.as_view(), name="task-release"),
    path("callbacks/<str:token>/", work.CallbackView.as_view(), name="callback"),
    path("files/", files.FileUploadView.as_view(), name="files"),
    path("files/<int:pk>/", files.FileDownloadView.as_view(), name="file"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(), name="docs"),
]

urlpatterns = [
    path("v1/", include(v1)),
    # Last: whatever else is asked under /api/ gets the API's JSON 404.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
