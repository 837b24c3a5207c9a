"""Signals other parts of the service (webhooks, metrics) listen to."""

from django.dispatch import Signal

# Sent once per status change of an analysis request, after its transaction
# committed (analysis.transitions), with keyword arguments: request_id, owner_id,
# previous (None for a new request), state and reason (what moved it: "retry",
# "claimed", "recorded", "heartbeat_expired", ...).
request_state_changed = Signal()
