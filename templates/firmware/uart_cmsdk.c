/* Arm CMSDK APB UART (MPS2/MPS3 boards). */
#include "pb_board.h"

#define UART_DATA (*(volatile uint32_t *)(PB_UART_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(PB_UART_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(PB_UART_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(PB_UART_BASE + 0x10u))

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u

void pb_uart_init(void)
{
    /* A divider below 16 is invalid; 115200 baud from the core clock. */
    uint32_t div = PB_CLOCK_HZ / 115200u;
    UART_BAUDDIV = div < 16u ? 16u : div;
    UART_CTRL = 0x3u; /* TX and RX enable */
}

void pb_uart_putc(uint8_t byte)
{
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = byte;
}

uint8_t pb_uart_getc(void)
{
    while (!(UART_STATE & STATE_RX_FULL)) {
    }
    return (uint8_t)UART_DATA;
}
