"""reconciler: plan and apply the connection pooler of IONOS DBaaS PostgreSQL clusters."""

__version__ = "0.1.0"

__all__ = ["__version__"]
