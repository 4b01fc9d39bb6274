"""duban's engine: the supervision domain over SpiffWorkflow and SQLAlchemy. Imports no web framework."""
