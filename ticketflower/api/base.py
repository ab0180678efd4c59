"""The base of every API view: it acts for the token's company, and for none without a token.

Django's CompanyContextMiddleware acts for the *session* user's company, but an API request
is authenticated by its bearer token, later, inside the view (DRF authenticates in
`initial()`). So an API view first drops whatever context the middleware set, then — once the
token is checked — acts as the token's user (`acting_as`) until its response is made. A view
reached without a token (a public one, or one whose permission check is about to refuse)
runs with no company context, and every company-scoped query in it raises: fail closed.

Write new endpoints on `ApiView` or `ApiGenericView` (never DRF's APIView directly: a test
walks the URLs under /api/ and fails for a view without `CompanyScopedApiMixin`).
"""

from contextlib import ExitStack
from typing import Any, cast

from django.http import HttpRequest
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ticketflower.accounts.models import User
from ticketflower.tenancy.context import acting_as, outside_any_company


class CompanyScopedApiMixin:
    """Runs a DRF view outside any company until its bearer token is checked, then as its user."""

    _company_scope: ExitStack

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        with ExitStack() as scope:
            self._company_scope = scope
            scope.enter_context(outside_any_company())
            response: Response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authenticates, checks permissions
        if request.user.is_authenticated:
            # Left when dispatch() ends: after the handler and any error response are made.
            self._company_scope.enter_context(acting_as(request.user))


class ApiView(CompanyScopedApiMixin, APIView):
    """An API endpoint: bearer token required (IsAuthenticated), JSON in and out."""

    @property
    def user(self) -> User:
        """The token's user (only inside handlers, which run after authentication)."""
        return cast(User, self.request.user)


class ApiGenericView(CompanyScopedApiMixin, GenericAPIView):  # type: ignore[type-arg]
    """ApiView with DRF's generic machinery (serializer_class, pagination, get_object)."""

    @property
    def user(self) -> User:
        return cast(User, self.request.user)
