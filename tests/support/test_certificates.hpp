#pragma once
// Test certificates made at run time: a CA, a server certificate for 127.0.0.1, ::1 and localhost,
// and a client certificate, as PEM files in a temporary folder (removed by the destructor).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace squall::test_support {

struct KeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

void extend(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (!extension) throw std::runtime_error(std::string("bad extension ") + value);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

/// A certificate of `key` named `name`, signed by `issuer` with `issuer_key` (self-signed when
/// they are null); a CA's, or a leaf's for `alt_names`.
Cert certificate(EVP_PKEY* key, const char* name, X509* issuer, EVP_PKEY* issuer_key,
                 const char* alt_names, long serial) {
  Cert cert(X509_new());
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
    extend(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    extend(cert.get(), signer, NID_subject_alt_name, alt_names);
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
    throw std::runtime_error("X509_sign");
  }
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (!file) throw std::runtime_error("cannot write " + path);
  if (cert) PEM_write_X509(file, cert);
  if (key) PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(file);
}

/// A CA; a server certificate for 127.0.0.1, ::1 and localhost signed by it; a client
/// certificate signed by it; as PEM files in a temporary folder.
struct Certificates {
  std::filesystem::path dir;
  std::string ca, server_cert, server_key, client_cert, client_key;

  Certificates() {
    char folder[] = "/tmp/squall-tls-XXXXXX";
    if (!::mkdtemp(folder)) throw std::runtime_error("mkdtemp");
    dir = folder;
    Key ca_key(EVP_EC_gen("P-256")), server_pair(EVP_EC_gen("P-256")),
        client_pair(EVP_EC_gen("P-256"));
    Cert ca_cert = certificate(ca_key.get(), "squall client test CA", nullptr, nullptr, nullptr, 1);
    Cert server = certificate(server_pair.get(), "localhost", ca_cert.get(), ca_key.get(),
                              "DNS:localhost,IP:127.0.0.1,IP:::1", 2);
    Cert client = certificate(client_pair.get(), "a client", ca_cert.get(), ca_key.get(),
                              "DNS:client.test", 3);
    ca = (dir / "ca.pem").string();
    server_cert = (dir / "server.pem").string();
    server_key = (dir / "server.key").string();
    client_cert = (dir / "client.pem").string();
    client_key = (dir / "client.key").string();
    write_pem(ca, ca_cert.get(), nullptr);
    write_pem(server_cert, server.get(), nullptr);
    write_pem(server_key, nullptr, server_pair.get());
    write_pem(client_cert, client.get(), nullptr);
    write_pem(client_key, nullptr, client_pair.get());
  }
  ~Certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

}  // namespace squall::test_support
