from django.apps import AppConfig


class LayoutsConfig(AppConfig):
    name = "ticketflower.layouts"
    verbose_name = "Layouts"
