from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "ticketflower.tenancy"
    verbose_name = "Companies and roles"

    def ready(self) -> None:
        from ticketflower.tenancy import checks, signals  # noqa: F401  (checks register themselves)

        signals.connect()
