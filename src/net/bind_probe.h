// Why a listen address cannot be bound, for the error a node prints when gRPC (which does not
// say) fails to listen.
#pragma once

#include <string>

namespace persisting::net {

// Binds a plain TCP socket to address ("host:port", "[v6]:port") and closes it. "" when that
// works (or the address is not host:port); otherwise the reason, "address in use" for EADDRINUSE.
std::string bind_error(const std::string& address);

}  // namespace persisting::net
