"""RQ entry points; each job re-reads state and delegates to a service."""
