from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "ticketflower.runtime"
    verbose_name = "Tickets and tasks"
