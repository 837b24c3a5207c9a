"""Signals other parts of the service (webhooks, metrics) listen to."""

from django.dispatch import Signal

# Sent once per status change of an analysis request, after its transaction
# committed (analysis.transitions), with keyword arguments: request_id, owner_id,
# previous (None for a new request), state and reason (what moved it: "retry",
# "claimed", "recorded", "heartbeat_expired", ...).
request_state_changed = Signal()

# Sent by analysis.transitions.move for every status change while the caller's
# transaction is still open, with keyword arguments: request (the saved row),
# previous, state and reason. For listeners whose writes must commit or roll back
# with the change (webhook deliveries: an ending is never announced without them).
# A receiver's error aborts the change.
request_state_changing = Signal()
