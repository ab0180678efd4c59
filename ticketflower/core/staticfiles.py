"""Static files from the app itself (WhiteNoise), with or without `collectstatic`.

Not on the layout sandbox's host: there only the sandbox's own files may load, so a layout
cannot pull the app's other scripts into its frame.
"""

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

from ticketflower.layouts.sandbox import is_sandbox_request


class AppStaticFilesMiddleware(WhiteNoiseMiddleware):
    def add_files(self, root: str, prefix: str | None = None) -> None:
        # STATIC_ROOT exists only after `collectstatic`; until then the finders serve.
        if Path(root).is_dir():
            super().add_files(root, prefix)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_sandbox_request(request):
            return self.get_response(request)
        return super().__call__(request)
