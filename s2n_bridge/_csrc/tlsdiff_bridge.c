/*
 * tlsdiff bridge helpers, compiled into the cffi extension next to s2n-tls.
 *
 * 1. Seeded randomness: every byte s2n-tls draws from libcrypto comes from a
 *    ChaCha20 keystream (RFC 8439: key from Python, nonce 0, counter 0), one
 *    stream per connection, selected by the bridge right before each call into
 *    s2n for that connection. The construction is written down in
 *    docs/determinism.md and implemented again in engine/randomness.py.
 *    With no stream selected, draws come from the operating system.
 * 2. A draw log (debug): stream id, size and kind of every draw.
 * 3. In-memory I/O: input is read in C from a buffer the bridge fills; output
 *    goes to a Python callback, which returns -2 for "would block" and the
 *    trampoline turns that into -1 with errno = EAGAIN, as s2n expects.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TLSDIFF_DRAW_BYTES 0
#define TLSDIFF_DRAW_PRIVATE 1
#define TLSDIFF_DRAW_PUBLIC 2
#define TLSDIFF_LOG_CAPACITY 65536

struct tlsdiff_stream {
    uint32_t key[8];
    uint32_t counter;
    uint8_t block[64];
    uint32_t block_used; /* bytes of block already handed out; 64 = empty */
    uint64_t drawn;      /* total bytes drawn from this stream */
    int32_t id;
};

struct tlsdiff_draw {
    int32_t stream_id; /* -1: no stream selected (operating system) */
    uint32_t size;
    int32_t kind;
};

static __thread struct tlsdiff_stream *tlsdiff_selected = NULL;
static struct tlsdiff_draw tlsdiff_log[TLSDIFF_LOG_CAPACITY];
static uint32_t tlsdiff_log_length = 0;
static uint32_t tlsdiff_log_dropped = 0;
static int tlsdiff_log_enabled = 0;

#define TLSDIFF_ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define TLSDIFF_QR(a, b, c, d)                   \
    a += b; d ^= a; d = TLSDIFF_ROTL(d, 16);     \
    c += d; b ^= c; b = TLSDIFF_ROTL(b, 12);     \
    a += b; d ^= a; d = TLSDIFF_ROTL(d, 8);      \
    c += d; b ^= c; b = TLSDIFF_ROTL(b, 7)

static uint32_t tlsdiff_load32_le(const uint8_t *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

/* RFC 8439 section 2.3: the ChaCha20 block function, nonce fixed at zero. */
static void tlsdiff_chacha20_block(struct tlsdiff_stream *stream)
{
    uint32_t initial[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };
    uint32_t x[16];
    int i;
    memcpy(&initial[4], stream->key, sizeof(stream->key));
    initial[12] = stream->counter;
    initial[13] = initial[14] = initial[15] = 0;
    memcpy(x, initial, sizeof(x));
    for (i = 0; i < 10; i++) {
        TLSDIFF_QR(x[0], x[4], x[8], x[12]);
        TLSDIFF_QR(x[1], x[5], x[9], x[13]);
        TLSDIFF_QR(x[2], x[6], x[10], x[14]);
        TLSDIFF_QR(x[3], x[7], x[11], x[15]);
        TLSDIFF_QR(x[0], x[5], x[10], x[15]);
        TLSDIFF_QR(x[1], x[6], x[11], x[12]);
        TLSDIFF_QR(x[2], x[7], x[8], x[13]);
        TLSDIFF_QR(x[3], x[4], x[9], x[14]);
    }
    for (i = 0; i < 16; i++) {
        uint32_t word = x[i] + initial[i];
        stream->block[4 * i] = (uint8_t) word;
        stream->block[4 * i + 1] = (uint8_t) (word >> 8);
        stream->block[4 * i + 2] = (uint8_t) (word >> 16);
        stream->block[4 * i + 3] = (uint8_t) (word >> 24);
    }
    stream->counter++;
    stream->block_used = 0;
}

static void tlsdiff_stream_init(struct tlsdiff_stream *stream, const uint8_t *key32, int32_t id)
{
    int i;
    memset(stream, 0, sizeof(*stream));
    for (i = 0; i < 8; i++) {
        stream->key[i] = tlsdiff_load32_le(key32 + 4 * i);
    }
    stream->block_used = 64;
    stream->id = id;
}

static void tlsdiff_stream_read(struct tlsdiff_stream *stream, uint8_t *out, size_t size)
{
    while (size > 0) {
        size_t take;
        if (stream->block_used == 64) {
            tlsdiff_chacha20_block(stream);
        }
        take = 64 - stream->block_used;
        if (take > size) {
            take = size;
        }
        memcpy(out, stream->block + stream->block_used, take);
        stream->block_used += (uint32_t) take;
        stream->drawn += take;
        out += take;
        size -= take;
    }
}

static int tlsdiff_os_random(uint8_t *out, size_t size)
{
    while (size > 0) {
        ssize_t got = getrandom(out, size, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 0;
        }
        out += got;
        size -= (size_t) got;
    }
    return 1;
}

static void tlsdiff_log_draw(int32_t stream_id, size_t size, int kind)
{
    if (!tlsdiff_log_enabled) {
        return;
    }
    if (tlsdiff_log_length == TLSDIFF_LOG_CAPACITY) {
        tlsdiff_log_dropped++;
        return;
    }
    tlsdiff_log[tlsdiff_log_length].stream_id = stream_id;
    tlsdiff_log[tlsdiff_log_length].size = (uint32_t) size;
    tlsdiff_log[tlsdiff_log_length].kind = kind;
    tlsdiff_log_length++;
}

/* Every draw s2n makes through libcrypto lands here. */
static int tlsdiff_draw(uint8_t *out, size_t size, int kind)
{
    struct tlsdiff_stream *stream = tlsdiff_selected;
    tlsdiff_log_draw(stream ? stream->id : -1, size, kind);
    if (stream == NULL) {
        return tlsdiff_os_random(out, size);
    }
    tlsdiff_stream_read(stream, out, size);
    return 1;
}

/* ---- the part of the API Python sees ---- */

static size_t tlsdiff_stream_size(void)
{
    return sizeof(struct tlsdiff_stream);
}

static void tlsdiff_stream_setup(void *stream, const uint8_t *key32, int32_t id)
{
    tlsdiff_stream_init((struct tlsdiff_stream *) stream, key32, id);
}

static uint64_t tlsdiff_stream_drawn(void *stream)
{
    return ((struct tlsdiff_stream *) stream)->drawn;
}

/* Draws for the bridge's own use (e.g. an RSA-PSS salt), logged like s2n's. */
static int tlsdiff_stream_draw(void *stream, uint8_t *out, uint32_t size)
{
    struct tlsdiff_stream *selected = (struct tlsdiff_stream *) stream;
    tlsdiff_log_draw(selected->id, size, TLSDIFF_DRAW_BYTES);
    tlsdiff_stream_read(selected, out, size);
    return 1;
}

static void *tlsdiff_select(void *stream)
{
    struct tlsdiff_stream *previous = tlsdiff_selected;
    tlsdiff_selected = (struct tlsdiff_stream *) stream;
    return previous;
}

static void tlsdiff_log_enable(int enabled)
{
    tlsdiff_log_enabled = enabled;
}

static void tlsdiff_log_clear(void)
{
    tlsdiff_log_length = 0;
    tlsdiff_log_dropped = 0;
}

static uint32_t tlsdiff_log_read(int32_t *stream_ids, uint32_t *sizes, int32_t *kinds, uint32_t max)
{
    uint32_t i;
    uint32_t count = tlsdiff_log_length < max ? tlsdiff_log_length : max;
    for (i = 0; i < count; i++) {
        stream_ids[i] = tlsdiff_log[i].stream_id;
        sizes[i] = tlsdiff_log[i].size;
        kinds[i] = tlsdiff_log[i].kind;
    }
    return count;
}

static uint32_t tlsdiff_log_dropped_count(void)
{
    return tlsdiff_log_dropped;
}

/* ---- a monotonic clock the bridge can move forward ----
 * ctx points at a uint64_t offset (nanoseconds) owned by the Python Config. Moving it
 * forward lets the harness pass s2n's self-service blinding delay without sleeping. */
static int tlsdiff_monotonic_clock(void *ctx, uint64_t *nanoseconds)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) {
        return -1;
    }
    *nanoseconds = (uint64_t) now.tv_sec * 1000000000u + (uint64_t) now.tv_nsec + *(const uint64_t *) ctx;
    return 0;
}

/* ---- I/O trampolines ---- */

/* Defined by cffi from the extern "Python+C" declarations in _cdefs.py. */
int tlsdiff_py_send(void *ctx, const uint8_t *buf, uint32_t len);

/* In-memory input read in C: the most frequent callback of a fuzz run (every s2n_recv and
 * s2n_negotiate asks at least twice) costs no trip through Python. The bytes between
 * start and end are what the peer sent and s2n has not read yet; the bridge owns the struct
 * and its buffer, and compacts or grows it as it feeds. */
struct tlsdiff_input {
    uint8_t *data;
    uint32_t start;
    uint32_t end;
    int32_t eof;
};

static int tlsdiff_memory_recv(void *ctx, uint8_t *buf, uint32_t len)
{
    struct tlsdiff_input *input = ctx;
    uint32_t available = input->end - input->start;
    if (available == 0) {
        if (input->eof) {
            return 0;
        }
        errno = EAGAIN;
        return -1;
    }
    uint32_t taken = len < available ? len : available;
    memcpy(buf, input->data + input->start, taken);
    input->start += taken;
    return (int) taken;
}

/* s2n_recv with the connection's random stream selected, in one call from Python (the
 * fuzz targets call it after every piece they feed). Returns s2n_recv's result; when
 * that is negative, *error_type holds s2n_error_get_type of the error (s2n_errno stays
 * set for the bridge to read). */
static ssize_t tlsdiff_recv(void *stream, struct s2n_connection *conn, void *buf, ssize_t size, int *error_type)
{
    s2n_blocked_status blocked = S2N_NOT_BLOCKED;
    void *previous = tlsdiff_select(stream);
    ssize_t result = s2n_recv(conn, buf, size, &blocked);
    *error_type = result < 0 ? s2n_error_get_type(*s2n_errno_location()) : S2N_ERR_T_OK;
    tlsdiff_select(previous);
    return result;
}

static int tlsdiff_send_trampoline(void *ctx, const uint8_t *buf, uint32_t len)
{
    int result = tlsdiff_py_send(ctx, buf, len);
    if (result == -2) {
        errno = EAGAIN;
        return -1;
    }
    return result;
}

/* An in-memory connection's set-up in one call (a fuzz run makes one or more connections per
 * input): its config, self-service blinding, its Python owner as ctx, input read in C from
 * `input`, output through the Python send callback. -1 with s2n_errno set on failure. */
static int tlsdiff_memory_setup(struct s2n_connection *conn, struct s2n_config *config, void *owner,
                                struct tlsdiff_input *input)
{
    if (s2n_connection_set_config(conn, config) < 0 || s2n_connection_set_blinding(conn, S2N_SELF_SERVICE_BLINDING) < 0
        || s2n_connection_set_ctx(conn, owner) < 0 || s2n_connection_set_recv_cb(conn, tlsdiff_memory_recv) < 0
        || s2n_connection_set_send_cb(conn, tlsdiff_send_trampoline) < 0 || s2n_connection_set_recv_ctx(conn, input) < 0
        || s2n_connection_set_send_ctx(conn, owner) < 0) {
        return -1;
    }
    return 0;
}

/* ---- the hook into libcrypto, one per profile ---- */

#ifdef TLSDIFF_PROFILE_AWSLC
/* s2n-tls and aws-lc reach these exported RAND functions through the PLT of
 * libs2n.so, so the definitions below (in the extension that loads libs2n.so)
 * take their place. Measured: with these four, every draw of a TLS 1.3
 * handshake (randoms, session id, EC, X25519 and ML-KEM keys) is captured. */
int RAND_bytes(uint8_t *out, size_t len)
{
    return tlsdiff_draw(out, len, TLSDIFF_DRAW_BYTES);
}

int RAND_priv_bytes(uint8_t *out, size_t len)
{
    return tlsdiff_draw(out, len, TLSDIFF_DRAW_PRIVATE);
}

int RAND_public_bytes(uint8_t *out, size_t len)
{
    return tlsdiff_draw(out, len, TLSDIFF_DRAW_PUBLIC);
}

/* aws-lc's EC scalar generation (bn_rand_range_words) draws through this one;
 * the caller's prediction-resistance input does not change the seeded stream. */
int RAND_bytes_with_user_prediction_resistance(uint8_t *out, size_t len, const uint8_t *user_pred_resistance)
{
    (void) user_pred_resistance;
    return tlsdiff_draw(out, len, TLSDIFF_DRAW_PRIVATE);
}

static int tlsdiff_install_rand(void)
{
    return 1;
}
#else
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/rand.h>

static int tlsdiff_rand_bytes(unsigned char *out, int len)
{
    if (len < 0) {
        return 0;
    }
    return tlsdiff_draw(out, (size_t) len, TLSDIFF_DRAW_BYTES);
}

static int tlsdiff_rand_seed(const void *buf, int num)
{
    (void) buf;
    (void) num;
    return 1;
}

static int tlsdiff_rand_add(const void *buf, int num, double entropy)
{
    (void) buf;
    (void) num;
    (void) entropy;
    return 1;
}

static int tlsdiff_rand_status(void)
{
    return 1;
}

static RAND_METHOD tlsdiff_rand_method = {
    tlsdiff_rand_seed, tlsdiff_rand_bytes, NULL, tlsdiff_rand_add, tlsdiff_rand_bytes, tlsdiff_rand_status,
};

/* OpenSSL 3.0: a custom RAND_METHOD takes every RAND_bytes/RAND_priv_bytes
 * call in the process, including key generation and ECDSA nonces. */
static int tlsdiff_install_rand(void)
{
    return RAND_set_rand_method(&tlsdiff_rand_method);
}
#endif
