"""Registers every blueprint of the app."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach the admin, API, status-page and health blueprints."""
    from webapp.accounts.views import bp as accounts_bp
    from webapp.admin.views import bp as admin_bp
    from webapp.api import register_api
    from webapp.health import bp as health_bp
    from webapp.message_templates.views import bp as message_templates_bp
    from webapp.notifications.views import bp as notifications_bp
    from webapp.orders import import_views  # noqa: F401 - adds the import pages to orders_bp
    from webapp.orders.views import bp as orders_bp
    from webapp.status import register_status

    app.register_blueprint(health_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(message_templates_bp)
    app.register_blueprint(notifications_bp)
    register_api(app)
    register_status(app)
