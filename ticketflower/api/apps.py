from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ticketflower.api"
    label = "api"
    verbose_name = "JSON API"

    def ready(self) -> None:
        # drf-spectacular finds the bearer scheme through this extension's registration.
        from ticketflower.api import schema  # noqa: F401
