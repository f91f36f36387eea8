"""Shared mechanisms: clock, events, sync/async wrapping."""
