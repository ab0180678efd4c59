from django.urls import path

from ticketflower.files import views

app_name = "files"
urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("<int:pk>/", views.download, name="download"),
]
