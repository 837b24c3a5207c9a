"""Standard Webhooks signatures and secrets encrypted at rest (no database)."""

from __future__ import annotations

import base64

import pytest

from analysis.webhooks import signing, vault


def test_the_signature_matches_the_standard_webhooks_reference_vector():
    # The example of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_secret_is_whsec_and_base64_of_32_random_bytes():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.generate_secret() != secret


def test_verify_accepts_ours_and_refuses_a_changed_body_or_an_old_timestamp():
    secret = signing.generate_secret()
    headers = signing.signed_headers(secret, "msg_1", b"{}")
    assert signing.verify(secret, headers, b"{}")
    assert not signing.verify(secret, headers, b"{ }")
    assert not signing.verify(signing.generate_secret(), headers, b"{}")
    old = signing.signed_headers(secret, "msg_1", b"{}", timestamp=1_000_000)
    assert not signing.verify(secret, old, b"{}")


def test_secrets_round_trip_through_the_key_and_the_stored_form_is_not_plain(settings):
    from cryptography.fernet import Fernet

    settings.WEBHOOK_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    secret = signing.generate_secret()
    stored = vault.encrypt(secret)
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert vault.decrypt(stored) == secret
    # A rotation: a new key first, the old one still decrypts.
    settings.WEBHOOK_ENCRYPTION_KEY = [
        Fernet.generate_key().decode(),
        *settings.WEBHOOK_ENCRYPTION_KEY,
    ]
    assert vault.decrypt(stored) == secret


def test_without_the_key_nothing_is_encrypted_and_the_error_names_the_variable(settings):
    settings.WEBHOOK_ENCRYPTION_KEY = []
    with pytest.raises(vault.WebhooksNotConfigured, match="WEBHOOK_ENCRYPTION_KEY") as caught:
        vault.encrypt("whsec_x")
    assert caught.value.http_status == 503
