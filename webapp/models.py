"""Imports every domain's models so the metadata (and Alembic) sees all tables."""

from webapp.accounts.models import Account, ApiKey, AuditLog, SenderAccount, Shop, User
from webapp.api.models import IdempotencyRecord
from webapp.message_templates.models import MessageTemplate, TemplateVariant
from webapp.notifications.models import (
    AttachmentFile,
    Message,
    MessageAttempt,
    QuickReply,
    Rule,
)
from webapp.orders.importing import ImportJob, ImportMapping
from webapp.orders.models import Customer, Document, Order, OrderEvent, OrderItem
from webapp.status.models import StatusLink

__all__ = [
    "Account",
    "ApiKey",
    "AttachmentFile",
    "AuditLog",
    "Customer",
    "Document",
    "IdempotencyRecord",
    "ImportJob",
    "ImportMapping",
    "Message",
    "MessageAttempt",
    "MessageTemplate",
    "Order",
    "OrderEvent",
    "OrderItem",
    "QuickReply",
    "SenderAccount",
    "Rule",
    "Shop",
    "StatusLink",
    "TemplateVariant",
    "User",
]
