"""The project's URLs plus API views that exist only to exercise the foundation's behaviour."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from config import urls as project_urls
from ticketflower.accounts.models import User
from ticketflower.api.base import ApiView
from ticketflower.tenancy.context import NoCompanyContext, current_company_or_none


class LineSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=5)


class EchoSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=5)
    lines = LineSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("title") == "nope":
            raise serializers.ValidationError("Not this title.")
        return attrs


class EchoView(ApiView):
    def post(self, request: Request) -> Response:
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class ServiceErrorView(ApiView):
    def post(self, request: Request) -> Response:
        raise ValidationError({"name": "Taken.", "__all__": "Try again tomorrow."})


class MissingView(ApiView):
    def get(self, request: Request) -> Response:
        User.objects.get(pk=0)
        return Response({})


class CrashView(ApiView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug with a secret: hunter2")


class WhoView(ApiView):
    """Which company the view acts for, and whether a scoped query runs."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        company = current_company_or_none()
        try:
            users: int | str = User.objects.count()
        except NoCompanyContext:
            users = "refused"
        return Response({"company": company.name if company else None, "users": users})


def django_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("outside DRF")


def django_missing(request: HttpRequest) -> HttpResponse:
    raise Http404("outside DRF")


def django_forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("outside DRF")


urlpatterns = [
    path("api/test/echo/", EchoView.as_view()),
    path("api/test/service-error/", ServiceErrorView.as_view()),
    path("api/test/missing/", MissingView.as_view()),
    path("api/test/crash/", CrashView.as_view()),
    path("api/test/who/", WhoView.as_view()),
    path("api/test/django-crash/", django_crash),
    path("api/test/django-missing/", django_missing),
    path("api/test/django-forbidden/", django_forbidden),
    *project_urls.urlpatterns,
]
handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500
