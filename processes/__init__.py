"""The supervision catalogue: task forms, audit wording, modes and the org data from the seed."""
