from collections import Counter
from sqlalchemy import event as sa_event
from tests.support.outbox import event, messages, place_order
from webapp.extensions import db
from webapp.notifications.delivery import deliver_due_messages


def test_profile(engine_ready, smtp_server, clock):
    n = 20
    for i in range(n):
        place_order(engine_ready, f"Q-{i}")
        event(engine_ready, f"Q-{i}")
    db.session.expire_all()
    stmts = []
    def before(conn, cursor, statement, parameters, context, executemany):
        stmts.append(statement.split("\n")[0][:150])
    sa_event.listen(db.engine, "before_cursor_execute", before)
    try:
        report = deliver_due_messages()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", before)
    assert report.sent == n
    print("\nTOTAL", len(stmts), "per msg", len(stmts) / n)
    for s, c in Counter(stmts).most_common(60):
        print(c, s)
