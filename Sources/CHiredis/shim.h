#ifndef FUNDQ_CHIREDIS_SHIM_H
#define FUNDQ_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <sys/time.h>

/* Reply type constants are macros; expose them as functions with a fundq_ prefix. */
static inline int fundq_redis_reply_string(void) { return REDIS_REPLY_STRING; }
static inline int fundq_redis_reply_array(void) { return REDIS_REPLY_ARRAY; }
static inline int fundq_redis_reply_integer(void) { return REDIS_REPLY_INTEGER; }
static inline int fundq_redis_reply_nil(void) { return REDIS_REPLY_NIL; }
static inline int fundq_redis_reply_status(void) { return REDIS_REPLY_STATUS; }
static inline int fundq_redis_reply_error(void) { return REDIS_REPLY_ERROR; }

/* Connect with a connect timeout given in milliseconds. */
static inline redisContext *fundq_redis_connect(const char *host, int port, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisConnectWithTimeout(host, port, tv);
}

/* Connect to a Unix socket with a connect timeout given in milliseconds. */
static inline redisContext *fundq_redis_connect_unix(const char *path, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisConnectUnixWithTimeout(path, tv);
}

/* Set the read/write timeout of a connected context, in milliseconds. */
static inline int fundq_redis_set_timeout(redisContext *c, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisSetTimeout(c, tv);
}

/* Read one pipelined reply; returns the reply or NULL on error. */
static inline redisReply *fundq_redis_get_reply(redisContext *c) {
    void *reply = NULL;
    if (redisGetReply(c, &reply) != REDIS_OK) return NULL;
    return (redisReply *)reply;
}
#endif
