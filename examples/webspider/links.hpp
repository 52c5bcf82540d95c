#pragma once
// The links of an HTML page, for the webspider demo: what Tornado's demo gets from Python's
// HTMLParser.

#include <string>
#include <string_view>
#include <vector>

namespace webspider {

/// The `href` values of the page's `<a>` tags, in order, with character references decoded and
/// surrounding white space removed (empty ones kept: they name the page itself). Tag and
/// attribute names are matched in any case; values may be double-quoted, single-quoted or bare.
/// Comments, `<!...>` and `<?...>` declarations, end tags and the contents of `<script>` and
/// `<style>` are skipped; a tag left unclosed at the end of the page is ignored. One pass over
/// the page: the time is linear in its size whatever it holds.
std::vector<std::string> get_links(std::string_view html);

}  // namespace webspider
