#include "common/sqlite_db.h"

#include <thread>
#include <utility>

namespace tandem {

namespace {

// The system's errno only means something for the I/O and open failures; for a constraint or
// a busy lock it is whatever the last unrelated syscall left.
int systemErrnoOf(sqlite3* db) {
  int primary = sqlite3_extended_errcode(db) & 0xff;
  if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL) {
    return sqlite3_system_errno(db);
  }
  return 0;
}

Error failureOf(sqlite3* db, std::string_view what, std::string_view path) {
  std::string message = std::string(what) + ": " + sqlite3_errmsg(db);
  int primary = sqlite3_extended_errcode(db) & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    message += " (another tandem process held the database for too long; try again)";
  }
  message += " (database " + std::string(path) + ")";
  return Error(std::move(message), systemErrnoOf(db));
}

}  // namespace

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)),
      bindError_(std::move(other.bindError_)) {}

SqliteStatement::~SqliteStatement() {
  sqlite3_finalize(statement_);
}

Error SqliteStatement::failure(std::string_view what) const {
  sqlite3* db = sqlite3_db_handle(statement_);
  const char* file = sqlite3_db_filename(db, "main");
  return failureOf(db, std::string(what) + " \"" + sqlite3_sql(statement_) + "\"",
                   file != nullptr ? file : "?");
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies the text, so the caller's string may go before step().
  int rc = sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK && !bindError_) {
    bindError_ = failure("cannot bind parameter " + std::to_string(index) + " of");
  }
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK && !bindError_) {
    bindError_ = failure("cannot bind parameter " + std::to_string(index) + " of");
  }
  return *this;
}

SqliteStatement& SqliteStatement::bindNullable(int index, const std::optional<std::string>& text) {
  if (text) {
    return bind(index, std::string_view(*text));
  }
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK && !bindError_) {
    bindError_ = failure("cannot bind parameter " + std::to_string(index) + " of");
  }
  return *this;
}

Result<bool> SqliteStatement::step() {
  if (bindError_) {
    return *bindError_;
  }
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return failure("cannot run");
}

Status SqliteStatement::run() {
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, step());
    if (!row) {
      return okStatus();
    }
  }
}

void SqliteStatement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
  bindError_.reset();
}

std::string SqliteStatement::text(int column) const {
  const auto* bytes = sqlite3_column_text(statement_, column);
  if (bytes == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(bytes),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

std::int64_t SqliteStatement::integer(int column) const {
  return sqlite3_column_int64(statement_, column);
}

bool SqliteStatement::isNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

Result<SqliteDb> SqliteDb::open(const std::string& path, std::chrono::milliseconds busyTimeout) {
  sqlite3* raw = nullptr;
  // SQLite opens its files with O_CLOEXEC, so the database never leaks into a container.
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (raw == nullptr) {
    return Error("cannot open the database " + path + ": SQLite is out of memory", ENOMEM);
  }
  SqliteDb db(raw, path);
  if (rc != SQLITE_OK) {
    return db.failure("cannot open the database");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(busyTimeout.count()));

  // journal_mode answers with the mode it ended up in rather than failing. Switching a new
  // database to WAL needs it to itself, and SQLite answers SQLITE_BUSY at once, without its busy
  // handler, to a second process doing the same: retried here within the busy timeout.
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement journal, db.prepare("PRAGMA journal_mode=WAL"));
  auto deadline = std::chrono::steady_clock::now() + busyTimeout;
  Result<bool> row = journal.step();
  while (!row && (sqlite3_extended_errcode(raw) & 0xff) == SQLITE_BUSY &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    journal.reset();
    row = journal.step();
  }
  if (!row) return std::move(row).error();
  std::string mode = *row ? journal.text(0) : std::string();
  if (mode != "wal") {
    return Error("the database " + path + " cannot use write-ahead logging (journal mode is \"" +
                 mode + "\"); keep tandem's root on a local filesystem");
  }
  // Both are per connection and ignored inside a transaction, so they are set here, first.
  TANDEM_TRY(db.exec("PRAGMA foreign_keys=ON"));
  // A registration reported as done must survive a power cut; WAL's default NORMAL may lose
  // the last commits.
  TANDEM_TRY(db.exec("PRAGMA synchronous=FULL"));
  return db;
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

SqliteDb::~SqliteDb() {
  // close_v2 waits for statements still alive instead of failing with SQLITE_BUSY.
  sqlite3_close_v2(db_);
}

Status SqliteDb::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return failure(std::string("cannot run \"") + sql + "\"");
  }
  return okStatus();
}

Result<SqliteStatement> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(statement);
    return failure("cannot prepare \"" + std::string(sql) + "\"");
  }
  return SqliteStatement(statement);
}

std::int64_t SqliteDb::changes() const {
  return sqlite3_changes(db_);
}

Error SqliteDb::failure(std::string_view what) const {
  return failureOf(db_, what, path_);
}

Result<SqliteTransaction> SqliteTransaction::write(SqliteDb& db) {
  TANDEM_TRY(db.exec("BEGIN IMMEDIATE"));
  return SqliteTransaction(&db);
}

Result<SqliteTransaction> SqliteTransaction::read(SqliteDb& db) {
  TANDEM_TRY(db.exec("BEGIN"));
  return SqliteTransaction(&db);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

SqliteTransaction::~SqliteTransaction() {
  if (db_ != nullptr) {
    // A failed rollback leaves nothing to do: SQLite rolls back on close as well.
    (void)db_->exec("ROLLBACK");
  }
}

Status SqliteTransaction::commit() {
  SqliteDb* db = std::exchange(db_, nullptr);
  if (db == nullptr) {
    return Error("cannot commit a transaction that has already ended");
  }
  Status status = db->exec("COMMIT");
  if (!status) {
    // COMMIT can fail and leave the transaction open (SQLITE_BUSY); end it here rather than
    // leaving the connection inside it.
    (void)db->exec("ROLLBACK");
  }
  return status;
}

}  // namespace tandem
