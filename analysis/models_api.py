"""API credentials and idempotency records (beyond the plan's five tables).

``ApiToken`` stores only the SHA-256 of a token: the token itself is shown once, when
it is created, and cannot be recovered from the database. A token may expire and may
be revoked; a user may hold several (one per client, rotated independently).

``IdempotencyKey`` remembers which request an ``Idempotency-Key`` header created, so
a client that repeats a POST (a timeout, a retry) gets the first request back.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from analysis.cache import forget_tokens

TOKEN_PREFIX = "ma_"  # noqa: S105 (marks our tokens; not a secret)


def hash_token(token: str) -> str:
    """SHA-256 hex of a presented token: how tokens are stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    # The first characters, to tell tokens apart in lists and logs; not a secret.
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"

    @classmethod
    def issue(cls, user, *, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
        """Create a token for ``user``; returns the row and the token (shown once)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            user=user, name=name, digest=hash_token(token), prefix=token[:10], expires_at=expires_at
        )
        return row, token

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def revoke(self) -> None:
        """Refuse this token from now on (its cached lookup is dropped too)."""
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
        forget_tokens([self.digest])


class IdempotencyKey(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    # SHA-256 of the submitted fields: the same key with another body is refused.
    fingerprint = models.CharField(max_length=64)
    request = models.ForeignKey(
        "analysis.AnalysisRequest", null=True, on_delete=models.CASCADE, related_name="+"
    )
    # A batch submission's key names the batch (``request`` stays empty).
    batch = models.ForeignKey(
        "analysis.AnalysisBatch", null=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "api_idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="uniq_idempotency_owner_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.request_id}"


# ----------------------------------------------------- cached lookups kept true
# A token's cached lookup holds its user's staff flag; any change to the user or
# the token drops it. Connected here, at model import, so every process (web,
# admin, shell, worker) invalidates, not only the ones that served the API.
@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="api_tokens_user_saved")
@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="api_tokens_user_deleted")
def _forget_tokens_of_user(sender, instance, **kwargs) -> None:
    if instance.pk is None or kwargs.get("update_fields") == frozenset({"last_login"}):
        return
    digests = ApiToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True)
    forget_tokens(list(digests))


@receiver(post_save, sender=ApiToken, dispatch_uid="api_tokens_token_saved")
@receiver(post_delete, sender=ApiToken, dispatch_uid="api_tokens_token_deleted")
def _forget_token(sender, instance: ApiToken, created: bool = False, **kwargs) -> None:
    if not created:
        forget_tokens([instance.digest])
