from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from django.db.models.signals import post_save, pre_save

        # Imported once the app registry is ready, as Django's receivers usually are.
        from audit import receivers

        # Connected before auditlog's own receivers ("audit" comes first in
        # INSTALLED_APPS), so a stale held-back entry is dropped before auditlog
        # diffs the next save.
        pre_save.connect(receivers.forget_pending_entry, dispatch_uid="audit-forget-pending")
        post_save.connect(receivers.write_pending_entry, dispatch_uid="audit-write-pending")
