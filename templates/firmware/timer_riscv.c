/* Cycle counting on RISC-V with the mcycle CSR. */
#include "pb_board.h"

static uint64_t start;

static uint64_t read_mcycle(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile("csrr %0, mcycleh" : "=r"(hi));
        __asm__ volatile("csrr %0, mcycle" : "=r"(lo));
        __asm__ volatile("csrr %0, mcycleh" : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

void pb_timer_init(void)
{
}

uint8_t pb_timer_kind(void)
{
    return PB_COUNT_MCYCLE;
}

void pb_timer_start(void)
{
    start = read_mcycle();
}

uint64_t pb_timer_elapsed(void)
{
    return read_mcycle() - start;
}

void pb_system_reset(void)
{
#ifdef PB_EXIT_BASE
    *(volatile uint32_t *)PB_EXIT_BASE = 0x5555u; /* test device: power off */
#endif
    for (;;) {
    }
}
