/* The few board services the firmware needs: a byte-wise UART and a cycle counter. */
#ifndef PB_BOARD_H
#define PB_BOARD_H

#include <stdint.h>

#include "pb_board_config.h"

/* What pb_timer_elapsed() counts. */
enum {
    PB_COUNT_NONE = 0,          /* no timer on this core */
    PB_COUNT_DWT_CYCLES = 1,    /* DWT CYCCNT: real core cycles */
    PB_COUNT_SYSTICK_CYCLES = 2,/* SysTick at the core clock (in QEMU: virtual time) */
    PB_COUNT_MCYCLE = 3         /* RISC-V mcycle CSR */
};

void pb_soc_init(void); /* clocks, resets and pins, on chips that need them (PB_HAS_SOC_INIT) */
void pb_uart_init(void);
void pb_uart_putc(uint8_t byte);
uint8_t pb_uart_getc(void); /* blocks until a byte arrives */

void pb_timer_init(void);
void pb_timer_start(void);
uint64_t pb_timer_elapsed(void); /* counts since pb_timer_start() */
uint8_t pb_timer_kind(void);

void pb_system_reset(void);

#endif
