/* RP2040 second-stage boot loader. The boot ROM copies the first 256 bytes of flash to
 * SRAM at 0x20041F00, checks the CRC-32 in their last 4 bytes, and jumps here. We set up
 * execute-in-place flash with the boot ROM's own routines (plain 03h serial reads: slow
 * but right for any flash chip), then start the application's vector table at 0x10000100.
 * protobrain links this at 0x20041F00 on its own, appends the CRC and places the 256
 * bytes at the start of flash. */
#include <stdint.h>

typedef void *(*rom_lookup_fn)(const uint16_t *table, uint32_t code);
typedef void (*rom_fn)(void);

#define ROM_CODE(a, b) ((uint32_t)(a) | ((uint32_t)(b) << 8))
#define APP_VECTORS 0x10000100u
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

void pb_boot2(void) __attribute__((noreturn, section(".text.boot2")));

static uintptr_t opaque(uintptr_t address)
{
    __asm__ volatile("" : "+r"(address)); /* a ROM address, not an object the compiler knows */
    return address;
}

void pb_boot2(void)
{
    const rom_lookup_fn lookup = (rom_lookup_fn)(uintptr_t)*(const uint16_t *)opaque(0x18u);
    const uint16_t *table = (const uint16_t *)(uintptr_t)*(const uint16_t *)opaque(0x14u);
    const uint32_t *vectors = (const uint32_t *)opaque(APP_VECTORS);
    ((rom_fn)lookup(table, ROM_CODE('I', 'F')))(); /* connect_internal_flash */
    ((rom_fn)lookup(table, ROM_CODE('E', 'X')))(); /* flash_exit_xip */
    ((rom_fn)lookup(table, ROM_CODE('F', 'C')))(); /* flash_flush_cache */
    ((rom_fn)lookup(table, ROM_CODE('C', 'X')))(); /* flash_enter_cmd_xip */
    SCB_VTOR = APP_VECTORS;
    __asm__ volatile("msr msp, %0\n\tbx %1" : : "r"(vectors[0]), "r"(vectors[1]));
    for (;;) {
    }
}
