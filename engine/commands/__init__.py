"""Commands: every change to a case goes through one pipeline (``pipeline.py``)."""
