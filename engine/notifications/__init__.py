"""Notifications: the outbox written with each command, and its delivery by email and webhook."""
