#pragma once
// SHA-256 through OpenSSL's EVP interface, for the file_upload demo: the receiver hashes what it
// gets and the uploader what it sends, so each side can tell the bytes arrived intact.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace file_upload {

/// A running SHA-256: `update` with the bytes in order, then `hexdigest` once.
class Sha256 {
 public:
  /// Throws std::runtime_error if OpenSSL cannot set up the digest.
  Sha256() : context_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("cannot start a SHA-256 digest");
    }
  }

  void update(std::string_view bytes) {
    if (EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) != 1) {
      throw std::runtime_error("SHA-256 update failed");
    }
  }

  /// The digest of everything given to `update`, in lowercase hex. Call it once: the digest is
  /// over afterwards.
  std::string hexdigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest, &size) != 1) {
      throw std::runtime_error("SHA-256 final failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * size);
    for (unsigned int i = 0; i < size; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 0xf]);
    }
    return hex;
  }

  /// The digest of `bytes` alone.
  static std::string of(std::string_view bytes) {
    Sha256 sha;
    sha.update(bytes);
    return sha.hexdigest();
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

}  // namespace file_upload
