"""Everything the layout sandbox's origin answers (see sandbox.py)."""

from django.urls import path, re_path

from ticketflower.layouts import sandbox

urlpatterns = [
    re_path(r"^frame/(?P<sha256>[0-9a-f]{64})/$", sandbox.frame, name="frame"),
    re_path(r"^layouts/(?P<sha256>[0-9a-f]{64})\.js$", sandbox.module, name="module"),
    path("runtime/<str:name>", sandbox.runtime, name="runtime"),
]

# No app error pages here: plain text.
handler404 = "ticketflower.layouts.sandbox.not_found"
