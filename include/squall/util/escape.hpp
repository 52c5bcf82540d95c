#pragma once
/// \file
/// Escaping and unescaping for HTML, URLs and JSON, and a few text helpers (Tornado's
/// `tornado.escape`). These are the functions templates reach for by default (`escape`,
/// `url_escape`, `json_encode`, `squeeze`, `linkify`).
///
/// Strings are UTF-8 bytes. Every function runs in time linear in its input.

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace squall::escape {

/// Escapes `value` for HTML or XML text and quoted attribute values, as Tornado: `&` `<` `>` `"`
/// `'` become `&amp;` `&lt;` `&gt;` `&quot;` `&#39;`; every other byte is kept.
std::string xhtml_escape(std::string_view value);

/// Appends `xhtml_escape(value)` to `out` without a temporary string.
void xhtml_escape_to(std::string& out, std::string_view value);

/// Replaces the character references of `value` with the characters, as Tornado: the named entities
/// of HTML 4 (`&amp;`, `&eacute;`, ... the names of Python's `html.entities.name2codepoint`, so not
/// `&apos;`), decimal `&#233;` and hex `&#xE9;`/`&#XE9;` ones, written as UTF-8. A reference that
/// is unknown, malformed, without its ';', or out of Unicode's range (or a surrogate) is kept as it
/// is.
std::string xhtml_unescape(std::string_view value);

/// Percent-encodes `value` for a URL, as Tornado's `url_escape`: every byte but ASCII letters,
/// digits and `_.-~` becomes `%XX` (upper-case hex). With `plus` (for query strings) a space
/// becomes `+` and
/// `/` is escaped (Python's `quote_plus`); without it (for paths) a space is `%20` and `/` is kept
/// (Python's `quote`).
std::string url_escape(std::string_view value, bool plus = true);

/// Decodes `%XX` escapes to bytes, as Tornado's `url_unescape`: with `plus`, `+` is a space first;
/// a `%` not followed by two hex digits is kept. The result is bytes (not checked as UTF-8).
std::string url_unescape(std::string_view value, bool plus = true);

/// Encodes `value` as compact JSON, with `</` written `<\/` so the result is safe inside an HTML
/// `<script>` element (Tornado's `json_encode`). Non-ASCII characters are written as `\uXXXX`
/// escapes, as Python's `json.dumps`; bytes that are not valid UTF-8 become U+FFFD.
std::string json_encode(const nlohmann::json& value);

/// Parses `value` as JSON (Tornado's `json_decode`). Throws `squall::ValueError` naming the byte
/// position of the first error, or if arrays and objects nest deeper than 1000 levels (as Python's
/// parser, which stops at its recursion limit).
nlohmann::json json_decode(std::string_view value);

/// Replaces each run of whitespace and control bytes (0x00 to 0x20) with one space and trims the
/// ends (Tornado's `squeeze`).
std::string squeeze(std::string_view value);

/// Turns plain text into HTML with links, as Tornado's `linkify`: `text` is xhtml-escaped, then
/// each URL (`proto://...`, and `www.host...` unless `require_protocol`) becomes `<a
/// href="...">...</a>`, with `http://` prepended to the href of a `www.` one. A URL whose protocol
/// is not in `permitted_protocols` stays plain text. `extra_params` goes inside each `<a>` tag (for
/// example `rel="nofollow"`). With `shorten`, a URL longer than about 30 characters is displayed
/// shortened with `...` and gets its full address in a `title` attribute. Non-ASCII characters
/// count as word characters when finding URLs.
std::string linkify(std::string_view text, bool shorten = false, std::string_view extra_params = "",
                    bool require_protocol = false,
                    const std::vector<std::string>& permitted_protocols = {"http", "https"});

/// `linkify` whose extra tag text comes from `extra_params(href)` for each link (Tornado's callable
/// `extra_params`), e.g. `rel="nofollow"` for external hosts only.
std::string linkify(std::string_view text, bool shorten,
                    const std::function<std::string(std::string_view href)>& extra_params,
                    bool require_protocol = false,
                    const std::vector<std::string>& permitted_protocols = {"http", "https"});

}  // namespace squall::escape
