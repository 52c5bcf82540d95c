// Quoted by docs/httpclient.md: HTTPS fetches, verified against a CA of our own. It makes a CA
// and a certificate for 127.0.0.1 signed by it (with OpenSSL), serves HTTPS with HTTPServer on a
// free loopback port, fetches with and without the CA, checks the outcomes and exits 0.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/net/iostream.hpp>

using namespace std::chrono_literals;

namespace {

// ---- a CA and a server certificate, in PEM files (not quoted: any CA's files do) -------------

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) throw std::runtime_error("bad extension");
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

X509* certificate(EVP_PKEY* key, const char* name, X509* issuer, EVP_PKEY* issuer_key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), issuer == nullptr ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  if (issuer == nullptr) {
    add_extension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, signer, NID_key_usage, "critical,keyCertSign");
  } else {
    add_extension(cert, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) throw std::runtime_error("cannot write " + path.string());
  if (cert != nullptr) PEM_write_X509(file, cert);
  if (key != nullptr) PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(file);
}

/// Writes ca.pem and server.pem (certificate and key) into `dir`.
void make_certificates(const std::filesystem::path& dir) {
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* server_key = EVP_EC_gen("P-256");
  X509* ca = certificate(ca_key, "docs example CA", nullptr, nullptr);
  X509* server = certificate(server_key, "127.0.0.1", ca, ca_key);
  write_pem(dir / "ca.pem", ca, nullptr);
  write_pem(dir / "server.pem", server, server_key);
  X509_free(server);
  X509_free(ca);
  EVP_PKEY_free(server_key);
  EVP_PKEY_free(ca_key);
}

void hello(std::shared_ptr<squall::HTTPServerRequest> request) {
  squall::HTTPHeaders headers;
  headers.add("Content-Length", "15");
  request->connection->write_headers(squall::ResponseStartLine{}, headers, "Hello over TLS\n");
  request->connection->finish();
}

// [https]
// HTTPS to a server whose certificate comes from a private CA: verified with that CA's file.
// Without ca_certs the system's CAs are used, and they do not know this one.
squall::Future<bool> fetch_https(std::string url, std::string ca_file) {
  squall::AsyncHTTPClient client;
  squall::HTTPRequest request(url);
  request.ca_certs = ca_file;
  squall::HTTPResponse response = co_await client.fetch(request);
  std::cout << "verified: " << response.body;

  squall::HTTPResponse rejected = co_await client.fetch(url, false);  // the system's CAs
  try {
    rejected.rethrow();
  } catch (const squall::SSLError& e) {
    std::cout << "rejected (" << rejected.code << "): " << e.what() << "\n";
    co_return response.body == "Hello over TLS\n" && rejected.code == 599;
  }
  co_return false;
}
// [https]

}  // namespace

int main() {
  char pattern[] = "/tmp/squall-docs-https-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const std::filesystem::path dir = pattern;
  int status = 1;
  try {
    make_certificates(dir);
    squall::IOLoop loop;
    squall::HTTPServerOptions options;
    options.ssl_options.emplace();
    options.ssl_options->certfile = (dir / "server.pem").string();
    squall::HTTPServer server(hello, options);
    server.listen(0, "127.0.0.1");
    const std::string url =
        "https://127.0.0.1:" + std::to_string(server.addresses().front().port()) + "/";
    const std::string ca = (dir / "ca.pem").string();
    auto run = [&url, &ca] { return fetch_https(url, ca); };
    status = loop.run_sync(run, 20s) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "client_https: " << e.what() << "\n";
  }
  std::filesystem::remove_all(dir);
  return status;
}
