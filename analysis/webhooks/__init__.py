"""Signed webhooks (issue 14): where callers are told that a request ended.

- ``models``: registered endpoints, the per-user callback secret, one delivery per
  (event, request, target) and every attempt of it;
- ``signing`` / ``vault``: Standard Webhooks signatures and secrets encrypted at rest;
- ``events``: deliveries created in the transaction of the state change
  (``analysis.signals.request_state_changing``), published after its commit;
- ``delivery`` / ``http``: one attempt (pinned address, 10 s, no redirects) and
  what its answer means (delivered, retried with backoff, endpoint disabled);
- ``registry``: the rules of endpoints and callback URLs, used by the API and admin;
- ``retention``: finished deliveries deleted by age, in batches;
- ``api``, ``admin``, ``tasks``, ``metrics``: the thin doors over those.

Kept light: ``analysis.models`` imports ``analysis.webhooks.models`` at its end.
"""
