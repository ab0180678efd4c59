from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "ticketflower.files"
    verbose_name = "Files"
