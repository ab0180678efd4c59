from django.apps import AppConfig


class AdminSitesConfig(AppConfig):
    name = "ticketflower.admin_sites"
    verbose_name = "Admin sites"
