from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ticketflower.tenancy.context import company_context


class CompanyContextMiddleware:
    """Act for the logged-in user's company for the whole request.

    Anonymous visitors and platform operators get no company context, so any company-scoped
    query they reach raises instead of answering.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        company = getattr(user, "company", None) if user.is_authenticated else None
        if company is None:
            return self.get_response(request)
        with company_context(company):
            return self.get_response(request)
