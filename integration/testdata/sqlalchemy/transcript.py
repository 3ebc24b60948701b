"""Run what a Python application sends through SQLAlchemy's ORM on psycopg2 and print what it sees.

The database holds users(id, email) and orders(id, user_id, note),
orders.user_id referencing users.id. psycopg2 binds parameters on the
client and sends every statement as a simple query; SQLAlchemy's unit of
work orders inserts, updates and deletes by the mapped relationship and
batches inserts into multi-row VALUES. Each step prints one line: what the
application got back, and for an error its SQLSTATE, message, detail, table
and constraint. The Go test runs this directly against a real foreign key
and through softfk, and compares the two transcripts.

Argument: a connection URL (postgres://user:password@host:port/db).
"""

import sys

from sqlalchemy import Column, ForeignKey, Integer, Text, create_engine, exc, func, select, text
from sqlalchemy.orm import Session, declarative_base, relationship

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True, autoincrement=False)
    email = Column(Text)
    orders = relationship("Order", back_populates="user")


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True, autoincrement=False)
    user_id = Column(Integer, ForeignKey("users.id"))
    note = Column(Text)
    user = relationship("User", back_populates="orders")


def describe(e):
    orig = getattr(e, "orig", None)
    if orig is None or getattr(orig, "pgcode", None) is None:
        return "exception %s" % type(e).__name__
    d = orig.diag
    return "error %s %s | %s | %s.%s %s" % (
        orig.pgcode, d.message_primary, d.message_detail, d.schema_name, d.table_name, d.constraint_name)


def step(session, name, fn):
    try:
        out = fn()
    except exc.DBAPIError as e:
        session.rollback()
        out = describe(e)
    print("%s: %s" % (name, out), flush=True)


def main():
    engine = create_engine("postgresql+psycopg2://" + sys.argv[1].split("://", 1)[1], future=True)
    session = Session(engine, future=True)

    def commit(*objects):
        session.add_all(objects)
        session.commit()
        return "committed"

    step(session, "order of a user", lambda: commit(Order(id=100, user_id=1)))
    step(session, "order of no user", lambda: commit(Order(id=101, user_id=77)))
    step(session, "null user", lambda: commit(Order(id=102, user_id=None, note="no user")))
    # One flush of several orders: a multi-row INSERT ... VALUES.
    step(session, "batch with a violation", lambda: commit(*[Order(id=110 + i, user_id=k) for i, k in enumerate([1, 2, 78, 3])]))
    step(session, "batch of valid rows", lambda: commit(*[Order(id=120 + i, user_id=k) for i, k in enumerate([1, 2, 3])]))
    # The unit of work inserts the new user before its new order.
    step(session, "new user with an order", lambda: commit(Order(id=130, user=User(id=5, email="e"))))

    def reassign():
        order = session.get(Order, 100)
        order.user_id = 79
        session.commit()
        return "committed"
    step(session, "update to no user", reassign)

    def move():
        order = session.get(Order, 100)
        order.user = session.get(User, 2)
        session.commit()
        return "user %d" % session.get(Order, 100).user_id
    step(session, "update through the relationship", move)

    # A savepoint around a violation; the rest of the transaction commits.
    def nested():
        out = []
        session.add(Order(id=140, user_id=1))
        try:
            with session.begin_nested():
                session.add(Order(id=141, user_id=404))
        except exc.IntegrityError as e:
            out.append(describe(e))
        session.add(Order(id=142, user_id=2))
        session.commit()
        out.append("committed")
        return " ; ".join(out)
    step(session, "savepoint", nested)

    # Deleting a user: the unit of work first sets its orders' user_id to
    # NULL (the relationship has no delete cascade), then deletes it.
    def delete_user(uid):
        session.delete(session.get(User, uid))
        session.commit()
        return "committed"
    step(session, "delete of a user through the ORM", lambda: delete_user(5))

    def core(sql, **params):
        with engine.begin() as conn:
            return "rows %d" % conn.execute(text(sql), params).rowcount
    step(session, "core delete of a referenced user", lambda: core("DELETE FROM users WHERE id = :id", id=1))
    step(session, "core update of a referenced key", lambda: core("UPDATE users SET id = :new WHERE id = :old", new=9, old=3))
    step(session, "core insert of many", lambda: core("INSERT INTO orders (id, user_id) VALUES (:a, :b), (:c, :d)", a=150, b=1, c=151, d=80))

    def bulk():
        session.bulk_insert_mappings(Order, [{"id": 160 + i, "user_id": k} for i, k in enumerate([1, 81, 2])])
        session.commit()
        return "committed"
    step(session, "bulk insert mappings", bulk)

    step(session, "count", lambda: session.scalar(select(func.count()).select_from(Order)))
    step(session, "orders", lambda: " ".join(
        "%s,%s,%s" % (o.id, o.user_id, o.note) for o in session.scalars(select(Order).order_by(Order.id))))
    step(session, "users", lambda: " ".join(
        "%s,%s" % (u.id, u.email) for u in session.scalars(select(User).order_by(User.id))))


if __name__ == "__main__":
    main()
