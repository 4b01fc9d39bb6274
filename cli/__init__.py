"""The ``duban`` command: composes the API, the workers and the engine (the one place that may
import both ``api`` and ``workers``)."""
