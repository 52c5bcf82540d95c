#pragma once
/// \file
/// Networking: IOStream (and TLS), sockets and resolvers, TCPServer, TCPClient, processes.

#include "squall/core.hpp"              // IWYU pragma: export
#include "squall/net/iostream.hpp"      // IWYU pragma: export
#include "squall/net/netutil.hpp"       // IWYU pragma: export
#include "squall/net/process.hpp"       // IWYU pragma: export
#include "squall/net/tcpclient.hpp"     // IWYU pragma: export
#include "squall/net/tcpserver.hpp"     // IWYU pragma: export
