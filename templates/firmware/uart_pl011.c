/* Arm PrimeCell PL011 UART (RP2040, Stellaris, many others): 115200 8N1, FIFOs on. */
#include "pb_board.h"

#define UART_DR (*(volatile uint32_t *)(PB_UART_BASE + 0x00u))
#define UART_FR (*(volatile uint32_t *)(PB_UART_BASE + 0x18u))
#define UART_IBRD (*(volatile uint32_t *)(PB_UART_BASE + 0x24u))
#define UART_FBRD (*(volatile uint32_t *)(PB_UART_BASE + 0x28u))
#define UART_LCR_H (*(volatile uint32_t *)(PB_UART_BASE + 0x2Cu))
#define UART_CR (*(volatile uint32_t *)(PB_UART_BASE + 0x30u))

#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)

void pb_uart_init(void)
{
    /* divisor = clock / (16 * baud) in 16.6 fixed point, rounded */
    const uint32_t div64 = (uint32_t)(((uint64_t)PB_UART_CLOCK_HZ * 4u + 115200u / 2u) / 115200u);
    UART_CR = 0u;
    UART_IBRD = div64 >> 6;
    UART_FBRD = div64 & 0x3Fu;
    UART_LCR_H = (3u << 5) | (1u << 4); /* 8 data bits, FIFOs enabled; this write latches the divisor */
    UART_CR = (1u << 0) | (1u << 8) | (1u << 9); /* UART, TX and RX enable */
}

void pb_uart_putc(uint8_t byte)
{
    while (UART_FR & FR_TXFF) {
    }
    UART_DR = byte;
}

uint8_t pb_uart_getc(void)
{
    while (UART_FR & FR_RXFE) {
    }
    return (uint8_t)UART_DR;
}
