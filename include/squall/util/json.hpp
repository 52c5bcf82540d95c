#pragma once
/// \file
/// `squall::json`: the JSON value type of squall's API (nlohmann::json), under squall's name.
/// Include this header to build or read JSON values; headers that only mention the type include
/// `<nlohmann/json_fwd.hpp>` instead.

#include <nlohmann/json.hpp>  // IWYU pragma: export

namespace squall {

/// The JSON value squall's API takes and returns: template values, `json_encode`/`json_decode`,
/// JSON bodies. It is nlohmann::json, so its whole API applies (`squall::json::parse`, `dump`,
/// `json::object()`...).
using json = nlohmann::json;

}  // namespace squall
