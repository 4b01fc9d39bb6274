"""Types shared by the tests."""

from __future__ import annotations

from typing import Callable

from engine.access import Actor

ActorOf = Callable[[str], Actor]
