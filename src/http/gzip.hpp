#pragma once
// gzip streams on zlib: the compressor of compressed responses. Streams are reused per thread
// (deflateReset), since a zlib deflate state costs about 256 KiB to set up.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace squall::detail {

/// Compresses one gzip member (RFC 1952) piece by piece.
class GzipCompressor {
 public:
  /// Throws squall::Error if zlib cannot make a stream. `level` is zlib's (Tornado uses 6).
  explicit GzipCompressor(int level = 6);
  ~GzipCompressor();
  GzipCompressor(const GzipCompressor&) = delete;
  GzipCompressor& operator=(const GzipCompressor&) = delete;

  /// Appends the compressed form of `data` to `out`. Without `finish`, everything given so far
  /// is flushed (Z_SYNC_FLUSH), so a reader can inflate it at once; with `finish`, the member
  /// ends (its trailer is written) and the compressor takes nothing more.
  void compress(std::string_view data, std::string& out, bool finish);

 private:
  struct Stream;
  // Streams kept for reuse on this thread.
  static std::vector<std::unique_ptr<Stream>>& idle_streams();
  std::unique_ptr<Stream> stream_;
  int level_;
};

}  // namespace squall::detail
