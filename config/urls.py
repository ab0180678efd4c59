from django.contrib import admin
from django.urls import include, path

from ticketflower.admin_sites.company import company_site
from ticketflower.admin_sites.design import design_site
from ticketflower.admin_sites.tickets import tickets_site
from ticketflower.admin_sites.worker import worker_site

urlpatterns = [
    path("", include("ticketflower.portal.urls")),
    path("accounts/", include("ticketflower.accounts.urls")),
    path("design/", design_site.urls),
    path("tickets/", tickets_site.urls),
    path("worker/", worker_site.urls),
    path("company/", company_site.urls),
    # Stand-ins for the sample workflows' outside systems: 404 unless DEBUG is on.
    path("demo/", include("ticketflower.core.demo_endpoints")),
    path("api/", include("ticketflower.api.urls")),
    path("files/", include("ticketflower.files.urls")),
    # Django's own admin: platform operators (superusers of no company) only.
    path("admin/", admin.site.urls),
]

# JSON under /api/, Django's pages elsewhere (ticketflower/api/errors.py).
handler400 = "ticketflower.api.errors.bad_request"
handler403 = "ticketflower.api.errors.permission_denied"
handler404 = "ticketflower.api.errors.page_not_found"
handler500 = "ticketflower.api.errors.server_error"
