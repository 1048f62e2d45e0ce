/* NS16550A-compatible UART (QEMU RISC-V virt). */
#include "pb_board.h"

#define REG(off) (*(volatile uint8_t *)(PB_UART_BASE + (off)))
#define RBR_THR REG(0u)
#define IER REG(1u)
#define FCR REG(2u)
#define LCR REG(3u)
#define LSR REG(5u)

#define LSR_DATA_READY 0x01u
#define LSR_THR_EMPTY 0x20u

void pb_uart_init(void)
{
    IER = 0x00u;
    LCR = 0x03u; /* 8N1 */
    FCR = 0x07u; /* FIFOs on and cleared */
}

void pb_uart_putc(uint8_t byte)
{
    while (!(LSR & LSR_THR_EMPTY)) {
    }
    RBR_THR = byte;
}

uint8_t pb_uart_getc(void)
{
    while (!(LSR & LSR_DATA_READY)) {
    }
    return RBR_THR;
}
