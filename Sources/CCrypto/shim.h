#ifndef DRCTL_CCRYPTO_SHIM_H
#define DRCTL_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, imported by DRLibcrypto only, for two things: the AES-128 block
 * function that ipcrypt-pfx and Crypto-PAn are built on (libsodium 1.0.18 has no raw AES), and
 * the SHA-256 and MD5 of S3 uploads (with the CPU's SHA extensions: ~5x libsodium's SHA-256).
 * Through EVP, because AES_encrypt and SHA256_Init are deprecated in OpenSSL 3. */
#include <openssl/evp.h>
#include <openssl/err.h>
#endif
