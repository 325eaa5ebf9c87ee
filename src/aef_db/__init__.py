"""aef-db: the execution store of the agent execution framework (AEF)."""

__version__ = "0.1.0"
