// GzipCompressor: zlib deflate streams in the gzip format, reused per thread.

#include "http/gzip.hpp"

#include <zlib.h>

#include <vector>

#include "squall/util/error.hpp"

namespace squall::detail {

struct GzipCompressor::Stream {
  z_stream z{};
  int level = 0;
  ~Stream() { deflateEnd(&z); }
};

namespace {

// A few idle streams per thread, ready for the next compressed response.
constexpr std::size_t kIdleStreams = 4;

}  // namespace

std::vector<std::unique_ptr<GzipCompressor::Stream>>& GzipCompressor::idle_streams() {
  static thread_local std::vector<std::unique_ptr<Stream>> streams;
  return streams;
}

GzipCompressor::GzipCompressor(int level) : level_(level) {
  auto& idle = idle_streams();
  for (auto it = idle.begin(); it != idle.end(); ++it) {
    if ((*it)->level == level) {
      stream_ = std::move(*it);
      idle.erase(it);
      deflateReset(&stream_->z);
      return;
    }
  }
  stream_ = std::make_unique<Stream>();
  stream_->level = level;
  if (deflateInit2(&stream_->z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    stream_.reset();  // deflateEnd of a stream with no state does nothing
    throw Error("zlib: deflateInit2 failed");
  }
}

GzipCompressor::~GzipCompressor() {
  if (!stream_) return;
  auto& idle = idle_streams();
  if (idle.size() < kIdleStreams) idle.push_back(std::move(stream_));
}

void GzipCompressor::compress(std::string_view data, std::string& out, bool finish) {
  z_stream& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  const int flush = finish ? Z_FINISH : Z_SYNC_FLUSH;
  while (true) {
    std::size_t bound = deflateBound(&z, z.avail_in) + 16;
    std::size_t start = out.size();
    out.resize(start + bound);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
    z.avail_out = static_cast<uInt>(bound);
    int rc = deflate(&z, flush);
    out.resize(out.size() - z.avail_out);
    if (rc == Z_STREAM_END) return;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw Error("zlib: deflate failed");
    if (z.avail_in == 0 && z.avail_out != 0) return;  // all consumed and flushed
  }
}

}  // namespace squall::detail
