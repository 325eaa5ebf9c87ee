"""aef-db: the execution store of the agent execution framework (AEF)."""

__version__ = "0.1.0"

from aef_db.store import Store

__all__ = ["Store", "__version__"]
