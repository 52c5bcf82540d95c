#pragma once
/// \file
/// HTTP: headers and requests, body parsing, the HTTP/1.1 connection, HTTPServer and the client.

#include "squall/http/body_arguments.hpp"   // IWYU pragma: export
#include "squall/http/http1connection.hpp"  // IWYU pragma: export
#include "squall/http/httpclient.hpp"       // IWYU pragma: export
#include "squall/http/httpserver.hpp"       // IWYU pragma: export
#include "squall/http/httputil.hpp"         // IWYU pragma: export
#include "squall/http/message.hpp"          // IWYU pragma: export
#include "squall/net.hpp"                   // IWYU pragma: export
