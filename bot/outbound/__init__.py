"""Outbound delivery: rendering, splitting, rate-limited sending and the dispatcher that drives them.

Handlers and jobs only enqueue rows (``storage.outbound``); everything that knows a platform's wire format,
limits or errcodes lives here.
"""
