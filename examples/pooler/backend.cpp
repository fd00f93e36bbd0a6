#include "backend.hpp"

#include <boost/asio/connect.hpp>
#include <boost/system/system_error.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"
#include "pgwire/stream.hpp"

namespace pooler {

std::string error_message(const char* severity, const char* sqlstate, std::string message) {
  std::string out;
  pgwire::error_response(out, {severity, sqlstate, std::move(message), {}, {}});
  return out;
}

asio::awaitable<void> open_socket(tcp::socket& socket, std::string host, std::uint16_t port) {
  boost::system::error_code not_numeric;
  auto address = asio::ip::make_address(host, not_numeric);
  if (!not_numeric) {
    // No resolver: Asio resolves on a thread of its own, started for each
    // io_context that resolves (the health check makes one per probe).
    co_await socket.async_connect({address, port}, asio::use_awaitable);
  } else {
    tcp::resolver resolver(socket.get_executor());
    auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  }
  socket.set_option(tcp::no_delay(true));
}

asio::awaitable<backend_session> open_backend(tcp::socket& socket, pgwire::decoder& decoder, std::string host,
                                              std::uint16_t port, std::string user, std::string dbname,
                                              secret credentials) {
  co_await open_socket(socket, host, port);
  backend_session session;
  std::string out;
  const std::pair<std::string, std::string> startup[] = {{"user", user}, {"database", dbname}};
  pgwire::startup_message(out, startup);
  co_await write_all(socket, out);
  std::optional<scram_client> scram;
  for (;;) {
    auto m = co_await pgwire::async_read_message(socket, decoder);
    switch (m.type) {
      case 'R': {
        auto request = pgwire::parse_authentication(m.body);
        out.clear();
        switch (request.code) {
          case pgwire::auth_code::ok:
            break;
          case pgwire::auth_code::cleartext:
            if (credentials.type != secret::kind::plaintext)
              throw backend_error("the server asks for a cleartext password, and only a hash is known");
            pgwire::password_message(out, credentials.text);
            break;
          case pgwire::auth_code::md5: {
            if (request.data.size() != 4) throw pgwire::protocol_error("MD5 salt is not 4 bytes");
            std::string hash;
            if (credentials.type == secret::kind::plaintext) hash = md5_password_hash(credentials.text, user);
            else if (credentials.type == secret::kind::md5) hash = credentials.text;
            else throw backend_error("the server asks for MD5, and only a SCRAM verifier is known");
            pgwire::password_message(out, md5_response(hash, request.data));
            break;
          }
          case pgwire::auth_code::sasl: {
            auto mechanisms = pgwire::parse_sasl_mechanisms(request.data);
            if (std::find(mechanisms.begin(), mechanisms.end(), "SCRAM-SHA-256") == mechanisms.end())
              throw backend_error("the server offers no SCRAM-SHA-256");
            if (credentials.type == secret::kind::md5)
              throw backend_error("the server asks for SCRAM, and only an MD5 hash is known");
            scram.emplace(credentials);
            pgwire::sasl_initial_response_message(out, "SCRAM-SHA-256", scram->first());
            break;
          }
          case pgwire::auth_code::sasl_continue:
            if (!scram) throw pgwire::protocol_error("SASL continue without SASL");
            pgwire::sasl_response(out, scram->final(request.data));
            break;
          case pgwire::auth_code::sasl_final:
            if (!scram || !scram->verify(request.data)) throw backend_error("the server's SCRAM signature is wrong");
            break;
          default:
            throw backend_error("unsupported authentication request " + std::to_string(request.code));
        }
        if (!out.empty()) co_await write_all(socket, out);
        break;
      }
      case 'S': {
        auto [name, value] = pgwire::parse_parameter_status(m.body);
        session.parameters.emplace_back(name, value);
        break;
      }
      case 'K':
        std::tie(session.process_id, session.secret_key) = pgwire::parse_backend_key_data(m.body);
        break;
      case 'E':
        throw backend_error(pgwire::parse_error_response(m.body).message);
      case 'Z':
        co_return session;
      default:
        break;  // NoticeResponse and the like
    }
  }
}

std::optional<std::size_t> oversized(const pgwire::decoder& d, std::size_t limit) noexcept {
  auto header = d.unread();
  if (header.size() < 5) return std::nullopt;
  std::size_t length = 0;
  for (int i = 1; i < 5; ++i) length = length << 8 | static_cast<unsigned char>(header[static_cast<std::size_t>(i)]);
  if (length <= limit) return std::nullopt;
  return length;
}

void close_quietly(tcp::socket& s) noexcept {
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}

std::string describe(const std::exception& e) {
  if (auto* system = dynamic_cast<const boost::system::system_error*>(&e)) return system->code().message();
  return e.what();
}

}  // namespace pooler
