"""Run what a Python application sends through Django's ORM on psycopg2 and print what it sees.

The database holds users(id, email) and orders(id, user_id, note),
orders.user_id referencing users.id. Django binds parameters on the client
(every statement is a simple query), wraps atomic blocks in transactions
and nested ones in savepoints, and deletes a user's orders itself, before
the user, when the relation cascades (its collector). Each step prints one
line: what the application got back, and for an error its SQLSTATE,
message, detail, table and constraint. The Go test runs this directly
against a real foreign key and through softfk, and compares the two
transcripts.

Argument: a connection URL (postgres://user:password@host:port/db).
"""

import sys
from urllib.parse import urlparse

import django
from django.conf import settings

url = urlparse(sys.argv[1])
settings.configure(
    DATABASES={"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"), "USER": url.username, "PASSWORD": url.password or "",
        "HOST": url.hostname, "PORT": url.port, "OPTIONS": {"sslmode": "disable"},
    }},
    INSTALLED_APPS=["__main__"],
    USE_TZ=True,
)
django.setup()

from django.db import IntegrityError, connection, models, transaction  # noqa: E402


class User(models.Model):
    id = models.IntegerField(primary_key=True)
    email = models.TextField(null=True)

    class Meta:
        app_label = "__main__"
        db_table = "users"
        managed = False


class Order(models.Model):
    id = models.IntegerField(primary_key=True)
    user = models.ForeignKey(User, null=True, on_delete=models.CASCADE, db_column="user_id")
    note = models.TextField(null=True)

    class Meta:
        app_label = "__main__"
        db_table = "orders"
        managed = False


def describe(e):
    cause = e.__cause__
    if cause is None or getattr(cause, "pgcode", None) is None:
        return "exception %s" % type(e).__name__
    d = cause.diag
    return "error %s %s | %s | %s.%s %s" % (
        cause.pgcode, d.message_primary, d.message_detail, d.schema_name, d.table_name, d.constraint_name)


def step(name, fn):
    try:
        out = fn()
    except (IntegrityError, Order.DoesNotExist, User.DoesNotExist) as e:
        out = describe(e)
    print("%s: %s" % (name, out), flush=True)


def main():
    step("create", lambda: Order.objects.create(id=100, user_id=1).pk)
    step("create of no user", lambda: Order.objects.create(id=101, user_id=77).pk)
    step("save with a new user", lambda: Order(id=102, user=User.objects.create(id=5, email="e")).save() or "saved")
    step("bulk_create with a violation", lambda: len(Order.objects.bulk_create(
        [Order(id=110 + i, user_id=k) for i, k in enumerate([1, 2, 78, 3])])))
    step("bulk_create", lambda: len(Order.objects.bulk_create([Order(id=120 + i, user_id=k) for i, k in enumerate([1, 2, 3])])))
    step("queryset update to no user", lambda: Order.objects.filter(id__in=[120, 121]).update(user_id=79))
    step("queryset update", lambda: Order.objects.filter(id=120).update(user_id=2))

    def save_field():
        o = Order.objects.get(id=100)
        o.user_id = 80
        o.save(update_fields=["user"])
        return "saved"
    step("save of one field to no user", save_field)

    def nested():
        out = []
        with transaction.atomic():
            Order.objects.create(id=130, user_id=1)
            try:
                with transaction.atomic():
                    Order.objects.create(id=131, user_id=404)
            except IntegrityError as e:
                out.append(describe(e))
            Order.objects.create(id=132, user_id=2)
        out.append("%d" % Order.objects.filter(id__range=(130, 139)).count())
        return " ; ".join(out)
    step("nested atomic blocks", nested)

    def failing():
        with transaction.atomic():
            Order.objects.create(id=140, user_id=1)
            Order.objects.create(id=141, user_id=81)
        return "committed"
    step("atomic block with a violation", failing)
    step("after it", lambda: Order.objects.filter(id__in=[140, 141]).count())

    # Deleting through the ORM: Django deletes the user's orders first (its
    # own CASCADE), then the user. A raw delete leaves that to the database.
    step("delete of a user with orders", lambda: "%d %s" % User.objects.get(id=5).delete())
    step("queryset delete of a referenced user", lambda: User.objects.filter(id=2)._raw_delete(connection.alias))
    step("raw key update of a referenced user", lambda: User.objects.filter(id=3).update(id=9))

    def for_update():
        with transaction.atomic():
            u = User.objects.select_for_update().get(id=1)
            Order.objects.create(id=150, user=u)
        return "created"
    step("select_for_update then create", for_update)

    step("orders", lambda: " ".join("%s,%s,%s" % (o.id, o.user_id, o.note) for o in Order.objects.order_by("id")))
    step("users", lambda: " ".join("%s,%s" % (u.id, u.email) for u in User.objects.order_by("id")))


if __name__ == "__main__":
    main()
