from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ticketflower.core"
    verbose_name = "Core"
