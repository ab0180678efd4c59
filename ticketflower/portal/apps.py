from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ticketflower.portal"
    verbose_name = "Portal"
