"""Outbound long connections that receive what the platforms' HTTP callbacks would otherwise deliver.

One module per protocol; each is an application worker that feeds the same inbox as the HTTP edge (so a
duplicate delivery is a no-op) and needs no inbound port. ``bot.net`` routes them through the proxy.
"""
