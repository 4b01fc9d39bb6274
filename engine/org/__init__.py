"""The organisation: departments, task forces, accounts, sessions, and who may see and do what."""
