"""Cost control (issue 14): what an analysis is expected to cost, each user's daily
and monthly budgets, and what was spent.

- ``tokens``: how many tokens a provider call is expected to take, from what is sent;
- ``estimate``: the expected cost of a submission, before anything is stored;
- ``usage``: what was spent, from the recorded results' costs;
- ``budgets``: the limits, the check on submit and the ``budget_exceeded`` error;
- ``guard``: the check before each provider call, with a reservation held while it runs;
- ``api`` and ``admin``: ``POST /api/media/estimate``, ``GET /api/usage``, user budgets.

Periods are UTC: a day starts at 00:00 UTC, a month on the 1st at 00:00 UTC.
"""
