"""The rules every channel shares: chat commands, the command line and the console call these functions.

Each function checks who may act, changes the state, keeps the timeline, queues what others must hear and
writes the audit entry, all in the caller's transaction; a refusal is audited and raised as :class:`Refused`
with the courteous Chinese sentence to show. Parsing what a person typed stays with each channel.
"""
