/* libFuzzer harness for the firmware's serial protocol: the frame parser (pb_protocol.c) and
 * the real command dispatcher of a rendered firmware (main.c), compiled for the host.
 *
 * main.c is included here, so its static serve() -- the body of the firmware's receive loop --
 * is what every input byte goes through; its main() is renamed and never called (it paints
 * the stack and loops forever). The board services are host stubs: the UART's output goes
 * into a second parser that checks every reply is a well-formed frame with a valid CRC.
 *
 * Built and run by scripts/fuzz_protocol.py (`make fuzz`, and briefly by tests/test_fuzz_protocol.py).
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
static unsigned long replies;

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

static void feed(pb_parser_t *parser, const uint8_t *bytes, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        serve(parser, bytes[i]);
    }
}

/* Framed mode: the input is a list of records (type u8, seq u8, length u16 LE, payload),
 * each sent as a frame with a valid CRC -- so the fuzzer reaches the commands' argument
 * checks without having to solve CRC-32 -- and a record's length may claim more payload
 * than is left (truncated frame). Raw mode: the input bytes as they are. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_parser_t parser;
    pb_parser_init(&parser, buffer, BUFFER_BYTES);
    pb_parser_init(&reply_parser, reply_buffer, (uint16_t)sizeof reply_buffer);
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
        feed(&parser, data, have);
        if (have == n) {
            feed(&parser, tail, sizeof tail);
        }
        data += have;
        size -= have;
    }
    return 0;
}
