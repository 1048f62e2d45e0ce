#include "pb_protocol.h"

enum { S_SYNC0, S_SYNC1, S_TYPE, S_SEQ, S_LEN0, S_LEN1, S_PAYLOAD, S_CRC };

/* Bitwise CRC-32 (reflected, polynomial 0xEDB88320): no table, so no flash cost. */
uint32_t pb_crc32_update(uint32_t crc, const uint8_t *data, size_t n)
{
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; ++i) {
        crc ^= data[i];
        for (k = 0; k < 8; ++k) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

void pb_parser_init(pb_parser_t *p, uint8_t *buffer, uint16_t capacity)
{
    p->buffer = buffer;
    p->capacity = capacity;
    p->state = S_SYNC0;
    p->error = 0;
}

static void header_byte(pb_parser_t *p, uint8_t b)
{
    p->crc = pb_crc32_update(p->crc, &b, 1);
}

pb_parse_result_t pb_parser_feed(pb_parser_t *p, uint8_t b)
{
    switch (p->state) {
    case S_SYNC0:
        if (b == PB_SYNC0) {
            p->state = S_SYNC1;
        }
        return PB_PARSE_MORE;
    case S_SYNC1:
        if (b == PB_SYNC1) {
            p->state = S_TYPE;
            p->crc = 0;
        } else if (b != PB_SYNC0) {
            p->state = S_SYNC0;
        }
        return PB_PARSE_MORE;
    case S_TYPE:
        p->type = b;
        header_byte(p, b);
        p->state = S_SEQ;
        return PB_PARSE_MORE;
    case S_SEQ:
        p->seq = b;
        header_byte(p, b);
        p->state = S_LEN0;
        return PB_PARSE_MORE;
    case S_LEN0:
        p->length = b;
        header_byte(p, b);
        p->state = S_LEN1;
        return PB_PARSE_MORE;
    case S_LEN1:
        p->length = (uint16_t)(p->length | ((uint16_t)b << 8));
        header_byte(p, b);
        if (p->length > p->capacity) {
            p->state = S_SYNC0;
            p->error = PB_ERR_BAD_LENGTH;
            return PB_PARSE_ERROR;
        }
        p->got = 0;
        p->crc_got = 0;
        p->crc_rx = 0;
        p->state = p->length ? S_PAYLOAD : S_CRC;
        return PB_PARSE_MORE;
    case S_PAYLOAD:
        p->buffer[p->got++] = b;
        if (p->got == p->length) {
            p->crc = pb_crc32_update(p->crc, p->buffer, p->length);
            p->state = S_CRC;
        }
        return PB_PARSE_MORE;
    case S_CRC:
        p->crc_rx |= (uint32_t)b << (8u * p->crc_got);
        if (++p->crc_got < 4) {
            return PB_PARSE_MORE;
        }
        p->state = S_SYNC0;
        if (p->crc_rx != p->crc) {
            p->error = PB_ERR_BAD_CRC;
            return PB_PARSE_ERROR;
        }
        return PB_PARSE_FRAME;
    default:
        p->state = S_SYNC0;
        return PB_PARSE_MORE;
    }
}

static void put_bytes(pb_put_fn put, const uint8_t *d, uint16_t n)
{
    uint16_t i;
    for (i = 0; i < n; ++i) {
        put(d[i]);
    }
}

void pb_send_frame2(pb_put_fn put, uint8_t type, uint8_t seq, const uint8_t *a, uint16_t na,
                    const uint8_t *b, uint16_t nb)
{
    uint8_t head[PB_HEADER_BYTES];
    uint8_t tail[PB_TRAILER_BYTES];
    uint16_t length = (uint16_t)(na + nb);
    uint32_t crc;
    head[0] = PB_SYNC0;
    head[1] = PB_SYNC1;
    head[2] = type;
    head[3] = seq;
    head[4] = (uint8_t)(length & 0xFFu);
    head[5] = (uint8_t)(length >> 8);
    crc = pb_crc32_update(0, head + 2, 4);
    if (na) {
        crc = pb_crc32_update(crc, a, na);
    }
    if (nb) {
        crc = pb_crc32_update(crc, b, nb);
    }
    tail[0] = (uint8_t)crc;
    tail[1] = (uint8_t)(crc >> 8);
    tail[2] = (uint8_t)(crc >> 16);
    tail[3] = (uint8_t)(crc >> 24);
    put_bytes(put, head, PB_HEADER_BYTES);
    if (na) {
        put_bytes(put, a, na);
    }
    if (nb) {
        put_bytes(put, b, nb);
    }
    put_bytes(put, tail, PB_TRAILER_BYTES);
}

void pb_send_frame(pb_put_fn put, uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t length)
{
    pb_send_frame2(put, type, seq, payload, length, 0, 0);
}
