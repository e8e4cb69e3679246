"""Dashboard and cross-domain admin pages."""
