// gateway::upstream_errors: where a failed database or object store call is
// reported. It is counted (db_errors_total, s3_errors_total) and logged with
// its detail, the upstream's address included, at most a line a second per
// upstream (throttled_log); the client is only told which service is
// unavailable.
//
// Thread safety: none; used on the gateway's I/O thread.
#pragma once

#include "metrics.hpp"
#include "pg_pool.hpp"
#include "s3_client.hpp"
#include "throttled_log.hpp"

namespace gateway {

/// See the header comment.
class upstream_errors {
 public:
  void report(const db_error& e) {
    metrics.db_errors.increment();
    database_(e.what());
  }
  void report(const s3_error& e) {
    metrics.s3_errors.increment();
    object_store_(e.what());
  }

 private:
  throttled_log database_{"database"}, object_store_{"object store"};
};

}  // namespace gateway
