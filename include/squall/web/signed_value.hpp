#pragma once
/// \file
/// Signed, timestamped values, as Tornado's `create_signed_value` and `decode_signed_value`: the
/// bytes of a signed cookie, readable by Tornado and squall alike. A signed value is not
/// encrypted: anyone can read it, only a holder of the secret can make one that verifies.
///
/// Version 2 (the default) is `2|<n>:<key version>|<n>:<timestamp>|<n>:<name>|<n>:<base64 value>|`
/// followed by the hex HMAC-SHA256 of everything before it (each field prefixed by its length in
/// bytes). Version 1 is `<base64 value>|<timestamp>|<hex HMAC-SHA1 of name, value and timestamp>`.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace squall::web {

/// The version `create_signed_value` writes when none is asked (Tornado's
/// `DEFAULT_SIGNED_VALUE_VERSION`).
inline constexpr int kDefaultSignedValueVersion = 2;

/// The oldest version `decode_signed_value` accepts by default (Tornado's
/// `DEFAULT_SIGNED_VALUE_MIN_VERSION`).
inline constexpr int kDefaultSignedValueMinVersion = 1;

/// The oldest version this code can decode (Tornado's `MIN_SUPPORTED_SIGNED_VALUE_VERSION`).
inline constexpr int kMinSupportedSignedValueVersion = 1;

/// The newest version this code can decode (Tornado's `MAX_SUPPORTED_SIGNED_VALUE_VERSION`).
inline constexpr int kMaxSupportedSignedValueVersion = 2;

/// The HMAC key(s) of signed values: Tornado's `cookie_secret` setting, either one secret or a
/// map of versioned keys with the version new values are signed with (Tornado's `cookie_secret`
/// dict with the `key_version` setting). Keys are bytes. Versioned keys let an application
/// rotate its secret: values signed with an older key still verify while that key stays in the
/// map. An empty secret can be stored (a setting not given) but not used.
class CookieSecret {
 public:
  /// No secret: signing or verifying with it throws `ValueError`.
  CookieSecret() = default;

  /// One secret for every value (implicit, so that a settings field takes a string). Values
  /// signed with it carry key version 0, which decoding ignores, as Tornado does.
  CookieSecret(std::string secret) : secret_(std::move(secret)) {}

  /// One secret for every value, from a C string (implicit, as the `std::string` form).
  CookieSecret(const char* secret) : secret_(secret) {}

  /// Versioned keys; new values are signed with `keys.at(key_version)` and carry that version,
  /// values are verified with the key of the version they carry. Throws `ValueError` if
  /// `key_version` is not in `keys`.
  CookieSecret(std::map<int, std::string> keys, int key_version);

  /// True if there is no key at all (default-constructed or an empty single secret).
  bool empty() const noexcept { return keys_.empty() && secret_.empty(); }

  /// True if this holds versioned keys.
  bool versioned() const noexcept { return !keys_.empty(); }

  /// The key version new values carry: the one given with versioned keys, 0 for one secret.
  int key_version() const noexcept { return key_version_; }

  /// The key new values are signed with. Throws `ValueError` naming the `cookie_secret` setting
  /// if the secret is empty.
  const std::string& signing_key() const;

  /// The key that verifies a value carrying `key_version`: the single secret whatever the
  /// version, or the versioned key, nullopt if there is none of that version. Throws `ValueError`
  /// if the secret is empty.
  std::optional<std::string_view> verifying_key(int key_version) const;

 private:
  std::string secret_;
  std::map<int, std::string> keys_;
  int key_version_ = 0;
};

/// Signs and timestamps `value` (any bytes) under `name`, as Tornado's `create_signed_value`:
/// the result, of printable ASCII, is what `decode_signed_value` with the same secret and name
/// gives back `value` from. `clock` is "now" (the current time if not given), truncated to whole
/// seconds. `version` is 2 (HMAC-SHA256, carries the key version) or 1 (HMAC-SHA1, one secret
/// only). Throws `ValueError` for an empty secret, another version, or version 1 with versioned
/// keys.
std::string create_signed_value(
    const CookieSecret& secret, std::string_view name, std::string_view value,
    int version = kDefaultSignedValueVersion,
    std::optional<std::chrono::system_clock::time_point> clock = std::nullopt);

/// The value signed in `value` under `name`, as Tornado's `decode_signed_value`; nullopt if it
/// is malformed, signed with another key or under another name, older than `max_age_days`
/// (nullopt: no limit), of a version older than `min_version` or newer than this code knows, or
/// (version 1 only) stamped more than 31 days after `clock`. Version 1 values need a single
/// secret. Signatures compare in constant time. Never throws on any `value`; throws `ValueError`
/// for an empty secret or a `min_version` above `kMaxSupportedSignedValueVersion`.
std::optional<std::string> decode_signed_value(
    const CookieSecret& secret, std::string_view name, std::string_view value,
    std::optional<double> max_age_days = 31.0, int min_version = kDefaultSignedValueMinVersion,
    std::optional<std::chrono::system_clock::time_point> clock = std::nullopt);

/// The key version a signed value carries (Tornado's `get_signature_key_version`), without
/// verifying it; nullopt for a version 1 value or one whose fields do not parse. Never throws.
std::optional<int> get_signature_key_version(std::string_view value);

}  // namespace squall::web
