"""Order event index: (account_id, order_id, type)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("order_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_event_account_order_type", ["account_id", "order_id", "type"], unique=False
        )


def downgrade():
    with op.batch_alter_table("order_event", schema=None) as batch_op:
        batch_op.drop_index("ix_order_event_account_order_type")
