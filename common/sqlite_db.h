// Owners for a SQLite connection, its prepared statements and its transactions, so that every
// handle is released on every path and every failure reads as a tandem Error naming the database.
// User data only ever reaches SQL through bound parameters: there is no call here that would
// splice it into statement text.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem {

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are numbered from 1, as ?1, ?2 in the SQL. A bind that fails (a wrong index) is
  // reported by the next step() or run(), so a chain of binds needs no check after each one.
  SqliteStatement& bind(int index, std::string_view text);
  SqliteStatement& bind(int index, std::int64_t value);
  // NULL when empty. A name of its own: as a bind() overload, a std::string argument would
  // convert to either parameter type and be ambiguous.
  SqliteStatement& bindNullable(int index, const std::optional<std::string>& text);

  // True while a row is ready to be read with the column accessors.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Status run();
  // Clears the bindings and rewinds, to run the statement again with new parameters.
  void reset();

  // Columns are numbered from 0. NULL reads as "" and 0; isNull tells them apart.
  std::string text(int column) const;
  std::int64_t integer(int column) const;
  bool isNull(int column) const;

 private:
  friend class SqliteDb;
  explicit SqliteStatement(sqlite3_stmt* statement) : statement_(statement) {}
  Error failure(std::string_view what) const;

  sqlite3_stmt* statement_;
  std::optional<Error> bindError_;
};

class SqliteDb {
 public:
  // Opens or creates the database at `path` with write-ahead logging (readers never wait for a
  // writer), foreign keys enforced and full fsync at commit; a writer waits up to `busyTimeout`
  // for another process's write transaction before failing with SQLITE_BUSY.
  static Result<SqliteDb> open(const std::string& path, std::chrono::milliseconds busyTimeout);

  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&&) = delete;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs constant SQL (schema, pragmas); never text built from user input.
  Status exec(const char* sql);
  Result<SqliteStatement> prepare(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  const std::string& path() const { return path_; }

  // "<what>: <sqlite3_errmsg> (database <path>)", with the system errno for I/O failures.
  Error failure(std::string_view what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
};

// A transaction that rolls back unless committed, so an early error return leaves nothing
// half-written.
class SqliteTransaction {
 public:
  // BEGIN IMMEDIATE: takes the write lock at the start, waiting out the busy timeout. A deferred
  // transaction that reads and then writes can fail with SQLITE_BUSY at its first write without
  // the busy handler ever being called, when another connection wrote in between.
  static Result<SqliteTransaction> write(SqliteDb& db);
  // BEGIN: a consistent snapshot for several reads.
  static Result<SqliteTransaction> read(SqliteDb& db);

  SqliteTransaction(SqliteTransaction&& other) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  ~SqliteTransaction();

  Status commit();

 private:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}
  SqliteDb* db_;  // null once committed, rolled back or moved from
};

}  // namespace tandem
