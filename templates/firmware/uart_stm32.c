/* STM32 U(S)ART, both register layouts: "v1" (F1/F2/F4: SR, DR, BRR, CR1) and "v2"
 * (F0/F3/F7/L4/G4: CR1, BRR, ISR, RDR, TDR). Clocks, pins and alternate functions come
 * from the board file, so one driver serves every STM32 board. */
#include "pb_board.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#if PB_UART_LAYOUT == 1
#define UART_STATUS REG32(PB_UART_BASE + 0x00u)
#define UART_RX REG32(PB_UART_BASE + 0x04u)
#define UART_TX REG32(PB_UART_BASE + 0x04u)
#define UART_BRR REG32(PB_UART_BASE + 0x08u)
#define UART_CR1 REG32(PB_UART_BASE + 0x0Cu)
#define CR1_ENABLE ((1u << 13) | (1u << 3) | (1u << 2)) /* UE, TE, RE */
#else
#define UART_CR1 REG32(PB_UART_BASE + 0x00u)
#define UART_BRR REG32(PB_UART_BASE + 0x0Cu)
#define UART_STATUS REG32(PB_UART_BASE + 0x1Cu)
#define UART_RX REG32(PB_UART_BASE + 0x24u)
#define UART_TX REG32(PB_UART_BASE + 0x28u)
#define CR1_ENABLE ((1u << 0) | (1u << 3) | (1u << 2)) /* UE, TE, RE */
#endif
#define STATUS_RXNE (1u << 5)
#define STATUS_TXE (1u << 7)

typedef struct {
    uint32_t address;
    uint32_t bits;
} pb_set_bits_t;

typedef struct {
    uint32_t gpio_base;
    uint32_t pin;
    uint32_t af;
} pb_pin_t;

static const pb_set_bits_t enables[] = PB_UART_ENABLES;
static const pb_pin_t pins[] = PB_UART_PINS;

void pb_uart_init(void)
{
    uint32_t i;
    for (i = 0; i < sizeof(enables) / sizeof(enables[0]); ++i) {
        REG32(enables[i].address) |= enables[i].bits;
        (void)REG32(enables[i].address); /* read back: the clock is on before first use */
    }
    for (i = 0; i < sizeof(pins) / sizeof(pins[0]); ++i) {
        const uint32_t pin = pins[i].pin;
        const uint32_t afr = pins[i].gpio_base + (pin < 8u ? 0x20u : 0x24u);
        REG32(pins[i].gpio_base) = (REG32(pins[i].gpio_base) & ~(3u << (2u * pin))) | (2u << (2u * pin));
        REG32(afr) = (REG32(afr) & ~(0xFu << (4u * (pin & 7u)))) | (pins[i].af << (4u * (pin & 7u)));
    }
    UART_BRR = PB_UART_BRR;
    UART_CR1 = CR1_ENABLE;
}

void pb_uart_putc(uint8_t byte)
{
    while (!(UART_STATUS & STATUS_TXE)) {
    }
    UART_TX = byte;
}

uint8_t pb_uart_getc(void)
{
    while (!(UART_STATUS & STATUS_RXNE)) {
    }
    return (uint8_t)UART_RX;
}
