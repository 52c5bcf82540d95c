#pragma once
// URL helpers of the webspider demo, as Python's urllib.parse gives them to Tornado's: resolving a
// link against the page it is on (RFC 3986, section 5.2) and dropping a fragment.

#include <string>
#include <string_view>

namespace webspider {

/// `reference` resolved against the absolute URL `base` (RFC 3986's algorithm, section 5.2.2,
/// with its dot-segment removal): `../a.html` on `http://h/b/c/d.html` is `http://h/b/a.html`.
/// The scheme comes out in lowercase; a reference with a scheme of its own is kept as it is
/// (its dot segments removed). No percent-decoding and no other normalization.
std::string urljoin(std::string_view base, std::string_view reference);

/// `url` without its fragment (`#...`), as Python's `urldefrag`.
std::string remove_fragment(std::string_view url);

/// `url` with every byte that may not appear in a URL percent-encoded (spaces, control
/// characters, non-ASCII bytes, `"<>\^`{|}`), as browsers do with a link's text: everything but
/// RFC 3986's unreserved and reserved characters and '%'. A URL that was valid is unchanged.
std::string quote_unsafe(std::string_view url);

}  // namespace webspider
