/* Nordic nRF51/nRF52 UART (legacy UART peripheral; pins from the board file). */
#include "pb_board.h"

#define REG(off) (*(volatile uint32_t *)(PB_UART_BASE + (off)))
#define TASKS_STARTRX REG(0x000u)
#define TASKS_STARTTX REG(0x008u)
#define EVENTS_RXDRDY REG(0x108u)
#define EVENTS_TXDRDY REG(0x11Cu)
#define ENABLE REG(0x500u)
#define PSELTXD REG(0x50Cu)
#define PSELRXD REG(0x514u)
#define RXD REG(0x518u)
#define TXD REG(0x51Cu)
#define BAUDRATE REG(0x524u)

void pb_uart_init(void)
{
    PSELTXD = PB_UART_TX_PIN;
    PSELRXD = PB_UART_RX_PIN;
    BAUDRATE = 0x01D7E000u; /* 115200 */
    ENABLE = 4u;
    EVENTS_TXDRDY = 0u;
    EVENTS_RXDRDY = 0u;
    TASKS_STARTTX = 1u;
    TASKS_STARTRX = 1u;
}

void pb_uart_putc(uint8_t byte)
{
    EVENTS_TXDRDY = 0u;
    TXD = byte;
    while (!EVENTS_TXDRDY) {
    }
}

uint8_t pb_uart_getc(void)
{
    while (!EVENTS_RXDRDY) {
    }
    EVENTS_RXDRDY = 0u;
    return (uint8_t)RXD;
}
