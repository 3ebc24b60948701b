# transcript.rb runs what a Ruby application sends through Active Record
# on the pg gem (libpq) against users(id, email) and orders(id, user_id,
# note), orders.user_id referencing users.id, and prints what the
# application sees, one line per step: results, and for an error its
# exception class, SQLSTATE, message, detail, table and constraint. Active
# Record prepares each statement it runs (named a1, a2, ...) and reuses it,
# wraps saves in transactions, and nests transactions as savepoints. The
# Go test runs it directly against a real foreign key and through softfk,
# and compares the two transcripts.
#
# Argument: a connection URL (postgres://user:password@host:port/db).
require "active_record"

ActiveRecord::Base.establish_connection(ARGV[0])

class User < ActiveRecord::Base
  has_many :orders, dependent: :nullify
end

class Order < ActiveRecord::Base
  belongs_to :user, optional: true
end

def describe(e)
  cause = e.cause
  return "exception #{e.class}" unless cause.is_a?(PG::Error) && cause.result
  r = cause.result
  f = ->(code) { r.error_field(code) }
  "#{e.class} #{f.(PG::PG_DIAG_SQLSTATE)} #{f.(PG::PG_DIAG_MESSAGE_PRIMARY)} | " \
    "#{f.(PG::PG_DIAG_MESSAGE_DETAIL)} | #{f.(PG::PG_DIAG_SCHEMA_NAME)}.#{f.(PG::PG_DIAG_TABLE_NAME)} " \
    "#{f.(PG::PG_DIAG_CONSTRAINT_NAME)}"
end

def step(name)
  out = begin
    yield
  rescue ActiveRecord::ActiveRecordError => e
    describe(e)
  end
  puts "#{name}: #{out}"
  $stdout.flush
end

# Run often enough for each statement to be prepared and executed again.
6.times do |i|
  key = i % 3 == 1 ? 90 + i : 1 + i % 3
  step("create #{i}") { Order.create!(id: 100 + i, user_id: key).id }
end
step("create without a user") { Order.create!(id: 110, note: "none").id }
step("find and update to no user") { Order.find(100).update!(user_id: 77) }
step("update through the association") do
  o = Order.find(100)
  o.update!(user: User.find(2))
  o.reload.user_id
end
step("update_all to no user") { Order.where(id: [102, 103]).update_all(user_id: 78) }
step("insert_all with a violation") do
  Order.insert_all([{ id: 120, user_id: 1 }, { id: 121, user_id: 79 }, { id: 122, user_id: 2 }]).length
end
step("insert_all of valid rows") do
  Order.insert_all([{ id: 130, user_id: 1 }, { id: 131, user_id: 3 }]).length
end
step("upsert_all to no user") { Order.upsert_all([{ id: 130, user_id: 80 }]).length }

# A savepoint around a violation; the rest of the transaction commits.
step("nested transaction") do
  out = []
  Order.transaction do
    Order.create!(id: 140, user_id: 1)
    begin
      Order.transaction(requires_new: true) { Order.create!(id: 141, user_id: 404) }
    rescue ActiveRecord::InvalidForeignKey => e
      out << describe(e)
    end
    Order.create!(id: 142, user_id: 2)
  end
  out << Order.where(id: 140..142).count
  out.join(" ; ")
end
step("violation rolls back the transaction") do
  Order.transaction do
    Order.create!(id: 150, user_id: 1)
    Order.create!(id: 151, user_id: 81)
  end
  "committed"
end
step("after the rollback") { Order.where(id: 150..151).count }

# Writes to the referenced table.
step("delete of a referenced user") { User.where(id: 1).delete_all }
step("destroy of a referenced user") { User.find(1).destroy! && "destroyed" }
step("orders of the destroyed user") { Order.where(user_id: nil).order(:id).pluck(:id).join(",") }
step("key update of a referenced user") { User.where(id: 3).update_all(id: 9) }
step("new user with an order") do
  u = User.create!(id: 5, email: "e")
  u.orders.create!(id: 160)
  u.orders.count
end

step("raw SQL with a violation") { ActiveRecord::Base.connection.execute("INSERT INTO orders VALUES (170, 82, 'raw')").cmd_tuples }
step("orders") { Order.order(:id).pluck(:id, :user_id, :note).map { |r| r.join(",") }.join(" ") }
step("users") { User.order(:id).pluck(:id, :email).map { |r| r.join(",") }.join(" ") }
