"""Queries: worklists, case lists and case pages, read from rows, never from workflows."""
