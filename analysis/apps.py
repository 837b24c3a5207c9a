from django.apps import AppConfig

from analysis.signals import request_state_changing
from storage_app.signals import database_restored


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Media analysis"

    def ready(self) -> None:
        # Imported once the app registry is ready: the cache module imports models.
        from analysis import cache

        database_restored.connect(cache.forget_everything, dispatch_uid="analysis.cache.restore")
        # Imported once the app registry is ready (it imports models): webhook
        # deliveries are written in the transaction of a request's ending.
        from analysis.webhooks.events import on_state_changing

        request_state_changing.connect(on_state_changing, dispatch_uid="analysis.webhooks.events")
        # Imported here for the same reason: a batch settles in its last item's
        # transaction (analysis/batches/service.py).
        from analysis.batches.events import on_state_changing as settle_batch

        request_state_changing.connect(settle_batch, dispatch_uid="analysis.batches.events")
