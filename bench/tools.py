"""Set-up steps the harness runs inside the app (a subprocess with the benchmark's environment).

`python -m bench.tools COMMAND ...` prints one JSON line with its result:
- `schema`: create every table from the models (when migrations/ holds no revision yet).
- `seed-demo --smtp URL`: the demo account through its service (when the CLI lacks `demo`).
- `mint-links --account SLUG --prefix P --count N`: one status link per order P-000001..N.
- `bulk-orders --account SLUG --shop CODE --prefix P --count N`: insert customers, orders and
  one item each with SQLAlchemy core in large batches (the scale benchmark's data).
- `order-list-route`: the admin order-list URL if the app has one, else null.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import timedelta
from typing import Any

BATCH = 5000


def _schema(args: argparse.Namespace) -> Any:
    from webapp.extensions import db

    db.create_all()
    return {"tables": sorted(db.metadata.tables)}


def _seed_demo(args: argparse.Namespace) -> Any:
    from webapp.accounts.demo import seed_demo_account

    return seed_demo_account(args.smtp).as_dict()


def _account_id(slug: str) -> int:
    from webapp.accounts.services import get_account_by_slug

    account = get_account_by_slug(slug)
    if account is None:
        raise SystemExit(f"no account {slug!r}")
    return account.id


def _mint_links(args: argparse.Namespace) -> Any:
    from flask import current_app

    from webapp.orders.models import Order
    from webapp.status.services import mint_status_link
    from webapp.tenancy import scoped

    account_id = _account_id(args.account)
    numbers = [f"{args.prefix}-{n:06d}" for n in range(1, args.count + 1)]
    from webapp.extensions import db

    orders = db.session.execute(
        scoped(Order, account_id).where(Order.number.in_(numbers))
    ).scalars()
    base = current_app.config["BASE_URL"]
    paths = []
    for order in orders:
        _, url = mint_status_link(account_id, order.id, source="bench")
        paths.append(url[len(base) :] if url.startswith(base) else url)
    return {"paths": paths}


def _bulk_orders(args: argparse.Namespace) -> Any:
    from sqlalchemy import insert, select

    from webapp.accounts.models import Shop
    from webapp.dbtypes import utcnow
    from webapp.extensions import db
    from webapp.orders.models import Customer, Order, OrderItem

    account_id = _account_id(args.account)
    shop_id = db.session.execute(
        select(Shop.id).where(Shop.account_id == account_id, Shop.code == args.shop)
    ).scalar_one()
    rng = random.Random(7)
    now = utcnow()
    first_names = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jon"]
    last_names = ["Müller", "Schmidt", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Koch"]
    states = ["open", "invoiced", "shipped", "delivered", "cancelled"]
    titles = ["Der Zauberberg", "Faust", "Effi Briest", "Die Blechtrommel", "Momo", "Siddhartha"]
    conn = db.session.connection()
    done = 0
    while done < args.count:
        size = min(BATCH, args.count - done)
        start = done + 1
        customers = []
        for n in range(start, start + size):
            name = f"{rng.choice(first_names)} {rng.choice(last_names)}"
            customers.append(
                {
                    "account_id": account_id,
                    "name": name,
                    "email": f"customer{n}@bench.example",
                    "language": "de",
                    "channel": "email",
                    "created_at": now,
                }
            )
        conn.execute(insert(Customer), customers)
        customer_ids = (
            db.session.execute(
                select(Customer.id)
                .where(Customer.account_id == account_id)
                .order_by(Customer.id.desc())
                .limit(size)
            )
            .scalars()
            .all()
        )
        customer_ids.reverse()
        orders = []
        for offset, customer_id in enumerate(customer_ids):
            n = start + offset
            placed = now - timedelta(minutes=args.count - n)
            orders.append(
                {
                    "account_id": account_id,
                    "number": f"{args.prefix}-{n:06d}",
                    "shop_id": shop_id,
                    "customer_id": customer_id,
                    "placed_at": placed,
                    "fulfillment": rng.choice(["FBA", "FBM", "own"]),
                    "currency": "EUR",
                    "payment_method": rng.choice(["prepayment", "invoice", "paid"]),
                    "state": rng.choice(states),
                    "pickup": False,
                    "note": "",
                    "created_at": placed,
                    "updated_at": placed,
                }
            )
        conn.execute(insert(Order), orders)
        order_ids = (
            db.session.execute(
                select(Order.id)
                .where(Order.account_id == account_id)
                .order_by(Order.id.desc())
                .limit(size)
            )
            .scalars()
            .all()
        )
        conn.execute(
            insert(OrderItem),
            [
                {
                    "account_id": account_id,
                    "order_id": order_id,
                    "position": 0,
                    "sku": f"SKU-{order_id % 997}",
                    "title": rng.choice(titles),
                    "quantity": 1,
                    "unit_price": 19.9,
                    "delivered_quantity": 0,
                }
                for order_id in order_ids
            ],
        )
        db.session.commit()
        conn = db.session.connection()
        done += size
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does a minute after a load this size; without statistics the
        # planner guesses row counts and the figures describe no running system.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as analyze:
            analyze.exec_driver_sql("ANALYZE")
    return {"inserted": done}


def _order_list_route(args: argparse.Namespace) -> Any:
    from flask import current_app

    candidates = []
    for rule in current_app.url_map.iter_rules():
        path = rule.rule
        if rule.arguments or "GET" not in (rule.methods or ()):
            continue
        if path.startswith(("/api/", "/s/", "/static")):
            continue
        if (
            rule.endpoint.split(".")[-1] in ("orders", "order_list", "list_orders", "index")
            and ("order" in rule.endpoint)
            or path.rstrip("/").endswith("/orders")
        ):
            candidates.append(path)
    return {"path": sorted(candidates, key=len)[0] if candidates else None}


COMMANDS = {
    "schema": _schema,
    "seed-demo": _seed_demo,
    "mint-links": _mint_links,
    "bulk-orders": _bulk_orders,
    "order-list-route": _order_list_route,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--smtp")
    parser.add_argument("--account", default="demo")
    parser.add_argument("--shop")
    parser.add_argument("--prefix", default="BENCH-S")
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args(argv)

    from webapp import create_app

    app = create_app()
    with app.app_context():
        result = COMMANDS[args.command](args)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
