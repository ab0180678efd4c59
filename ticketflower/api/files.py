"""Files through the API: upload one for a file field, download one you may see."""

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ticketflower.api.base import ApiView
from ticketflower.api.serializers import ErrorSerializer
from ticketflower.files.views import file_response, upload_answer


class FileUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The file: PDF, an image, an Office document or plain text.")


class FileSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="What a file field of a ticket or task takes.")
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField(help_text="As read from the file's bytes.")


class FileUploadView(ApiView):
    """Upload one file (multipart, field "file"); its id goes into a file field of a ticket or task.

    A file no ticket refers to is removed after a day.
    """

    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="files_create",
        request={"multipart/form-data": FileUploadSerializer},
        responses={
            201: FileSerializer,
            400: ErrorSerializer,
            413: ErrorSerializer,
            422: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        status, body = upload_answer(self.user, request.FILES)
        return Response(body, status=status)


class FileDownloadView(ApiView):
    """Download a file: your own upload, or one on a ticket you may see (404 otherwise)."""

    @extend_schema(
        operation_id="files_retrieve",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The file."),
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        return file_response(self.user, pk)
