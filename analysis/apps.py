from django.apps import AppConfig

from storage_app.signals import database_restored


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Media analysis"

    def ready(self) -> None:
        # Imported once the app registry is ready: the cache module imports models.
        from analysis import cache

        database_restored.connect(cache.forget_everything, dispatch_uid="analysis.cache.restore")
