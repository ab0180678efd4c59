from typing import Any

from django.http import HttpRequest
from django_stubs_ext import StrOrPromise
from unfold.sites import UnfoldAdminSite

# Not mounted anywhere: it only lends unfold's theme context (colours, title, fonts) to the
# portal pages so they look like the admin sites.
_theme_site = UnfoldAdminSite(name="portal_theme")


def unfold_context(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = _theme_site.each_context(request)
    return context


class UnfoldPageMixin:
    """Context for a server-rendered page drawn with unfold's layouts."""

    request: HttpRequest
    title: StrOrPromise = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(unfold_context(self.request))
        context.setdefault("title", self.title)
        return context
