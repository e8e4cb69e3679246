"""Order list index: (account_id, id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 04:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.create_index("ix_order_account_id_id", ["account_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index("ix_order_account_id_id")
