// The liveness rule for a service's pooled upstream connections.
#pragma once

namespace service {

/// Whether a pooled upstream connection that sat idle may be handed out.
/// Neither PostgreSQL nor Redis says anything unasked to an idle connection
/// it keeps: a readable socket means the server is gone (EOF after a
/// restart, idle_session_timeout or a terminated backend, or the FATAL error
/// sent just before). Such a connection is closed and replaced, never given
/// to a client. One poll(2) with a zero timeout; false for an invalid fd.
bool idle_socket_alive(int fd) noexcept;

}  // namespace service
