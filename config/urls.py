from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("ticketflower.portal.urls")),
    path("accounts/", include("ticketflower.accounts.urls")),
    path("admin/", admin.site.urls),
]
