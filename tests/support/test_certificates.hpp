#pragma once
// Test certificates made at run time, as PEM files: a CA; a server certificate for 127.0.0.1, ::1
// and localhost and a client certificate, both signed by it; a self-signed certificate for the
// same names that the CA knows nothing of; and one signed by the CA for another name only. Every
// TLS test takes its certificates from here rather than making its own.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "squall/util/error.hpp"

namespace squall::test_support {

struct KeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

/// A new P-256 key. Throws Error when OpenSSL cannot make one.
inline Key new_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) throw Error("EVP_EC_gen failed");
  return key;
}

/// Adds the extension `nid` written as in openssl.cnf (`value`) to `cert`, whose issuer is
/// `issuer`. Throws Error for a value OpenSSL does not understand.
inline void extend(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (!extension) throw Error(std::string("bad X.509 extension ") + value);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

/// A certificate of `key` named `name` (its CN), valid from an hour ago for a day, signed by
/// `issuer` with `issuer_key` (self-signed when they are null). Null `alt_names` makes a CA;
/// otherwise a leaf for those subject alternative names ("DNS:x,IP:y"), for servers and
/// clients. Throws Error when OpenSSL fails.
inline Cert certificate(EVP_PKEY* key, const char* name, X509* issuer, EVP_PKEY* issuer_key,
                        const char* alt_names, long serial) {
  Cert cert(X509_new());
  if (!cert) throw Error("X509_new failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  extend(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (!alt_names) {
    extend(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    extend(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    extend(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    extend(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    extend(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    extend(cert.get(), signer, NID_subject_alt_name, alt_names);
  }
  // Strict verifiers (Python 3.13's default) want the issuer's key named in a signed certificate.
  if (issuer) extend(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
    throw Error("X509_sign failed");
  }
  return cert;
}

/// Writes `cert` or, when it is null, `key` to the file `path` in PEM. Throws OSError when the
/// file cannot be opened, Error when the writing fails.
inline void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (!file) throw OSError(errno, "fopen " + path);
  bool ok = cert ? PEM_write_X509(file, cert) == 1
                 : PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (std::fclose(file) != 0) ok = false;
  if (!ok) throw Error("cannot write " + path);
}

/// The test certificates, as PEM files named as below in one folder: made fresh by each
/// instance. Throws Error or OSError when they cannot be made or written.
struct Certificates {
  std::filesystem::path dir;
  /// The CA (ca.pem), which signed the server, client and wrong-name certificates.
  std::string ca;
  /// For 127.0.0.1, ::1 and localhost (server.pem, server.key).
  std::string server_cert, server_key;
  /// CN "squall client" (client.pem, client.key).
  std::string client_cert, client_key;
  /// Self-signed for 127.0.0.1, ::1 and localhost (untrusted.pem, untrusted.key): a client
  /// trusting `ca` rejects it as "self-signed certificate".
  std::string untrusted_cert, untrusted_key;
  /// Signed by the CA for wrong.example only (wrong-name.pem, wrong-name.key): a client that
  /// checks the host name rejects it for any name used in tests.
  std::string wrong_name_cert, wrong_name_key;

  /// In a new temporary folder, removed by the destructor.
  Certificates() {
    char folder[] = "/tmp/squall-tls-XXXXXX";
    if (!::mkdtemp(folder)) throw OSError(errno, "mkdtemp");
    dir = folder;
    owns_dir_ = true;
    try {
      write_all();
    } catch (...) {
      remove_dir();
      throw;
    }
  }
  /// In the existing folder `folder`, which is left in place (with the files) when this goes.
  explicit Certificates(std::filesystem::path folder) : dir(std::move(folder)) { write_all(); }

  ~Certificates() {
    if (owns_dir_) remove_dir();
  }
  Certificates(const Certificates&) = delete;
  Certificates& operator=(const Certificates&) = delete;

 private:
  void write_all() {
    Key ca_key = new_key();
    Cert ca_cert = certificate(ca_key.get(), "squall test CA", nullptr, nullptr, nullptr, 1);
    ca = (dir / "ca.pem").string();
    write_pem(ca, ca_cert.get(), nullptr);
    const char* const local_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
    auto leaf = [&](const char* file, const char* name, const char* alt_names, bool by_ca,
                    long serial, std::string& cert_path, std::string& key_path) {
      Key key = new_key();
      Cert cert = certificate(key.get(), name, by_ca ? ca_cert.get() : nullptr,
                              by_ca ? ca_key.get() : nullptr, alt_names, serial);
      cert_path = (dir / (std::string(file) + ".pem")).string();
      key_path = (dir / (std::string(file) + ".key")).string();
      write_pem(cert_path, cert.get(), nullptr);
      write_pem(key_path, nullptr, key.get());
    };
    leaf("server", "localhost", local_names, true, 2, server_cert, server_key);
    leaf("client", "squall client", "DNS:client.test", true, 3, client_cert, client_key);
    leaf("untrusted", "localhost", local_names, false, 4, untrusted_cert, untrusted_key);
    leaf("wrong-name", "wrong.example", "DNS:wrong.example", true, 5, wrong_name_cert,
         wrong_name_key);
  }
  void remove_dir() noexcept {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  bool owns_dir_ = false;
};

/// One set of certificates for the whole test program: made on first use, removed at its exit.
/// Throws as the constructor does (and again on the next call).
inline const Certificates& shared_certificates() {
  static const Certificates certificates;
  return certificates;
}

}  // namespace squall::test_support
