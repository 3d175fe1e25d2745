"""The part of s2n-tls's C API the bridge binds, as cffi declarations (API mode).

Kept to what the harness uses; cffi checks each declaration against s2n.h when
the extension is compiled, so a wrong signature fails the build, not a run.
"""

from __future__ import annotations

__all__ = ["CDEFS"]

_TYPES = """
struct s2n_config;
struct s2n_connection;
struct s2n_cert_chain_and_key;
struct s2n_client_hello;
struct s2n_async_pkey_op;

typedef enum { S2N_ERR_T_OK, S2N_ERR_T_IO, S2N_ERR_T_CLOSED, S2N_ERR_T_BLOCKED, S2N_ERR_T_ALERT,
               S2N_ERR_T_PROTO, S2N_ERR_T_INTERNAL, S2N_ERR_T_USAGE, ... } s2n_error_type;
typedef enum { S2N_SERVER, S2N_CLIENT, ... } s2n_mode;
typedef enum { S2N_BUILT_IN_BLINDING, S2N_SELF_SERVICE_BLINDING, ... } s2n_blinding;
typedef enum { S2N_NOT_BLOCKED, S2N_BLOCKED_ON_READ, S2N_BLOCKED_ON_WRITE,
               S2N_BLOCKED_ON_APPLICATION_INPUT, S2N_BLOCKED_ON_EARLY_DATA, ... } s2n_blocked_status;
typedef enum { S2N_CERT_AUTH_NONE, S2N_CERT_AUTH_REQUIRED, S2N_CERT_AUTH_OPTIONAL, ... } s2n_cert_auth_type;
typedef enum { S2N_KEY_UPDATE_NOT_REQUESTED, S2N_KEY_UPDATE_REQUESTED, ... } s2n_peer_key_update;
typedef enum { S2N_ASYNC_DECRYPT, S2N_ASYNC_SIGN, ... } s2n_async_pkey_op_type;
typedef enum { S2N_TLS_SIGNATURE_ANONYMOUS, S2N_TLS_SIGNATURE_RSA, S2N_TLS_SIGNATURE_ECDSA,
               S2N_TLS_SIGNATURE_RSA_PSS_RSAE, S2N_TLS_SIGNATURE_RSA_PSS_PSS, ... } s2n_tls_signature_algorithm;
typedef enum { S2N_TLS_HASH_NONE, S2N_TLS_HASH_SHA256, S2N_TLS_HASH_SHA384, S2N_TLS_HASH_SHA512,
               ... } s2n_tls_hash_algorithm;

typedef enum { S2N_EXTENSION_SERVER_NAME, S2N_EXTENSION_SUPPORTED_GROUPS, ... } s2n_tls_extension_type;
typedef enum { S2N_SERIALIZED_CONN_NONE, S2N_SERIALIZED_CONN_V1, ... } s2n_serialization_version;

typedef int (*s2n_clock_time_nanoseconds)(void *, uint64_t *);
typedef int (*s2n_async_pkey_fn)(struct s2n_connection *conn, struct s2n_async_pkey_op *op);
typedef int (*s2n_key_log_fn)(void *ctx, struct s2n_connection *conn, uint8_t *logline, size_t len);
typedef uint8_t (*s2n_verify_host_fn)(const char *host_name, size_t host_name_len, void *data);
typedef int s2n_recv_fn(void *io_context, uint8_t *buf, uint32_t len);
typedef int s2n_send_fn(void *io_context, const uint8_t *buf, uint32_t len);
"""

_LIBRARY = """
int s2n_init(void);
int *s2n_errno_location(void);
int s2n_error_get_type(int error);
const char *s2n_strerror_name(int error);
const char *s2n_strerror(int error, const char *lang);

struct s2n_config *s2n_config_new_minimal(void);
int s2n_config_load_system_certs(struct s2n_config *config);
int s2n_config_free(struct s2n_config *config);
int s2n_config_set_cipher_preferences(struct s2n_config *config, const char *version);
int s2n_config_set_monotonic_clock(struct s2n_config *config, s2n_clock_time_nanoseconds clock_fn, void *ctx);
int s2n_config_add_cert_chain_and_key_to_store(struct s2n_config *config,
                                               struct s2n_cert_chain_and_key *cert_key_pair);
int s2n_config_set_async_pkey_callback(struct s2n_config *config, s2n_async_pkey_fn fn);
int s2n_config_set_key_log_cb(struct s2n_config *config, s2n_key_log_fn callback, void *ctx);
int s2n_config_set_protocol_preferences(struct s2n_config *config, const char *const *protocols,
                                        int protocol_count);
int s2n_config_set_client_auth_type(struct s2n_config *config, s2n_cert_auth_type client_auth_type);
int s2n_config_add_pem_to_trust_store(struct s2n_config *config, const char *pem);
int s2n_config_wipe_trust_store(struct s2n_config *config);
int s2n_config_disable_x509_verification(struct s2n_config *config);
int s2n_config_set_verify_host_callback(struct s2n_config *config, s2n_verify_host_fn, void *data);
int s2n_config_set_session_tickets_onoff(struct s2n_config *config, uint8_t enabled);
int s2n_config_add_ticket_crypto_key(struct s2n_config *config, const uint8_t *name, uint32_t name_len,
                                     uint8_t *key, uint32_t key_len, uint64_t intro_time_in_seconds_from_epoch);
int s2n_config_set_serialization_version(struct s2n_config *config, s2n_serialization_version version);

struct s2n_cert_chain_and_key *s2n_cert_chain_and_key_new(void);
int s2n_cert_chain_and_key_load_pem_bytes(struct s2n_cert_chain_and_key *chain_and_key, uint8_t *chain_pem,
                                          uint32_t chain_pem_len, uint8_t *private_key_pem,
                                          uint32_t private_key_pem_len);
int s2n_cert_chain_and_key_load_public_pem_bytes(struct s2n_cert_chain_and_key *chain_and_key,
                                                 uint8_t *chain_pem, uint32_t chain_pem_len);
int s2n_cert_chain_and_key_free(struct s2n_cert_chain_and_key *cert_and_key);

int s2n_async_pkey_op_get_op_type(struct s2n_async_pkey_op *op, s2n_async_pkey_op_type *type);
int s2n_async_pkey_op_get_input_size(struct s2n_async_pkey_op *op, uint32_t *data_len);
int s2n_async_pkey_op_get_input(struct s2n_async_pkey_op *op, uint8_t *data, uint32_t data_len);
int s2n_async_pkey_op_set_output(struct s2n_async_pkey_op *op, const uint8_t *data, uint32_t data_len);
int s2n_async_pkey_op_apply(struct s2n_async_pkey_op *op, struct s2n_connection *conn);
int s2n_async_pkey_op_free(struct s2n_async_pkey_op *op);

struct s2n_connection *s2n_connection_new(s2n_mode mode);
int s2n_connection_free(struct s2n_connection *conn);
int s2n_connection_wipe(struct s2n_connection *conn);
int s2n_connection_set_config(struct s2n_connection *conn, struct s2n_config *config);
int s2n_connection_set_blinding(struct s2n_connection *conn, s2n_blinding blinding);
int s2n_connection_set_send_cb(struct s2n_connection *conn, s2n_send_fn send);
int s2n_connection_set_recv_cb(struct s2n_connection *conn, s2n_recv_fn recv);
int s2n_connection_set_send_ctx(struct s2n_connection *conn, void *ctx);
int s2n_connection_set_recv_ctx(struct s2n_connection *conn, void *ctx);
int s2n_connection_set_fd(struct s2n_connection *conn, int fd);
int s2n_connection_set_ctx(struct s2n_connection *conn, void *ctx);
void *s2n_connection_get_ctx(struct s2n_connection *conn);
int s2n_connection_set_client_auth_type(struct s2n_connection *conn, s2n_cert_auth_type client_auth_type);
int s2n_connection_prefer_throughput(struct s2n_connection *conn);
int s2n_connection_prefer_low_latency(struct s2n_connection *conn);
int s2n_set_server_name(struct s2n_connection *conn, const char *server_name);
const char *s2n_get_server_name(struct s2n_connection *conn);

int s2n_negotiate(struct s2n_connection *conn, s2n_blocked_status *blocked);
ssize_t s2n_send(struct s2n_connection *conn, const void *buf, ssize_t size, s2n_blocked_status *blocked);
ssize_t s2n_recv(struct s2n_connection *conn, void *buf, ssize_t size, s2n_blocked_status *blocked);
uint32_t s2n_peek(struct s2n_connection *conn);
int s2n_shutdown(struct s2n_connection *conn, s2n_blocked_status *blocked);
int s2n_shutdown_send(struct s2n_connection *conn, s2n_blocked_status *blocked);
int s2n_connection_request_key_update(struct s2n_connection *conn, s2n_peer_key_update peer_request);
int s2n_connection_serialization_length(struct s2n_connection *conn, uint32_t *length);
int s2n_connection_serialize(struct s2n_connection *conn, uint8_t *buffer, uint32_t buffer_length);
int s2n_connection_deserialize(struct s2n_connection *conn, uint8_t *buffer, uint32_t buffer_length);

int s2n_connection_get_actual_protocol_version(struct s2n_connection *conn);
const char *s2n_connection_get_cipher(struct s2n_connection *conn);
const char *s2n_connection_get_curve(struct s2n_connection *conn);
const char *s2n_connection_get_kem_group_name(struct s2n_connection *conn);
int s2n_connection_get_key_exchange_group(struct s2n_connection *conn, const char **group_name);
const char *s2n_connection_get_handshake_type_name(struct s2n_connection *conn);
const char *s2n_connection_get_last_message_name(struct s2n_connection *conn);
const char *s2n_get_application_protocol(struct s2n_connection *conn);
int s2n_connection_get_alert(struct s2n_connection *conn);
uint64_t s2n_connection_get_delay(struct s2n_connection *conn);
uint64_t s2n_connection_get_wire_bytes_in(struct s2n_connection *conn);
uint64_t s2n_connection_get_wire_bytes_out(struct s2n_connection *conn);
int s2n_connection_get_selected_signature_algorithm(struct s2n_connection *conn,
                                                    s2n_tls_signature_algorithm *chosen_alg);
int s2n_connection_get_selected_digest_algorithm(struct s2n_connection *conn, s2n_tls_hash_algorithm *chosen_alg);
int s2n_connection_get_selected_client_cert_signature_algorithm(struct s2n_connection *conn,
                                                                s2n_tls_signature_algorithm *chosen_alg);
int s2n_connection_get_selected_client_cert_digest_algorithm(struct s2n_connection *conn,
                                                             s2n_tls_hash_algorithm *chosen_alg);
int s2n_connection_client_cert_used(struct s2n_connection *conn);
struct s2n_cert_chain_and_key *s2n_connection_get_selected_cert(struct s2n_connection *conn);

struct s2n_client_hello *s2n_connection_get_client_hello(struct s2n_connection *conn);
ssize_t s2n_client_hello_get_raw_message_length(struct s2n_client_hello *ch);
ssize_t s2n_client_hello_get_raw_message(struct s2n_client_hello *ch, uint8_t *out, uint32_t max_length);
struct s2n_client_hello *s2n_client_hello_parse_message(const uint8_t *bytes, uint32_t size);
int s2n_client_hello_free(struct s2n_client_hello **ch);
ssize_t s2n_client_hello_get_cipher_suites_length(struct s2n_client_hello *ch);
ssize_t s2n_client_hello_get_cipher_suites(struct s2n_client_hello *ch, uint8_t *out, uint32_t max_length);
ssize_t s2n_client_hello_get_extensions_length(struct s2n_client_hello *ch);
ssize_t s2n_client_hello_get_extensions(struct s2n_client_hello *ch, uint8_t *out, uint32_t max_length);
ssize_t s2n_client_hello_get_extension_length(struct s2n_client_hello *ch, s2n_tls_extension_type extension_type);
ssize_t s2n_client_hello_get_extension_by_id(struct s2n_client_hello *ch, s2n_tls_extension_type extension_type,
                                             uint8_t *out, uint32_t max_length);
int s2n_client_hello_has_extension(struct s2n_client_hello *ch, uint16_t extension_iana, bool *exists);
int s2n_client_hello_get_session_id_length(struct s2n_client_hello *ch, uint32_t *out_length);
int s2n_client_hello_get_session_id(struct s2n_client_hello *ch, uint8_t *out, uint32_t *out_length,
                                    uint32_t max_length);
int s2n_client_hello_get_compression_methods_length(struct s2n_client_hello *ch, uint32_t *out_length);
int s2n_client_hello_get_compression_methods(struct s2n_client_hello *ch, uint8_t *list, uint32_t list_length,
                                             uint32_t *out_length);
int s2n_client_hello_get_legacy_protocol_version(struct s2n_client_hello *ch, uint8_t *out);
int s2n_client_hello_get_legacy_record_version(struct s2n_client_hello *ch, uint8_t *out);
int s2n_client_hello_get_random(struct s2n_client_hello *ch, uint8_t *out, uint32_t max_length);
int s2n_client_hello_get_supported_groups(struct s2n_client_hello *ch, uint16_t *groups, uint16_t groups_count_max,
                                          uint16_t *groups_count);
int s2n_client_hello_get_server_name_length(struct s2n_client_hello *ch, uint16_t *length);
int s2n_client_hello_get_server_name(struct s2n_client_hello *ch, uint8_t *server_name, uint16_t length,
                                     uint16_t *out_length);
"""

_HELPERS = """
size_t tlsdiff_stream_size(void);
void tlsdiff_stream_setup(void *stream, const uint8_t *key32, int32_t id);
uint64_t tlsdiff_stream_drawn(void *stream);
int tlsdiff_stream_draw(void *stream, uint8_t *out, uint32_t size);
void *tlsdiff_select(void *stream);
void tlsdiff_log_enable(int enabled);
void tlsdiff_log_clear(void);
uint32_t tlsdiff_log_read(int32_t *stream_ids, uint32_t *sizes, int32_t *kinds, uint32_t max);
uint32_t tlsdiff_log_dropped_count(void);
int tlsdiff_install_rand(void);
int tlsdiff_monotonic_clock(void *ctx, uint64_t *nanoseconds);
struct tlsdiff_input {
    uint8_t *data;
    uint32_t start;
    uint32_t end;
    int32_t eof;
};
int tlsdiff_memory_recv(void *ctx, uint8_t *buf, uint32_t len);
int tlsdiff_memory_setup(struct s2n_connection *conn, struct s2n_config *config, void *owner,
                         struct tlsdiff_input *input);
ssize_t tlsdiff_recv(void *stream, struct s2n_connection *conn, void *buf, ssize_t size, int *error_type);
int tlsdiff_send_trampoline(void *ctx, const uint8_t *buf, uint32_t len);

extern "Python+C" int tlsdiff_py_send(void *ctx, const uint8_t *buf, uint32_t len);
extern "Python" int tlsdiff_py_key_log(void *ctx, struct s2n_connection *conn, uint8_t *logline, size_t len);
extern "Python" int tlsdiff_py_async_pkey(struct s2n_connection *conn, struct s2n_async_pkey_op *op);
extern "Python" uint8_t tlsdiff_py_verify_host(const char *host_name, size_t host_name_len, void *data);
"""

CDEFS = _TYPES + _LIBRARY + _HELPERS
