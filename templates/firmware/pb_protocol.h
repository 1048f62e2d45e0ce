/* protobrain serial protocol: framed binary messages with a length and a CRC-32.
 *
 *   0xA5 0x5A | type u8 | seq u8 | length u16 LE | payload[length] | crc32 LE
 *
 * The CRC-32 (IEEE, as zlib computes it) covers type, seq, length and payload.
 * The parser consumes one byte at a time and never blocks or reads out of bounds:
 * garbage is skipped until the next sync pair, a too-long frame is refused at once,
 * and a truncated frame is completed by whatever bytes come next (then fails its CRC).
 */
#ifndef PB_PROTOCOL_H
#define PB_PROTOCOL_H

#include <stdint.h>
#include <stddef.h>

#define PB_SYNC0 0xA5u
#define PB_SYNC1 0x5Au
#define PB_HEADER_BYTES 6u /* sync0, sync1, type, seq, length lo, length hi */
#define PB_TRAILER_BYTES 4u

/* Commands (host to device). A reply carries the command's type with bit 7 set. */
enum {
    PB_CMD_PING = 0x01,   /* echo the payload back */
    PB_CMD_INFO = 0x02,   /* firmware and model description (JSON text) */
    PB_CMD_INVOKE = 0x03, /* payload: model index u8, input bytes */
    PB_CMD_PROFILE = 0x04, /* per-step timer stamps of the last inference, stack high-water mark */
    PB_CMD_WRITE_ARENA = 0x05, /* payload: model u8, offset u32, bytes */
    PB_CMD_RUN_STEPS = 0x06, /* payload: model u8, first step u16, last step u16 (exclusive) */
    PB_CMD_READ_ARENA = 0x07, /* payload: model u8, offset u32, length u16 */
    /* The protobrain bundle (apps.c.j2): */
    PB_CMD_LISTEN_RESET = 0x08, /* forget all audio heard so far */
    PB_CMD_LISTEN = 0x09,     /* payload: int16 LE samples; reply: the speech net's scores */
    PB_CMD_SPEAK = 0x0A,      /* payload: keyword u8, temperature_q8 u16, seed u32 */
    PB_CMD_SPEAK_NEXT = 0x0B, /* reply: the next frame of int16 samples (none when done) */
    PB_CMD_SPEAK_STREAM = 0x0C, /* payload: temperature_q8 u16, seed u32: speak frames the host sends */
    PB_CMD_SPEAK_FRAME = 0x0D,  /* payload: one frame's int16 features and coefficients; reply: its samples */
    PB_REPLY_FLAG = 0x80,
    PB_REPLY_ERROR = 0xFF /* payload: error code u8, then the offending type u8 */
};

enum {
    PB_ERR_BAD_CRC = 1,
    PB_ERR_BAD_LENGTH = 2,
    PB_ERR_UNKNOWN_COMMAND = 3,
    PB_ERR_UNKNOWN_MODEL = 4,
    PB_ERR_BAD_INPUT_SIZE = 5,
    PB_ERR_OUT_OF_RANGE = 6 /* arena offset/length or step range outside the model */
};

typedef enum {
    PB_PARSE_MORE = 0,  /* need more bytes */
    PB_PARSE_FRAME = 1, /* a whole, valid frame is in the parser */
    PB_PARSE_ERROR = 2  /* a frame was rejected; `error` says why */
} pb_parse_result_t;

typedef struct {
    uint8_t *buffer; /* payload storage, capacity bytes */
    uint16_t capacity;
    /* state */
    uint8_t state;
    uint8_t type, seq;
    uint16_t length, got;
    uint32_t crc_rx;
    uint8_t crc_got;
    uint32_t crc;
    uint8_t error;
} pb_parser_t;

uint32_t pb_crc32_update(uint32_t crc, const uint8_t *data, size_t n);
void pb_parser_init(pb_parser_t *p, uint8_t *buffer, uint16_t capacity);
pb_parse_result_t pb_parser_feed(pb_parser_t *p, uint8_t byte);

/* Writes a whole frame through `put`, one byte at a time. */
typedef void (*pb_put_fn)(uint8_t byte);
void pb_send_frame(pb_put_fn put, uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t length);
/* Same, with the payload given in two parts (e.g. a header and a tensor). */
void pb_send_frame2(pb_put_fn put, uint8_t type, uint8_t seq, const uint8_t *a, uint16_t na,
                    const uint8_t *b, uint16_t nb);

#endif
