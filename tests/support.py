"""Types shared by the tests."""

from __future__ import annotations

from typing import Callable

from engine.org.access import Actor

ActorOf = Callable[[str], Actor]
