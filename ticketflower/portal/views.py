from typing import Any, cast

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.views.generic import TemplateView

from ticketflower.accounts.models import User
from ticketflower.core.pages import UnfoldPageMixin
from ticketflower.portal.selectors import area_for, areas_for
from ticketflower.tenancy.models import SystemRole


class DashboardView(LoginRequiredMixin, UnfoldPageMixin, TemplateView):
    template_name = "portal/dashboard.html"
    title = "Dashboard"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = cast(User, self.request.user)
        return super().get_context_data(
            areas=areas_for(user),
            company_roles=list(user.company_roles.all()) if user.company_id else [],
            system_role_labels=[role.label for role in SystemRole if role in user.system_roles],
            **kwargs,
        )


class AreaView(LoginRequiredMixin, UnfoldPageMixin, TemplateView):
    """Placeholder for a role's area until its admin site or page lands; 404 without the role."""

    template_name = "portal/area.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = cast(User, self.request.user)
        area = area_for(user, kwargs["slug"])
        if area is None:
            raise Http404("No such area.")
        return super().get_context_data(area=area, title=area.title, **kwargs)
