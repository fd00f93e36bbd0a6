// service::relay_socket: a TCP socket whose read makes no system call while
// the socket is known to be empty.
//
// The epoll reactor of Boost 1.81's Asio is edge-triggered, so it tries
// every read it is given at once, with a recv, in case bytes came since the
// last read; only when that finds nothing does it wait for the next edge. A
// service that answers requests nearly always finds nothing at first: it
// reads a request, and the client waits for the answer before it sends the
// next one. A pooler relays that request on, and the server answers some
// time later. Those empty recvs were a third of the pooler's system calls,
// and a third of the Redis gateway's recvs; pgbouncer, level-triggered,
// makes none.
//
// The reactor skips the try after a read that reports the socket exhausted,
// until the descriptor's next edge; its own reads report that only at the
// end of the stream. async_read_when_ready's read also reports a short read
// as exhausted: the socket was empty when the read returned, so any byte
// that came after it raised an edge, which makes the reactor try again. Asio
// reasons the same way about a short write.
//
// The read keeps its handler in the socket, in HandlerRoom bytes, so that a
// read allocates nothing: relay_socket's 32 bytes hold a handler that
// captures a pointer or two; a composed operation's (Beast's HTTP read, see
// relay_stream.hpp) needs a basic_relay_socket with more.
#pragma once

// The socket first: Asio's detail headers need what it declares.
#include <boost/asio/ip/tcp.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/version.hpp>

// What the read relies on (start_op's signature, which reads may skip their
// try) is the reactor's own, not Asio's interface: checked for this version.
#if BOOST_ASIO_VERSION != 102600 || !defined(BOOST_ASIO_HAS_EPOLL) || defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "relay_socket drives the epoll reactor of Asio 1.26.0 (Boost 1.81); check it against this Asio before use"
#endif

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace service {

using tcp_socket = boost::asio::ip::tcp::socket;

template <std::size_t HandlerRoom>
class basic_relay_socket : public tcp_socket {
 public:
  explicit basic_relay_socket(const boost::asio::any_io_executor& ex) : tcp_socket(ex), reactor_(reactor_of(ex)) {}
  explicit basic_relay_socket(tcp_socket&& s) : tcp_socket(std::move(s)), reactor_(reactor_of(get_executor())) {}

  /// Reads what has come into `room`, at once when bytes wait, else when
  /// they come, and calls handler(error_code, bytes read) as async_read_some
  /// would. One read at a time; the handler (at most HandlerRoom bytes)
  /// is kept in the socket, so a read allocates nothing, and so the
  /// socket must outlive the read: let the handler own it, as a session's
  /// handlers own their connection. cancel() and close() end a read with
  /// operation_aborted; a cancellation slot bound to the handler does not.
  template <class Handler>
  void async_read_when_ready(std::span<char> room, Handler&& handler) {
    auto& impl = impl_.get_implementation();
    read_.start(std::forward<Handler>(handler), impl.socket_, room);
    reactor_.start_op(boost::asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, &read_, false, true);
  }

 private:
  static boost::asio::detail::reactor& reactor_of(const boost::asio::any_io_executor& ex) {
    return boost::asio::use_service<boost::asio::detail::reactor>(
        boost::asio::query(ex, boost::asio::execution::context));
  }

  class read final : public boost::asio::detail::reactor_op {
   public:
    read() : reactor_op(boost::system::error_code(), &perform, &complete) {}
    read(const read&) = delete;
    read& operator=(const read&) = delete;
    ~read() = default;

    template <class Handler>
    void start(Handler&& handler, int fd, std::span<char> room) {
      using stored = std::decay_t<Handler>;
      static_assert(sizeof(stored) <= HandlerRoom && alignof(stored) <= alignof(std::max_align_t),
                    "relay_socket keeps the handler in the socket: capture less");
      new (handler_) stored(std::forward<Handler>(handler));
      call_ = [](void* memory, bool run, boost::system::error_code ec, std::size_t n) {
        // Moved out first: the handler may start the next read, or free the
        // socket (and this op) when it ends.
        stored h(std::move(*static_cast<stored*>(memory)));
        static_cast<stored*>(memory)->~stored();
        if (run) h(ec, n);
      };
      fd_ = fd;
      room_ = room;
      ec_ = {};
      bytes_transferred_ = 0;
    }

   private:
    static status perform(reactor_op* base) {
      auto& self = *static_cast<read*>(base);
      for (;;) {
        const auto n = ::recv(self.fd_, self.room_.data(), self.room_.size(), MSG_DONTWAIT);
        if (n > 0) {
          self.bytes_transferred_ = static_cast<std::size_t>(n);
          return self.bytes_transferred_ < self.room_.size() ? done_and_exhausted : done;
        }
        if (n == 0) {
          self.ec_ = boost::asio::error::eof;
          return done;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
        self.ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
        return done;
      }
    }

    // owner is null when the io_context is destroyed with the read queued:
    // the handler is let go, not called.
    static void complete(void* owner, boost::asio::detail::operation* base, const boost::system::error_code&,
                         std::size_t) {
      auto& self = *static_cast<read*>(static_cast<reactor_op*>(base));
      self.call_(self.handler_, owner != nullptr, self.ec_, self.bytes_transferred_);
    }

    alignas(std::max_align_t) unsigned char handler_[HandlerRoom];
    void (*call_)(void*, bool, boost::system::error_code, std::size_t) = nullptr;
    int fd_ = -1;
    std::span<char> room_;
  };

  boost::asio::detail::reactor& reactor_;
  read read_;
};

using relay_socket = basic_relay_socket<32>;

}  // namespace service
