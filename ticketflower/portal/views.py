"""The portal's pages: the dashboard, and the submitter's pages — submit, My tickets, one ticket.

Thin: selectors read, `ticket_submit` writes. Every "not yours" answers 404, exactly like
"not there" (another company's type or ticket, a colleague's ticket, a type one's roles do
not open), so a page never tells whether an id exists.
"""

import math
from functools import partial
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from ticketflower.accounts.models import User
from ticketflower.core.pages import UnfoldPageMixin
from ticketflower.core.ratelimit import rate_limit_hit
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.layouts.embed import LayoutFrame, form_errors, release_frame, ticket_type_layout_path
from ticketflower.portal import display, selectors
from ticketflower.portal.forms import TAB_CHOICES, TicketFilterForm, sort_value, styled
from ticketflower.runtime.forms import LAYOUT_VALUES, DataForm, form_values, posted_form, ticket_form
from ticketflower.runtime.services import DataInvalid, ticket_submit
from ticketflower.tenancy.models import SystemRole

SUBMISSIONS_LIMIT = "ticket_submissions_per_user"


class DashboardView(LoginRequiredMixin, UnfoldPageMixin, TemplateView):
    template_name = "portal/dashboard.html"
    title = _("Dashboard")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = cast(User, self.request.user)
        return super().get_context_data(
            areas=selectors.areas_for(user),
            company_roles=list(user.company_roles.all()) if user.company_id else [],
            system_role_labels=[role.label for role in SystemRole if role in user.system_roles],
            **kwargs,
        )


class AreaView(LoginRequiredMixin, UnfoldPageMixin, TemplateView):
    """Placeholder for a role's area until its page lands; 404 without the role."""

    template_name = "portal/area.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        area = selectors.area_for(cast(User, request.user), kwargs["slug"])
        if area is None:
            raise Http404("No such area.")
        if area.slug in selectors.PAGES or area.slug in selectors.ADMIN_SITES:
            return redirect(area.url)  # it has its own page now
        return self.render_to_response(self.get_context_data(area=area, title=area.title, **kwargs))


class SubmitterPageMixin(LoginRequiredMixin):
    """The submitter's pages: for people with the User role, 404 for anybody else."""

    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not selectors.is_submitter(request.user):
            raise Http404("No such page.")
        return super().dispatch(request, *args, **kwargs)

    @property
    def user(self) -> User:
        return cast(User, self.request.user)


class SubmitView(SubmitterPageMixin, UnfoldPageMixin, TemplateView):
    """The ticket types I may submit, each linking to its form."""

    template_name = "portal/submit.html"
    title = _("Submit a ticket")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(ticket_types=selectors.submit_choices(self.user), **kwargs)


class SubmitFormView(SubmitterPageMixin, UnfoldPageMixin, TemplateView):
    """A ticket type's form; a valid answer becomes a ticket and goes to its confirmation page.

    An old release's type id opens the latest release's form (a bookmarked link keeps working);
    a type the person may not submit is 404.
    """

    template_name = "portal/submit_form.html"

    def ticket_type(self) -> ReleaseTicketType:
        found = selectors.ticket_type_to_submit(self.user, self.kwargs["ticket_type_id"])
        if found is None:
            raise Http404("No such ticket type.")
        return found

    def form(self, ticket_type: ReleaseTicketType, **kwargs: Any) -> DataForm:
        return styled(
            ticket_form(ticket_type.spec, ticket_type.release.bundle["workflow"]["fields"], **kwargs)
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ticket_type = self.ticket_type()
        if ticket_type.pk != kwargs["ticket_type_id"]:
            return redirect("portal:submit_type", ticket_type_id=ticket_type.pk)
        return self.page(ticket_type, self.form(ticket_type))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ticket_type = self.ticket_type()
        form = posted_form(partial(self.form, ticket_type), request.POST, request.FILES)
        # Every attempt counts (a refused one costs schema checks too); counted outside any
        # transaction, so a failed submission does not take its count back.
        wait = rate_limit_hit(
            scope=SUBMISSIONS_LIMIT, key=str(self.user.pk), **settings.RATE_LIMITS[SUBMISSIONS_LIMIT]
        )
        if wait is not None:
            return self.page(ticket_type, form, wait_minutes=max(1, math.ceil(wait / 60)), status=429)
        if not form.is_valid() or not form.store_uploads(self.user):
            return self.page(ticket_type, form)
        try:
            ticket = ticket_submit(ticket_type=ticket_type, submitted_by=self.user, data=form.json_data())
        except DataInvalid as exc:
            form.add_field_errors(exc.errors)
            return self.page(ticket_type, form)
        except PermissionDenied as exc:  # withdrawn or taken away since the form was opened
            raise Http404("No such ticket type.") from exc
        return redirect("portal:submitted", pk=ticket.pk)

    def page(
        self,
        ticket_type: ReleaseTicketType,
        form: DataForm,
        *,
        wait_minutes: int | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = self.get_context_data(
            ticket_type=ticket_type,
            workflow=ticket_type.release.workflow,
            form=form,
            layout=release_frame(
                ticket_type.release,
                ticket_type_layout_path(ticket_type.position, "edit_layout"),
                viewer=self.user,
                key="ticket-edit",
                values=form_values(form),
                errors=form_errors(form.errors) if form.is_bound else {},
                context={"ticket_type": {"title": ticket_type.title}},
                values_input="layout-values",
                fallback="ticket-form-fields",
            ),
            layout_values=LAYOUT_VALUES,
            title=ticket_type.title,
            links=safe_links(ticket_type.spec.get("ext_ref")),
            wait_minutes=wait_minutes,
        )
        return self.render_to_response(context, status=status)


def safe_links(ext_ref: Any) -> list[dict[str, str]]:
    """A ticket type's reference links that are plain web links (no javascript: or data: URLs)."""
    links = []
    for ref in ext_ref if isinstance(ext_ref, list) else []:
        uri = str(ref.get("uri") or "") if isinstance(ref, dict) else ""
        if uri.lower().startswith(("https://", "http://")):
            label = str(ref.get("label") or uri)
            links.append({"uri": uri, "label": label, "description": str(ref.get("description") or "")})
    return links


class SubmittedView(SubmitterPageMixin, UnfoldPageMixin, TemplateView):
    """The confirmation after submitting: what was made, where it stands, where to go next."""

    template_name = "portal/submitted.html"
    title = _("Ticket submitted")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ticket = selectors.submitted_ticket(self.user, kwargs["pk"])
        if ticket is None:
            raise Http404("No such ticket.")
        return super().get_context_data(ticket=ticket, task=selectors.current_task(ticket), **kwargs)


class MyTicketsView(SubmitterPageMixin, UnfoldPageMixin, TemplateView):
    """The tickets I submitted: Active, Closed or All, filtered and sorted, 25 a page."""

    template_name = "portal/my_tickets.html"
    title = _("My tickets")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        params = self.request.GET
        types = selectors.my_ticket_types(self.user)
        filters = TicketFilterForm(params, type_choices=types)
        filters.is_valid()
        tab = filters.value("tab", "active")
        sort, descending = sort_value(filters.value("sort", "-submitted"))
        query = selectors.TicketQuery(
            tab=tab,
            type_id=filters.value("type", None),
            status=filters.value("status", ""),
            sort=sort,
            descending=descending,
            cursor=params.get("cursor") or None,
        )
        page = selectors.my_tickets(self.user, query)
        # What links carry along: the filters and sort that differ from the defaults.
        sort_text = f"{'-' if descending else ''}{sort}"
        kept = {"type": query.type_id or "", "status": query.status}
        kept["sort"] = "" if sort_text == "-submitted" else sort_text
        kept = {k: v for k, v in kept.items() if v}
        here = {"tab": tab, **kept}
        other_tabs = {k: v for k, v in kept.items() if k != "status"}  # statuses differ by tab
        return super().get_context_data(
            page=page,
            filters=filters,
            tab=tab,
            tabs=[
                {"key": key, "title": title, "url": _query({"tab": key, **other_tabs})}
                for key, title in TAB_CHOICES
            ],
            filtered=bool(query.type_id or query.status),
            sorted="sort" in kept,
            next_url=_query({**here, "cursor": page.next_cursor}) if page.next_cursor else "",
            previous_url=_query({**here, "cursor": page.previous_cursor}) if page.previous_cursor else "",
            **kwargs,
        )


def _query(params: dict[str, Any]) -> str:
    return "?" + urlencode(params)


class TicketView(LoginRequiredMixin, UnfoldPageMixin, TemplateView):
    """One ticket: what was asked, where it stands, its tasks and history (see docs/portal.md)."""

    template_name = "portal/ticket.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = cast(User, self.request.user)
        ticket = selectors.visible_ticket(user, kwargs["pk"])
        if ticket is None:
            raise Http404("No such ticket.")
        view = selectors.ticket_view(user, ticket)
        return super().get_context_data(
            view=view,
            layouts=ticket_frames(view, user),
            ticket=ticket,
            title=f"{ticket.ticket_type.title} #{ticket.pk}",
            mine=ticket.created_by_id == user.pk,
            **kwargs,
        )


def ticket_frames(view: selectors.TicketView, viewer: User) -> dict[str, LayoutFrame | None]:
    """The ticket's display layouts: what was asked, and the workflow's view of the run.

    The run's data (tasks' outputs included) only for ticket admins, as the rest of the page.
    """
    ticket = view.ticket
    release = ticket.ticket_type.release
    run = ticket.workflow_instance
    context = display.layout_context(
        ticket,
        status=view.status,
        status_label=view.status_label,
        current_step=view.current_step,
        tasks=view.tasks,
    )
    run_values = run.data if view.internal and run is not None else {}
    return {
        "ticket": release_frame(
            release,
            ticket_type_layout_path(ticket.ticket_type.position, "display_layout"),
            viewer=viewer,
            key="ticket-display",
            values=ticket.data,
            context=context,
            fallback="ticket-answers",
        ),
        "workflow": release_frame(
            release,
            "workflow.display_layout",
            viewer=viewer,
            key="workflow-display",
            values=run_values,
            # A submitter sees the steps; their answers are the ticket display's, and what
            # the workers add is not theirs to see.
            only=None if view.internal else (),
            context=context,
            fallback="ticket-tasks",
        ),
    }
