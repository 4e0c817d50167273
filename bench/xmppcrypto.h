/*
 * SHA-1, SHA-256 (FIPS 180-4), HMAC (RFC 2104), PBKDF2 (RFC 8018) and
 * base64 (RFC 4648): what a SCRAM client and server (RFC 5802, RFC 7677)
 * need, written against libc only so that the benchmark builds with gcc
 * alone.  Speed is not a concern: SCRAM's PBKDF2 result is cached by the
 * callers, so each login costs a handful of HMACs.
 */
#ifndef XMPPCRYPTO_H
#define XMPPCRYPTO_H

#include <stdint.h>
#include <string.h>

#define HASH_MAX 32

typedef struct {
    int kind;               /* 1 for SHA-1, 256 for SHA-256 */
    uint32_t h[8];
    uint64_t length;        /* bytes hashed so far */
    uint8_t block[64];
    size_t used;
} Hash;

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha1Block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
    for (int i = 16; i < 80; i++) w[i] = rol(w[i-3] ^ w[i-8] ^ w[i-14] ^ w[i-16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static void sha256Block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i-15], 7) ^ ror(w[i-15], 18) ^ (w[i-15] >> 3);
        uint32_t s1 = ror(w[i-2], 17) ^ ror(w[i-2], 19) ^ (w[i-2] >> 10);
        w[i] = w[i-16] + s0 + w[i-7] + s1;
    }
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25);
        uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
        uint32_t t1 = v[7] + s1 + ch + K256[i] + w[i];
        uint32_t s0 = ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22);
        uint32_t mj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
        memmove(v + 1, v, 7 * sizeof(uint32_t));
        v[4] += t1;
        v[0] = t1 + s0 + mj;
    }
    for (int i = 0; i < 8; i++) h[i] += v[i];
}

static size_t hashSize(int kind) { return kind == 1 ? 20 : 32; }

static void hashInit(Hash *s, int kind)
{
    static const uint32_t i1[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    static const uint32_t i256[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memset(s, 0, sizeof *s);
    s->kind = kind;
    memcpy(s->h, kind == 1 ? i1 : i256, kind == 1 ? sizeof i1 : sizeof i256);
}

static void hashBlock(Hash *s, const uint8_t *p)
{
    if (s->kind == 1) sha1Block(s->h, p); else sha256Block(s->h, p);
}

static void hashUpdate(Hash *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->length += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take; p += take; n -= take;
        if (s->used == 64) { hashBlock(s, s->block); s->used = 0; }
    }
}

static void hashFinal(Hash *s, uint8_t *out)
{
    uint64_t bits = s->length * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    hashUpdate(s, &pad, 1);
    while (s->used != 56) hashUpdate(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    hashUpdate(s, len, 8);
    for (size_t i = 0; i < hashSize(s->kind) / 4; i++) {
        out[4*i] = s->h[i] >> 24; out[4*i+1] = s->h[i] >> 16;
        out[4*i+2] = s->h[i] >> 8; out[4*i+3] = s->h[i];
    }
}

static void hashOf(int kind, const void *data, size_t n, uint8_t *out)
{
    Hash s;
    hashInit(&s, kind); hashUpdate(&s, data, n); hashFinal(&s, out);
}

static void hmac(int kind, const uint8_t *key, size_t keyLen,
                 const void *msg, size_t msgLen, uint8_t *out)
{
    uint8_t k[64] = {0}, pad[64], inner[HASH_MAX];
    Hash s;
    if (keyLen > 64) hashOf(kind, key, keyLen, k); else memcpy(k, key, keyLen);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    hashInit(&s, kind); hashUpdate(&s, pad, 64); hashUpdate(&s, msg, msgLen);
    hashFinal(&s, inner);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    hashInit(&s, kind); hashUpdate(&s, pad, 64);
    hashUpdate(&s, inner, hashSize(kind)); hashFinal(&s, out);
}

/* PBKDF2 with one output block: SCRAM's Hi() (RFC 5802 section 2.2). */
static void pbkdf2(int kind, const char *password, const uint8_t *salt,
                   size_t saltLen, int iterations, uint8_t *out)
{
    uint8_t first[256], u[HASH_MAX];
    size_t n = hashSize(kind);
    memcpy(first, salt, saltLen);
    memcpy(first + saltLen, "\0\0\0\1", 4);
    hmac(kind, (const uint8_t *)password, strlen(password), first, saltLen + 4, u);
    memcpy(out, u, n);
    for (int i = 1; i < iterations; i++) {
        hmac(kind, (const uint8_t *)password, strlen(password), u, n, u);
        for (size_t j = 0; j < n; j++) out[j] ^= u[j];
    }
}

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = in[i] << 16 | (i + 1 < n ? in[i+1] << 8 : 0) | (i + 2 < n ? in[i+2] : 0);
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

/* Decodes base64, skipping anything outside the alphabet; returns the length. */
static size_t b64decode(const char *in, size_t n, uint8_t *out)
{
    uint32_t v = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(B64, in[i]) : NULL;
        if (p == NULL) continue;
        v = v << 6 | (uint32_t)(p - B64);
        bits += 6;
        if (bits >= 8) { bits -= 8; out[o++] = (uint8_t)(v >> bits); }
    }
    return o;
}

#endif
