#ifndef DRCTL_CCRYPTO_SHIM_H
#define DRCTL_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, for one thing only: the AES-128 block function that ipcrypt-pfx and
 * Crypto-PAn are built on (libsodium 1.0.18 has no raw AES). Through EVP, because AES_encrypt
 * is deprecated in OpenSSL 3. */
#include <openssl/evp.h>
#endif
