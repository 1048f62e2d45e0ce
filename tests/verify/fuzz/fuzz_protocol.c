/* libFuzzer harness for the firmware's serial protocol: the frame parser (pb_protocol.c) and
 * the real command dispatcher of a rendered firmware (main.c), compiled for the host.
 *
 * main.c is included here, so its static serve() -- the body of the firmware's receive loop --
 * is what every input byte goes through; its main() is renamed and never called (it paints
 * the stack and loops forever). The board services are host stubs: the UART's output goes
 * into a second parser that checks every reply is a well-formed frame with a valid CRC.
 *
 * Replies are counted against what the input implies, so a dispatcher that stops answering
 * (or answers twice) is a finding: every frame or rejection the parser reports gets exactly
 * one reply, on the same byte (a shadow parser fed the same bytes tells when); and in framed
 * mode, while every record so far was whole and fitted the buffer, each whole record gets
 * one reply carrying its sequence number and its type (or the error type). At exit the
 * totals are printed as "protocol: N frames or rejections, M replies" for the script.
 *
 * The same harness serves the protobrain bundle's firmware (main.c with the listen and speak
 * apps): its commands go through the same serve(), and each input starts from the same apps'
 * state (see reset_apps), so a finding replays from its input alone.
 *
 * Built and run by scripts/fuzz_protocol.py (`make fuzz`, and briefly by tests/verify/test_fuzz_protocol.py).
 */
#include <stdio.h>
#include <stdlib.h>

#define main pb_firmware_main
#include "main.c"
#undef main

/* The linker script's stack bounds: on the host, two words (PROFILE reads them). */
uint32_t __stack_bottom__, __stack_top__;

/* --- host board services ------------------------------------------------------------ */

static uint8_t reply_buffer[65535];
static pb_parser_t reply_parser;
static unsigned long replies, expected;
static uint8_t last_type, last_seq; /* of the latest reply */

static uint8_t shadow_buffer[BUFFER_BYTES];
static pb_parser_t shadow;

static void print_totals(void)
{
    fprintf(stderr, "protocol: %lu frames or rejections, %lu replies\n", expected, replies);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(print_totals);
    return 0;
}

void pb_soc_init(void) {}
void pb_uart_init(void) {}

void pb_uart_putc(uint8_t byte)
{
    pb_parse_result_t r = pb_parser_feed(&reply_parser, byte);
    if (r == PB_PARSE_ERROR) {
        fprintf(stderr, "firmware sent a malformed reply frame (error %u)\n", reply_parser.error);
        abort();
    }
    if (r == PB_PARSE_FRAME) {
        if (!(reply_parser.type & PB_REPLY_FLAG)) {
            fprintf(stderr, "firmware sent a frame of type 0x%02x without the reply flag\n", reply_parser.type);
            abort();
        }
        ++replies;
        last_type = reply_parser.type;
        last_seq = reply_parser.seq;
    }
}

uint8_t pb_uart_getc(void)
{
    abort(); /* serve() is fed directly; main() is never run */
}

static uint64_t fake_time;
void pb_timer_init(void) {}
void pb_timer_start(void) { fake_time = 0; }
uint64_t pb_timer_elapsed(void) { return ++fake_time; }
uint8_t pb_timer_kind(void) { return PB_COUNT_NONE; }
void pb_system_reset(void) { abort(); }

/* --- fuzz entry ------------------------------------------------------------------------ */

/* The bundle's apps as the device has them once it has heard a second of audio (a full
 * window: the next frame runs the speech net) and says nothing: an input of a few LISTEN
 * chunks reaches the speech net, which from boot takes a window of samples (49 frames:
 * 16 KB), more than the fuzzer's 4 KB inputs hold.
 * SPEAK_HOP is defined by the apps' code. */
static void reset_apps(void)
{
#ifdef SPEAK_HOP
    listen_reset();
    listen_frames = LISTEN_WINDOW - 1u;
    speak_word = N_KEYWORDS;
    speak_frame = 0u;
    speak_streaming = 0u;
#endif
}

static void feed(pb_parser_t *parser, const uint8_t *bytes, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        if (pb_parser_feed(&shadow, bytes[i]) != PB_PARSE_MORE) {
            ++expected;
        }
        serve(parser, bytes[i]);
        if (replies != expected) {
            fprintf(stderr, "dispatcher sent %lu replies to %lu frames or rejections\n", replies, expected);
            abort();
        }
    }
}

/* A whole record, sent on a clean stream, got its one reply: its seq, its type or an error. */
static void check_record(unsigned long before, uint8_t type, uint8_t seq)
{
    if (replies != before + 1 || last_seq != seq ||
        (last_type != (uint8_t)(type | PB_REPLY_FLAG) && last_type != PB_REPLY_ERROR)) {
        fprintf(stderr, "record type 0x%02x seq %u: %lu replies, the last type 0x%02x seq %u\n", type, seq,
                replies - before, last_type, last_seq);
        abort();
    }
}

/* Framed mode: the input is a list of records (type u8, seq u8, length u16 LE, payload),
 * each sent as a frame with a valid CRC -- so the fuzzer reaches the commands' argument
 * checks without having to solve CRC-32 -- and a record's length may claim more payload
 * than is left (truncated frame). Raw mode: the input bytes as they are. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_parser_t parser;
    int clean = 1; /* every record so far whole and within the buffer: the parser is between frames */
    pb_parser_init(&parser, buffer, BUFFER_BYTES);
    pb_parser_init(&shadow, shadow_buffer, BUFFER_BYTES);
    pb_parser_init(&reply_parser, reply_buffer, (uint16_t)sizeof reply_buffer);
    reset_apps();
    if (size == 0) {
        return 0;
    }
    if (data[0] & 1u) {
        feed(&parser, data + 1, size - 1);
        return 0;
    }
    for (++data, --size; size >= 4;) {
        uint8_t head[6], tail[4];
        uint16_t n = (uint16_t)(data[2] | (data[3] << 8));
        size_t have;
        uint32_t crc;
        unsigned long before = replies;
        head[0] = PB_SYNC0;
        head[1] = PB_SYNC1;
        memcpy(head + 2, data, 4);
        data += 4;
        size -= 4;
        have = n < size ? n : size;
        crc = pb_crc32_update(0, head + 2, 4);
        crc = pb_crc32_update(crc, data, have);
        tail[0] = (uint8_t)crc;
        tail[1] = (uint8_t)(crc >> 8);
        tail[2] = (uint8_t)(crc >> 16);
        tail[3] = (uint8_t)(crc >> 24);
        feed(&parser, head, sizeof head);
        if (clean && n > BUFFER_BYTES) { /* refused at its header; its payload is then noise */
            check_record(before, head[2], head[3]);
            clean = 0;
        }
        feed(&parser, data, have);
        if (have == n) {
            feed(&parser, tail, sizeof tail);
            if (clean) {
                check_record(before, head[2], head[3]);
            }
        }
        data += have;
        size -= have;
    }
    return 0;
}
