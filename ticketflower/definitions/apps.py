from django.apps import AppConfig


class DefinitionsConfig(AppConfig):
    name = "ticketflower.definitions"
    verbose_name = "Definitions"

    def ready(self) -> None:
        from ticketflower.definitions import versioning

        versioning.register()
